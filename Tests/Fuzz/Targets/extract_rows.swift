// libFuzzer target: extract rows through the built-in profiles, on the
// loader's own path without the database: the dictionaries (LookupTable), the
// headers (FilePlan), the first pass over patients (PatientRegistry), then
// each file streamed by FileStreamer (DelimitedReader, the profile's
// transforms, the row rules, CodeRules, DateFormat, DecimalText) into binary
// COPY (BinaryCopyBuffer) and the reject spool, as `recruit load` does.
//
// The input holds the extract's files, separated by lines `=====`: patients,
// events, prescriptions, then the medical and product dictionaries. Every input
// is loaded through both built-in profiles: `canonical` (the first three, as
// patients.csv, events.csv, prescriptions.csv) and `cprd-gold` (all five, as
// Patient.txt, Clinical.txt, Therapy.txt, medical.txt, product.txt), with
// extract date 2026-11-23 and no reject threshold. The COPY writers belong to
// a libpq connection that never opened: inputs are kept under 24 KiB so
// that the COPY data stays in the writers' 256 KiB buffers (nothing is ever
// sent), and is read back from there.
//
// Properties:
// - no crash, hang or out-of-bounds access (ASan);
// - DelimitedReader gives the same records (fields, lines, malformed flags,
//   raw bytes) read in small chunks (1 to 13 bytes for inputs under 512 bytes)
//   as in one chunk, in UTF-8 and when transcoding from Windows-1252 (the
//   refill at chunk boundaries);
// - a whole-file refusal (bad text, the pseudonymisation guard, a header the
//   profile cannot use) is a RecruitError naming the file;
// - every row read is exactly one of loaded, rejected or skipped: rows read =
//   loaded + rejected + skipped, in both passes over patients; one spooled
//   reject per rejected row, with a line of the file and a reason;
// - the COPY data is well-formed and holds exactly the loaded rows, each
//   within the format's rules: practice and patient ids, year and month of
//   birth, sex, dates (real days, registration end not before its start,
//   events from 1900, nothing after the extract date), codes of a known system
//   and shape (Read v2 checked by the code-list rules, SNOMED CT's check
//   digit by the code-list Verhoeff), decimals, durations, issue types;
// - no patient id is loaded twice; an event or prescription is loaded only for
//   a loaded patient, with that patient's practice, and the events' two
//   streams split at the median patient id.
import CLibPQ
import Foundation
@testable import Postgres
@testable import RecruitKit

let base: URL = {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return URL(fileURLWithPath: dir).appendingPathComponent("recruit-fuzz-rows-\(getpid())")
}()

let profiles: [ExtractProfile] = ["canonical", "cprd-gold"].map {
    guard let p = try? ExtractProfile.resolve($0) else { fatalError("no built-in profile \($0)") }
    return p
}

/// A libpq connection that never opened: COPY data written to it stays buffered (a flush would fail).
nonisolated(unsafe) let deadConnection: OpaquePointer = {
    guard let c = PQconnectdb("host=/nonexistent/recruit-fuzz connect_timeout=1"), PQstatus(c) == CONNECTION_BAD else {
        fatalError("expected a connection that fails to open")
    }
    return c
}()

let loadID = 7
let extractDay = DateFormat.dayNumber(year: 2026, month: 11, day: 23)!
let extractYear = DateFormat.year(ofDay: extractDay)
let day1900 = DateFormat.dayNumber(year: 1900, month: 1, day: 1)!
let separator = Array("=====\n".utf8)

/// The input's sections: split at lines `=====`.
func sections(_ bytes: [UInt8]) -> [[UInt8]] {
    var out: [[UInt8]] = []
    var start = 0
    var i = 0
    while i + separator.count <= bytes.count {
        if (i == 0 || bytes[i - 1] == 10) && bytes[i..<(i + separator.count)].elementsEqual(separator) {
            out.append(Array(bytes[start..<i]))
            i += separator.count
            start = i
        } else {
            i += 1
        }
    }
    out.append(Array(bytes[start...]))
    return out
}

// MARK: Reading back the COPY data

/// A value of a binary COPY row (nil: NULL).
typealias Row = [[UInt8]?]

func decodeCopy(_ data: [UInt8], fields: Int, file: String) -> [Row] {
    var i = 0
    func take(_ n: Int) -> ArraySlice<UInt8> {
        guard n >= 0, i + n <= data.count else { fatalError("\(file): the COPY data is truncated") }
        defer { i += n }
        return data[i..<(i + n)]
    }
    func int(_ n: Int) -> Int64 { take(n).reduce(Int64(0)) { $0 << 8 | Int64($1) } }
    guard Array(take(BinaryCopyBuffer.header.count)) == BinaryCopyBuffer.header else { fatalError("\(file): a COPY stream without its header") }
    var rows: [Row] = []
    while true {
        let count = Int16(truncatingIfNeeded: int(2))
        if count == -1 { break }
        guard count == fields else { fatalError("\(file): a COPY row of \(count) fields, expected \(fields)") }
        var row: Row = []
        for _ in 0..<fields {
            let length = Int32(truncatingIfNeeded: int(4))
            row.append(length == -1 ? nil : Array(take(Int(length))))
        }
        rows.append(row)
    }
    guard i == data.count else { fatalError("\(file): bytes after the COPY trailer") }
    return rows
}

func int32(_ v: [UInt8]?) -> Int32? {
    guard let v, v.count == 4 else { return nil }
    return Int32(bitPattern: v.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
}

func text(_ v: [UInt8]?) -> String { v.map { String(decoding: $0, as: UTF8.self) } ?? "NULL" }

func isAlnum(_ c: UInt8) -> Bool { (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) }
func isPracticeID(_ v: [UInt8]?) -> Bool { v.map { (1...16).contains($0.count) && $0.allSatisfy(isAlnum) } ?? false }
func isPatientID(_ v: [UInt8]?) -> Bool {
    v.map { (1...64).contains($0.count) && $0.allSatisfy { isAlnum($0) || $0 == 95 || $0 == 45 } } ?? false
}
func isDigits(_ v: [UInt8], _ range: ClosedRange<Int>) -> Bool { range.contains(v.count) && v.allSatisfy { (48...57).contains($0) } }

/// A well-formed `numeric`: 8 + 2 × ndigits bytes, base-10000 digits without leading or trailing zero groups.
func isNumeric(_ v: [UInt8]) -> Bool {
    guard v.count >= 8 else { return false }
    func h(_ k: Int) -> Int { Int(Int16(bitPattern: UInt16(v[2 * k]) << 8 | UInt16(v[2 * k + 1]))) }
    let n = h(0), sign = h(2), scale = h(3)
    guard n >= 0, v.count == 8 + 2 * n, sign == 0 || sign == 0x4000, (0...DecimalText.maxDigits).contains(scale) else { return false }
    let digits = (0..<n).map { h(4 + $0) }
    guard digits.allSatisfy({ (0...9999).contains($0) }) else { return false }
    return n == 0 ? sign == 0 : digits.first != 0 && digits.last != 0
}

func isDate(_ v: [UInt8]?) -> Bool {
    guard let d = int32(v) else { return false }
    return (1...9999).contains(LocalDate(dayNumber: Int(d) + 10_957).year)
}

/// Why a loaded patients row breaks the format, or nil.
func patientProblem(_ r: Row) -> String? {
    if !isPracticeID(r[1]) { return "practice_id" }
    if !isPatientID(r[2]) { return "patient_id" }
    guard let yob = int32(r[3]), (1880...Int32(extractYear)).contains(yob) else { return "year_of_birth" }
    if let m = r[4] { guard m.count == 2, (1...12).contains(Int(m[0]) << 8 | Int(m[1])) else { return "month_of_birth" } }
    guard let sex = r[5], sex.count == 1, Array("MFIU".utf8).contains(sex[0]) else { return "sex" }
    guard isDate(r[6]), let start = int32(r[6]), start <= extractDay else { return "registration_start" }
    if r[7] != nil { guard isDate(r[7]), let end = int32(r[7]), end >= start else { return "registration_end" } }
    if r[8] != nil { guard isDate(r[8]), let death = int32(r[8]), death <= extractDay else { return "death_date" } }
    return nil
}

/// Why a loaded events row breaks the format, or nil.
func eventProblem(_ r: Row) -> String? {
    if !isPracticeID(r[1]) { return "practice_id" }
    if !isPatientID(r[2]) { return "patient_id" }
    guard isDate(r[3]), let day = int32(r[3]), day >= day1900, day <= extractDay else { return "event_date" }
    guard let code = r[4], !code.isEmpty else { return "code" }
    switch text(r[6]) {
    case "read2":
        if CodeSystem.read2.problem(with: text(code)) != nil { return "read2 code" }
        if let term = r[5], !isDigits(term, 2...2) { return "read2 term id" }
    case "snomed":
        if !isDigits(code, 6...18) || !Verhoeff.isValid(text(code)) { return "snomed code" }
        if r[5] != nil { return "a term id for snomed" }
    case "ctv3":
        if code.count != 5 || !code.allSatisfy({ isAlnum($0) || $0 == 46 }) { return "ctv3 code" }
        if r[5] != nil { return "a term id for ctv3" }
    default: return "code_system"
    }
    if let v = r[7], !isNumeric(v) { return "value" }
    return nil
}

/// Why a loaded prescriptions row breaks the format, or nil.
func prescriptionProblem(_ r: Row) -> String? {
    if !isPracticeID(r[1]) { return "practice_id" }
    if !isPatientID(r[2]) { return "patient_id" }
    guard isDate(r[3]), let day = int32(r[3]), day <= extractDay else { return "issue_date" }
    guard let code = r[4], !code.isEmpty else { return "code" }
    switch text(r[5]) {
    case "dmd": if !isDigits(code, 6...18) { return "dmd code" }
    case "read2":
        if CodeSystem.read2.problem(with: text(code)) != nil || !(97...122).contains(code[0]) { return "read2 drug code" }
    case "bnf": if code.count != 15 || !code.allSatisfy(isAlnum) { return "bnf code" }
    default: return "code_system"
    }
    if let q = r[6], !isNumeric(q) { return "quantity" }
    if r[7] != nil { guard let d = int32(r[7]), (1...365).contains(d) else { return "duration_days" } }
    if let t = r[8], t != Array("acute".utf8), t != Array("repeat".utf8) { return "issue_type" }
    return nil
}

// MARK: The reader

struct Record: Equatable {
    var fields: [[UInt8]]
    var line: Int
    var malformed: String?
    var raw: [UInt8]
}

func records(_ url: URL, _ options: DelimitedReader.Options) -> [Record] {
    var out: [Record] = []
    do {
        let reader = try DelimitedReader(url: url, options: options)
        while try reader.next() {
            out.append(Record(fields: (0..<reader.fieldCount).map { Array(reader.field($0)) }, line: reader.lineNumber,
                              malformed: reader.malformed, raw: Array(reader.rawRecord)))
        }
    } catch {
        fatalError("reading \(url.lastPathComponent) threw: \(error)")
    }
    return out
}

/// DelimitedReader gives the same records whatever its chunk size (the refill at chunk boundaries).
func checkChunks(_ url: URL, _ options: DelimitedReader.Options, chunk: Int) {
    var whole = options, small = options
    whole.chunkSize = 1 << 16   // more than an input holds
    small.chunkSize = chunk
    let all = records(url, whole), chunked = records(url, small)
    if all != chunked {
        let at = Array(zip(all, chunked)).firstIndex { $0.0 != $0.1 } ?? min(all.count, chunked.count)
        fatalError("\(url.lastPathComponent) (\(options.encoding.rawValue)): records differ in \(chunk)-byte chunks: \(all.count) vs \(chunked.count) records; first difference at record \(at)")
    }
}

// MARK: The load

struct Refused: Error {}

/// A whole-file refusal must name the file.
func refusal(_ error: any Error, file: String) -> Refused {
    guard let e = error as? RecruitError else {
        if error is PostgresError { fatalError("harness: the COPY data outgrew the writer's buffer (\(error))") }
        fatalError("\(file): threw something else than a RecruitError: \(error)")
    }
    if !e.message.contains(file) { fatalError("a refusal does not name the file \(file): \(e.message)") }
    return Refused()
}

func checkCounts(_ s: FileStreamer.Stats, file: String) {
    if s.refusedEarly { fatalError("\(file): refused early without a threshold") }
    if s.rowsRead != s.loaded + s.rejected + s.skipped {
        fatalError("\(file): \(s.rowsRead) rows read but \(s.loaded) loaded + \(s.rejected) rejected + \(s.skipped) skipped")
    }
    if s.reasons.values.reduce(0, +) != s.rejected { fatalError("\(file): the reject reasons do not add up") }
    if s.reasons.keys.contains("") { fatalError("\(file): a reject without a reason") }
}

/// The spooled rejects: one per rejected row, in file order, with a line of the file and a counted reason.
func checkSpool(_ spool: RejectSpool, _ s: FileStreamer.Stats, file: String, lines: Int) throws {
    var data: [UInt8] = []
    try spool.read { data += $0 }
    let entries = data.split(separator: 10, omittingEmptySubsequences: false).dropLast()
    if entries.count != s.rejected || spool.count != s.rejected {
        fatalError("\(file): \(entries.count) rejects spooled for \(s.rejected) rejected rows")
    }
    var last = 0
    for entry in entries {
        let parts = entry.split(separator: 9, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard parts.count == 5, parts[0] == String(loadID), parts[1] == file, let line = Int(parts[2]) else {
            fatalError("\(file): a malformed spool line")
        }
        if line < 2 || line > lines || line < last { fatalError("\(file): a reject at line \(line) (after \(last); the file has \(lines))") }
        last = line
        if s.reasons[parts[4]] == nil { fatalError("\(file): a spooled reason that was not counted: \(parts[4])") }
    }
}

func load(_ profile: ExtractProfile, _ parts: [[UInt8]]) throws {
    let dir = base.appendingPathComponent(profile.name)
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    var lines: [CanonicalFile: Int] = [:]
    for (i, kind) in CanonicalFile.allCases.enumerated() {
        let bytes = i < parts.count ? parts[i] : []
        lines[kind] = bytes.reduce(1) { $0 + ($1 == 10 ? 1 : 0) }
        guard FileManager.default.createFile(atPath: dir.appendingPathComponent(profile.files[kind]!.file).path, contents: Data(bytes)) else {
            fatalError("cannot write the scratch file")
        }
    }
    // The reader on its own: in small chunks, as the profile reads the files and transcoding from Windows-1252.
    // (Chunks of 1 to 13 bytes for small inputs; about 256 reads of a file for large ones.)
    let total = parts.reduce(0) { $0 + $1.count }
    let chunk = max(1, total >> 8) + total % 13
    for kind in CanonicalFile.allCases {
        let url = dir.appendingPathComponent(profile.files[kind]!.file)
        checkChunks(url, profile.files[kind]!.format.readerOptions, chunk: chunk)
        if kind == .patients && profile.name == "canonical" {
            checkChunks(url, DelimitedReader.Options(encoding: .windows1252), chunk: chunk)
        }
    }
    var dictionaries: [String: LookupTable] = [:]
    for (i, (name, spec)) in profile.dictionaries.sorted(by: { $0.key < $1.key }).enumerated() {
        let bytes = 3 + i < parts.count ? parts[3 + i] : []
        guard FileManager.default.createFile(atPath: dir.appendingPathComponent(spec.file).path, contents: Data(bytes)) else {
            fatalError("cannot write the scratch file")
        }
        do {
            dictionaries[name] = try LookupTable(spec: spec, directory: dir, profile: profile)
        } catch {
            throw refusal(error, file: spec.file)
        }
    }
    // Every header before anything streams.
    for kind in CanonicalFile.allCases {
        let spec = profile.files[kind]!
        do {
            let reader = try DelimitedReader(url: dir.appendingPathComponent(spec.file), options: spec.format.readerOptions)
            _ = try FileStreamer.readHeader(reader, spec: spec, profile: profile, dictionaries: dictionaries)
        } catch {
            throw refusal(error, file: spec.file)
        }
    }
    let registry = PatientRegistry(expectedPatients: 1024)
    var split: [UInt8]? = nil
    func input(_ kind: CanonicalFile) -> FileStreamer.Input {
        FileStreamer.Input(kind: kind, url: dir.appendingPathComponent(profile.files[kind]!.file), spec: profile.files[kind]!,
                           profile: profile, dictionaries: dictionaries, registry: registry, loadID: loadID,
                           extractDay: extractDay, maxRejectRate: 1, spoolDirectory: dir,
                           splitKey: kind == .events ? split : nil)
    }
    let patientsFile = profile.files[.patients]!.file
    let first: FileStreamer.Stats
    do {
        first = try FileStreamer(input(.patients), control: LoadControl(), progress: nil).stream(registering: true, writers: [])
    } catch {
        throw refusal(error, file: patientsFile)
    }
    checkCounts(first, file: patientsFile)
    split = registry.medianPatientID()
    // The loader refuses an extract without a loadable patient here.
    guard !registry.loadablePractices().isEmpty else { return }

    var patients: [[UInt8]: [UInt8]] = [:]   // patient id → practice id
    for kind in CanonicalFile.allCases {
        let file = profile.files[kind]!.file
        let streamer = FileStreamer(input(kind), control: LoadControl(), progress: nil)
        let writers = (0..<streamer.streamCount).map { _ in CopyInWriter(conn: deadConnection, statement: "COPY fuzz") }
        let stats: FileStreamer.Stats
        do {
            stats = try streamer.stream(registering: false, writers: writers)
        } catch {
            throw refusal(error, file: file)
        }
        checkCounts(stats, file: file)
        try checkSpool(streamer.rejectSpool!, stats, file: file, lines: lines[kind]!)
        let streams = writers.map { w -> [Row] in
            guard let sent = Mirror(reflecting: w).children.first(where: { $0.label == "buffer" })?.value as? [UInt8] else {
                fatalError("harness: CopyInWriter has no buffer")
            }
            return decodeCopy(sent, fields: kind == .events ? 8 : 9, file: file)
        }
        let rows = streams.flatMap { $0 }
        if rows.count != stats.loaded { fatalError("\(file): \(rows.count) rows in the COPY data, \(stats.loaded) loaded") }
        for (n, row) in rows.enumerated() {
            if int32(row[0].map { Array($0.suffix(4)) }) != Int32(loadID) || row[0]?.count != 8 { fatalError("\(file) COPY row \(n + 1): load_id") }
            let problem: String?
            switch kind {
            case .patients: problem = patientProblem(row)
            case .events: problem = eventProblem(row)
            case .prescriptions: problem = prescriptionProblem(row)
            }
            if let problem { fatalError("\(file) COPY row \(n + 1): a loaded row breaks the rule for \(problem)") }
            let pid = row[2]!, practice = row[1]!
            if kind == .patients {
                if patients.updateValue(practice, forKey: pid) != nil { fatalError("\(file): a patient id loaded twice") }
            } else if patients[pid] != practice {
                fatalError("\(file) COPY row \(n + 1): a row of a patient not loaded, or with another practice")
            }
        }
        if kind == .patients {
            if stats.rowsRead != first.rowsRead || stats.skipped != first.skipped || stats.rejected < first.rejected
                || stats.loaded + (stats.rejected - first.rejected) != first.loaded {
                fatalError("\(file): the two passes disagree (\(first.loaded)/\(first.rejected)/\(first.skipped) then \(stats.loaded)/\(stats.rejected)/\(stats.skipped))")
            }
        }
        if kind == .events, let split, streams.count == 2 {
            for row in streams[0] where !row[2]!.lexicographicallyPrecedes(split) { fatalError("events: a row on the wrong side of the split") }
            for row in streams[1] where row[2]!.lexicographicallyPrecedes(split) { fatalError("events: a row on the wrong side of the split") }
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExtractRows(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size <= 24 << 10 else { return 0 }
    let parts = sections(Array(UnsafeBufferPointer(start: data, count: size)))
    for profile in profiles {
        do {
            try load(profile, parts)
        } catch is Refused {
            continue
        } catch {
            fatalError("\(profile.name): \(error)")
        }
    }
    return 0
}
