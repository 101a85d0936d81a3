import Foundation
import Postgres

/// Streams one canonical file through its profile: reads, checks, converts
/// each row to binary COPY and sends it, spooling rejects. One per file, on one thread.
final class FileStreamer {
    struct Input: Sendable {
        let kind: CanonicalFile
        let url: URL
        let spec: ExtractProfile.FileSpec
        let profile: ExtractProfile
        let dictionaries: [String: LookupTable]
        let registry: PatientRegistry
        let loadID: Int
        /// The extract date as days since 2000-01-01.
        let extractDay: Int32
        let maxRejectRate: Double
        let spoolDirectory: URL
        /// Events only: rows of patients before this id (byte order) go to the
        /// first stream, the others to the second (two COPY streams, two tables).
        var splitKey: [UInt8]? = nil
    }

    /// What streaming a file found.
    struct Stats: Sendable {
        var kind: CanonicalFile
        var fileName: String
        var fileSize = 0
        var sha256 = ""
        var rowsRead = 0
        var loaded = 0
        var rejected = 0
        var skipped = 0
        var reasons: [String: Int] = [:]
        var samples: [LoadSummary.RejectSample] = []
        var perPractice: [Int] = []
        /// Rejected rows per practice index, where the row names a practice
        /// (its own practice_id, or a known patient's); others are not counted here.
        var rejectsPerPractice: [Int] = []
        /// The newest loaded event's date (days since 2000-01-01) per practice
        /// index, `Int32.min` where the practice has none (events only).
        var newestDay: [Int32] = []
        var seconds = 0.0
        var unknownColumns: [String] = []
        /// The rejects alone already exceed the threshold, whatever the rest of the file holds.
        var refusedEarly = false

        func exceeds(_ rate: Double) -> Bool { refusedEarly || Double(rejected) > rate * Double(rowsRead) }
    }

    struct Cancelled: Error {}

    private let input: Input
    private let control: LoadControl
    private let progress: (any LoadProgress)?
    /// One COPY buffer per output stream; `out` is the current row's.
    private let outs: [BinaryCopyBuffer]
    private var out: BinaryCopyBuffer
    private var outIndex = 0
    /// The practice the current row belongs to, once known (for per-practice reject counts).
    private var rowPractice: Int?
    private var plan: FilePlan!
    private var reader: DelimitedReader!
    private var stats: Stats
    private var spool: RejectSpool?
    private let practiceIDs: [[UInt8]]
    private let loadIDField: [UInt8]
    private let extractYear: Int
    private static let day1900: Int32 = DateFormat.dayNumber(year: 1900, month: 1, day: 1)!

    init(_ input: Input, control: LoadControl, progress: (any LoadProgress)?) {
        self.input = input
        self.control = control
        self.progress = progress
        stats = Stats(kind: input.kind, fileName: input.spec.file)
        outs = (0..<(input.splitKey == nil ? 1 : 2)).map { _ in BinaryCopyBuffer(capacity: 1 << 21) }
        out = outs[0]
        practiceIDs = input.registry.practiceIDs
        var field: [UInt8] = [0, 0, 0, 8]
        withUnsafeBytes(of: UInt64(input.loadID).bigEndian) { field.append(contentsOf: $0) }
        loadIDField = field
        extractYear = DateFormat.year(ofDay: input.extractDay)
    }

    /// The number of COPY streams this file needs (2 for split events).
    var streamCount: Int { outs.count }

    /// The spool holding this file's rejects (after ``stream(registering:writers:)``).
    var rejectSpool: RejectSpool? { spool }

    /// Reads the header and compiles the plan (also used to check headers before anything is loaded).
    static func readHeader(_ reader: DelimitedReader, spec: ExtractProfile.FileSpec, profile: ExtractProfile,
                           dictionaries: [String: LookupTable]) throws -> FilePlan {
        guard try reader.next() else {
            throw RecruitError.refused("\(reader.name): the file is empty (expected a header row)")
        }
        try ExtractFiles.checkText(reader.rawRecord, encoding: spec.format.encoding, file: reader.name, line: reader.lineNumber)
        let header = (0..<reader.fieldCount).map { reader.string($0) }
        return try FilePlan(spec: spec, header: header, fileName: reader.name, profile: profile, dictionaries: dictionaries)
    }

    /// Streams the file.
    ///
    /// - Parameters:
    ///   - registering: the first pass over patients: fill the registry, send nothing.
    ///   - writers: the COPY streams, ``streamCount`` of them (none when registering).
    /// - Throws: ``RecruitError`` (refused) for whole-file problems (bad
    ///   text, an identifier found by the guard); ``Cancelled`` when another
    ///   file refused the load.
    func stream(registering: Bool, writers: [CopyInWriter]) throws -> Stats {
        precondition(registering ? writers.isEmpty : writers.count == outs.count)
        let started = Date()
        reader = try DelimitedReader(url: input.url, options: input.spec.format.readerOptions)
        stats.fileName = reader.name
        stats.fileSize = reader.fileSize
        plan = try Self.readHeader(reader, spec: input.spec, profile: input.profile, dictionaries: input.dictionaries)
        stats.unknownColumns = plan.unknownColumns
        stats.perPractice = [Int](repeating: 0, count: practiceIDs.count)
        if !registering {
            spool = try RejectSpool(directory: input.spoolDirectory, loadID: input.loadID, file: reader.name)
            for o in outs { o.rawAppend(BinaryCopyBuffer.header.withUnsafeBytes { $0 }) }
        }
        progress?.started(file: reader.name, kind: input.kind.rawValue, bytes: reader.fileSize)
        let columnCount = plan.columnCount
        let rate = input.maxRejectRate
        while try reader.next() {
            stats.rowsRead += 1
            rowPractice = nil
            if stats.rowsRead & 0xFFFF == 0 {
                if control.isCancelled { throw Cancelled() }
                progress?.advanced(file: reader.name, bytesRead: reader.bytesRead, rows: stats.rowsRead)
                // Refuse as soon as the rejects alone exceed the threshold even if every remaining row were valid.
                let remainingRows = (reader.fileSize - reader.bytesRead + (4 << 20)) / plan.minRowBytes
                if Double(stats.rejected) > rate * Double(stats.rowsRead + remainingRows) {
                    stats.refusedEarly = true
                    break
                }
            }
            let raw = reader.rawRecord
            let scan = TextEncoding.scan(raw)
            if scan.nonASCII {
                try ExtractFiles.checkText(raw, encoding: input.spec.format.encoding, file: reader.name, line: reader.lineNumber)
            }
            if reader.fieldCount != columnCount || reader.malformed != nil {
                let reason = reader.malformed ?? "\(reader.fieldCount) fields where the header has \(columnCount)"
                try reject(reason, maskRaw: true, registering: registering)
                continue
            }
            try guardRow()
            if scan.hasNUL {
                try reject("a NUL byte in the row", maskRaw: false, registering: registering)
                continue
            }
            if isSkipped() {
                stats.skipped += 1
                if registering, input.kind == .patients, let pid = validPatientID() {
                    input.registry.register(pid, practice: nil, state: PatientRegistry.skipped)
                }
                continue
            }
            // Every rule is checked before a row's first byte is written: a rejected row writes nothing.
            let outcome: Outcome
            switch input.kind {
            case .patients: outcome = convertPatient(registering: registering)
            case .events: outcome = convertEvent()
            case .prescriptions: outcome = convertPrescription()
            }
            switch outcome {
            case .loaded(let practice):
                stats.loaded += 1
                if practice >= stats.perPractice.count {
                    stats.perPractice += [Int](repeating: 0, count: practice + 1 - stats.perPractice.count)
                }
                stats.perPractice[practice] += 1
            case .rejected(let reason):
                try reject(reason, maskRaw: false, registering: registering)
            case .skipped:
                stats.skipped += 1
            }
            if !registering && out.count >= 1 << 20 {
                try writers[outIndex].write(out.bytes)
                out.reset()
            }
        }
        if !registering && !stats.refusedEarly {
            for (o, writer) in zip(outs, writers) {
                o.rawAppend(BinaryCopyBuffer.trailer.withUnsafeBytes { $0 })
                try writer.write(o.bytes)
                o.reset()
            }
        }
        try spool?.flush()
        stats.sha256 = reader.sha256
        stats.seconds = Date().timeIntervalSince(started)
        progress?.advanced(file: reader.name, bytesRead: reader.bytesRead, rows: stats.rowsRead)
        return stats
    }

    enum Outcome {
        case loaded(practice: Int)
        case rejected(String)
        case skipped
    }

    private func reject(_ reason: String, maskRaw: Bool, registering: Bool) throws {
        stats.rejected += 1
        if let p = rowPractice {
            if p >= stats.rejectsPerPractice.count {
                stats.rejectsPerPractice += [Int](repeating: 0, count: p + 1 - stats.rejectsPerPractice.count)
            }
            stats.rejectsPerPractice[p] += 1
        }
        stats.reasons[reason, default: 0] += 1
        if stats.samples.count < 5 { stats.samples.append(.init(line: reader.lineNumber, reason: reason)) }
        guard !registering, let spool else { return }
        if maskRaw {
            let masked = IdentifierGuard.maskLine(reader.rawRecord)
            try masked.withUnsafeBytes { try spool.add(line: reader.lineNumber, raw: $0, reason: reason) }
        } else {
            try spool.add(line: reader.lineNumber, raw: reader.rawRecord, reason: reason)
        }
    }

    /// The pseudonymisation guard over the row's free-text and unknown columns.
    @inline(__always)
    private func guardRow() throws {
        for g in plan.guarded {
            let v = reader.field(g.index)
            if v.count < 5 { continue }
            if g.onlyIfNotNumeric && FieldParsing.isNumericLike(v) { continue }
            if let finding = IdentifierGuard.check(v) {
                throw RecruitError.refused("\(reader.name) line \(reader.lineNumber), column '\(g.name)': the value \(IdentifierGuard.mask(v)) looks like \(finding.rawValue). Only pseudonymised data may be loaded: the load is refused and nothing was changed")
            }
        }
    }

    private func isSkipped() -> Bool {
        for rule in plan.skipRules {
            let v = reader.field(rule.index)
            for s in rule.values where s.count == v.count && (v.count == 0 || s.withUnsafeBytes { memcmp($0.baseAddress!, v.baseAddress!, v.count) == 0 }) {
                return true
            }
        }
        return false
    }

    private func validPatientID() -> UnsafeRawBufferPointer? {
        guard case .value(let v) = plan.fields[0].resolve(reader), Self.isPatientID(v) else { return nil }
        return v
    }

    // MARK: Field rules

    /// Byte order, as PostgreSQL's "C" collation compares text: memcmp, then the shorter first.
    @inline(__always)
    static func precedes(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Bool {
        b.withUnsafeBytes { b in
            let n = min(a.count, b.count)
            let c = n == 0 ? 0 : memcmp(a.baseAddress!, b.baseAddress!, n)
            return c < 0 || (c == 0 && a.count < b.count)
        }
    }

    @inline(__always)
    static func isPatientID(_ v: UnsafeRawBufferPointer) -> Bool {
        guard v.count >= 1 && v.count <= 64 else { return false }
        for c in v where !((c &- 48 <= 9) || ((c | 0x20) &- 97 <= 25) || c == 95 || c == 45) { return false }
        return true
    }

    @inline(__always)
    static func isPracticeID(_ v: UnsafeRawBufferPointer) -> Bool {
        guard v.count >= 1 && v.count <= 16 else { return false }
        for c in v where !((c &- 48 <= 9) || ((c | 0x20) &- 97 <= 25)) { return false }
        return true
    }

    /// A field's value, or the reason the row is rejected.
    @inline(__always)
    private func value(_ f: CompiledField) -> Result<UnsafeRawBufferPointer, RowReject> {
        switch f.resolve(reader) {
        case .value(let v): return .success(v)
        case .unknownKey: return .failure(RowReject(f.unknownReason))
        case .notInteger: return .failure(RowReject("invalid \(f.column.name)"))
        }
    }

    struct RowReject: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// A date field: nil when empty; a reject when not a date in the column's formats.
    @inline(__always)
    private func date(_ f: CompiledField, _ v: UnsafeRawBufferPointer) throws(RowReject) -> Int32? {
        if v.count == 0 { return nil }
        for format in f.dateFormats {
            if let d = format.parse(v) { return d }
        }
        throw RowReject("invalid \(f.column.name)")
    }

    @inline(__always)
    private func get(_ f: CompiledField) throws(RowReject) -> UnsafeRawBufferPointer {
        switch value(f) {
        case .success(let v): return v
        case .failure(let e): throw e
        }
    }

    // MARK: patients

    private func convertPatient(registering: Bool) -> Outcome {
        let f = plan.fields
        let pid: UnsafeRawBufferPointer
        switch value(f[0]) {
        case .success(let v): pid = v
        case .failure(let e): return .rejected(e.reason)
        }
        if pid.count == 0 { return .rejected("missing patient_id") }
        if !Self.isPatientID(pid) { return .rejected("invalid patient_id") }
        var practice: Int? = nil
        do throws(RowReject) {
            let prac = try get(f[1])
            if prac.count == 0 { throw RowReject("missing practice_id") }
            if !Self.isPracticeID(prac) { throw RowReject("invalid practice_id") }
            if registering {
                practice = try? input.registry.practiceIndex(prac)
                if practice == nil { throw RowReject("too many practices") }
            } else {
                guard let p = input.registry.practices.lookup(prac) else { throw RowReject("invalid practice_id") }
                practice = Int(p)
            }
            rowPractice = practice
            let yobText = try get(f[2])
            if yobText.count == 0 { throw RowReject("missing year_of_birth") }
            guard let yob = FieldParsing.integer(yobText) else { throw RowReject("invalid year_of_birth") }
            guard yob >= 1880 && yob <= extractYear else { throw RowReject("year_of_birth out of range") }
            let mobText = try get(f[3])
            var mob: Int? = nil
            if mobText.count > 0 {
                guard let m = FieldParsing.integer(mobText), m >= 1 && m <= 12 else { throw RowReject("invalid month_of_birth") }
                mob = m
            }
            let sexText = try get(f[4])
            if sexText.count == 0 { throw RowReject("missing sex") }
            guard sexText.count == 1, [UInt8(ascii: "M"), UInt8(ascii: "F"), UInt8(ascii: "I"), UInt8(ascii: "U")].contains(sexText[0]) else {
                throw RowReject("invalid sex")
            }
            guard let start = try date(f[5], get(f[5])) else { throw RowReject("missing registration_start") }
            if start > input.extractDay { throw RowReject("registration_start after extract_date") }
            let end = try date(f[6], get(f[6]))
            if let end, end < start { throw RowReject("registration_end before registration_start") }
            let death = try date(f[7], get(f[7]))
            if let death, death > input.extractDay { throw RowReject("death_date after extract_date") }
            if registering {
                input.registry.register(pid, practice: practice, state: 0)
                return .loaded(practice: practice!)
            }
            if let state = input.registry.patients.lookup(pid), state & PatientRegistry.duplicate != 0 {
                throw RowReject("duplicate patient_id")
            }
            out.beginRow(fields: 9)
            out.rawAppend(loadIDField.withUnsafeBytes { $0 })
            out.bytes(practiceIDs[practice!])
            out.bytes(pid)
            out.int4Field(Int32(yob))
            if let mob { out.int2Field(Int16(mob)) } else { out.null() }
            out.charField(sexText[0])
            out.dateField(start)
            if let end { out.dateField(end) } else { out.null() }
            if let death { out.dateField(death) } else { out.null() }
            return .loaded(practice: practice!)
        } catch {
            if registering { input.registry.register(pid, practice: practice, state: PatientRegistry.rejected) }
            return .rejected(error.reason)
        }
    }

    // MARK: events and prescriptions

    /// An events or prescriptions row's patient, looked up in the registry.
    private enum PatientOfRow {
        case found(UnsafeRawBufferPointer, practice: Int)
        /// The row is rejected (no, unknown or rejected patient) or skipped with its patient.
        case not(Outcome)
    }

    /// Reads the row's patient_id and finds the patient's practice, noting it
    /// for the per-practice reject count.
    @inline(__always)
    private func patientOfRow(_ field: CompiledField) -> PatientOfRow {
        let pidValue: UnsafeRawBufferPointer
        switch value(field) {
        case .success(let v): pidValue = v
        case .failure(let e): return .not(.rejected(e.reason))
        }
        if pidValue.count == 0 { return .not(.rejected("missing patient_id")) }
        guard pidValue.count <= 255, let state = input.registry.patients.lookup(pidValue) else { return .not(.rejected("unknown patient")) }
        if state & PatientRegistry.skipped != 0 && state & (PatientRegistry.rejected | PatientRegistry.duplicate) == 0 { return .not(.skipped) }
        let practice = Int(state & PatientRegistry.practiceMask)
        if state & PatientRegistry.practiceMask != PatientRegistry.noPractice { rowPractice = practice }
        if state & (PatientRegistry.rejected | PatientRegistry.duplicate) != 0 { return .not(.rejected("patient rejected")) }
        return .found(pidValue, practice: practice)
    }

    private func convertEvent() -> Outcome {
        let f = plan.fields
        let pidValue: UnsafeRawBufferPointer, practice: Int
        switch patientOfRow(f[0]) {
        case .found(let p, let i): (pidValue, practice) = (p, i)
        case .not(let outcome): return outcome
        }
        do throws(RowReject) {
            guard let day = try date(f[1], get(f[1])) else { throw RowReject("missing event_date") }
            if day < Self.day1900 { throw RowReject("event_date before 1900-01-01") }
            if day > input.extractDay { throw RowReject("event_date after extract_date") }
            let system = try get(f[3])
            let code = try get(f[2])
            if code.count == 0 { throw RowReject("missing code") }
            var codeLength = code.count
            var term = false
            if FieldParsing.equals(system, "read2") {
                guard CodeRules.read2(code) else { throw RowReject("invalid read2 code") }
                if code.count == 7 { codeLength = 5; term = true }
            } else if FieldParsing.equals(system, "snomed") {
                guard CodeRules.snomed(code) else { throw RowReject("invalid snomed code") }
            } else if FieldParsing.equals(system, "ctv3") {
                guard CodeRules.ctv3(code) else { throw RowReject("invalid ctv3 code") }
            } else {
                throw RowReject(system.count == 0 ? "missing code_system" : "invalid code_system")
            }
            let decimal = try optionalDecimal(f[4], "invalid value")
            if let split = input.splitKey {
                outIndex = Self.precedes(pidValue, split) ? 0 : 1
                out = outs[outIndex]
            }
            beginRecordRow(fields: 8, practice: practice, patient: pidValue, day: day)
            out.bytes(UnsafeRawBufferPointer(rebasing: code[0..<codeLength]))
            if term { out.bytes(UnsafeRawBufferPointer(rebasing: code[5..<7])) } else { out.null() }
            out.bytes(system)
            if let decimal { out.numeric(decimal) } else { out.null() }
            if practice >= stats.newestDay.count {
                stats.newestDay += [Int32](repeating: .min, count: practice + 1 - stats.newestDay.count)
            }
            if day > stats.newestDay[practice] { stats.newestDay[practice] = day }
            return .loaded(practice: practice)
        } catch {
            return .rejected(error.reason)
        }
    }

    /// A decimal field that may be empty (nil), else must parse.
    @inline(__always)
    private func optionalDecimal(_ field: CompiledField, _ reason: String) throws(RowReject) -> DecimalText? {
        let text = try get(field)
        guard text.count > 0 else { return nil }
        guard let d = DecimalText(text) else { throw RowReject(reason) }
        return d
    }

    /// The first four fields of an event or prescription row: the load, the
    /// practice, the patient and the record's date.
    @inline(__always)
    private func beginRecordRow(fields: Int16, practice: Int, patient: UnsafeRawBufferPointer, day: Int32) {
        out.beginRow(fields: fields)
        out.rawAppend(loadIDField.withUnsafeBytes { $0 })
        out.bytes(practiceIDs[practice])
        out.bytes(patient)
        out.dateField(day)
    }

    private func convertPrescription() -> Outcome {
        let f = plan.fields
        let pidValue: UnsafeRawBufferPointer, practice: Int
        switch patientOfRow(f[0]) {
        case .found(let p, let i): (pidValue, practice) = (p, i)
        case .not(let outcome): return outcome
        }
        do throws(RowReject) {
            guard let day = try date(f[1], get(f[1])) else { throw RowReject("missing issue_date") }
            if day > input.extractDay { throw RowReject("issue_date after extract_date") }
            let system = try get(f[3])
            let code = try get(f[2])
            if code.count == 0 { throw RowReject("missing code") }
            var codeLength = code.count
            if FieldParsing.equals(system, "dmd") {
                guard CodeRules.dmd(code) else { throw RowReject("invalid dmd code") }
            } else if FieldParsing.equals(system, "read2") {
                guard CodeRules.read2(code, drug: true) else { throw RowReject("invalid read2 code") }
                codeLength = 5
            } else if FieldParsing.equals(system, "bnf") {
                guard CodeRules.bnf(code) else { throw RowReject("invalid bnf code") }
            } else {
                throw RowReject(system.count == 0 ? "missing code_system" : "invalid code_system")
            }
            let quantity = try optionalDecimal(f[4], "invalid quantity")
            let durationText = try get(f[5])
            var duration: Int? = nil
            if durationText.count > 0 {
                guard let d = FieldParsing.integer(durationText), d >= 1 && d <= 365 else { throw RowReject("invalid duration_days") }
                duration = d
            }
            let issueType = try get(f[6])
            if issueType.count > 0 && !FieldParsing.equals(issueType, "acute") && !FieldParsing.equals(issueType, "repeat") {
                throw RowReject("invalid issue_type")
            }
            beginRecordRow(fields: 9, practice: practice, patient: pidValue, day: day)
            out.bytes(UnsafeRawBufferPointer(rebasing: code[0..<codeLength]))
            out.bytes(system)
            if let quantity { out.numeric(quantity) } else { out.null() }
            if let duration { out.int4Field(Int32(duration)) } else { out.null() }
            if issueType.count > 0 { out.bytes(issueType) } else { out.null() }
            return .loaded(practice: practice)
        } catch {
            return .rejected(error.reason)
        }
    }
}
