// libFuzzer target: extract profiles (ExtractProfile.parse(yaml:origin:), the
// YAML `recruit load --profile FILE` reads), and what the loader then makes of
// a profile that parses: each file's plan (FilePlan, compiled against a
// header) and the column transforms and date formats (CompiledField).
//
// Properties:
// - no crash, hang or out-of-bounds access, whatever the YAML;
// - a profile is refused only with a RecruitError (refused) that names the
//   profile, and a line it names is a line of the input (or the
//   end of the input, which libyaml puts on a line of its own);
// - parsing the same text twice gives the same profile;
// - a profile that parses is complete: the three files, every required
//   column mapped, every lookup naming a dictionary, quote and delimiter
//   distinct;
// - each of its files compiles against a header of the source columns it
//   names (or is refused with a RecruitError naming the file), and its
//   transforms (map, add, right, pad, prefix) and date formats apply to rows
//   of sample values without a crash: each value comes out as docs/profiles.md
//   says (checked against an independent implementation), and a parsed date
//   is a real day.
import Foundation
import Postgres
@testable import RecruitKit

let directory: URL = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let url = URL(fileURLWithPath: base).appendingPathComponent("recruit-fuzz-profile-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}()

/// The last line libyaml can name: it counts LF, CR, CRLF, NEL, LS and PS as
/// line ends, and puts the end of the stream on a line of its own when the
/// text does not end with a line end.
func lastLine(_ text: String) -> Int {
    var n = 1
    var previousCR = false
    var atLineStart = true
    for s in text.unicodeScalars {
        switch s {
        case "\n": if !previousCR { n += 1 }; atLineStart = true
        case "\r", "\u{85}", "\u{2028}", "\u{2029}": n += 1; atLineStart = true
        default: atLineStart = false
        }
        previousCR = s == "\r"
    }
    return atLineStart ? n : n + 1
}

/// Everything a profile holds, as text, for comparing two parses.
func dump(_ p: ExtractProfile) -> String {
    func format(_ f: ExtractProfile.Format) -> String {
        "\(f.encoding.rawValue) \(f.delimiter) \(f.quote.map(String.init) ?? "none") \(f.dateFormats.map(\.pattern))"
    }
    var out = "\(p.name)|\(p.sha256)|\(p.origin)\n"
    for (name, d) in p.dictionaries.sorted(by: { $0.key < $1.key }) {
        out += "dict \(name) \(d.name) \(d.file) \(d.key) \(d.value) \(format(d.format)) \(d.line)\n"
    }
    for (kind, f) in p.files.sorted(by: { $0.key < $1.key }) {
        out += "file \(kind.rawValue) \(f.file) \(format(f.format)) \(f.line)\n"
        for (name, c) in f.columns.sorted(by: { $0.key < $1.key }) {
            out += "  \(name) \(c.source) \(c.optional) \(c.map.sorted { $0.key < $1.key }) \(c.lookup ?? "-") "
                + "\(c.add.map(String.init) ?? "-") \(c.right.map(String.init) ?? "-") \(c.pad.map(String.init) ?? "-") "
                + "\(c.prefix ?? "-") \(c.dateFormats.map { $0.map(\.pattern) } ?? []) \(c.line)\n"
        }
        out += "  ignore \(f.ignore.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.rawValue)" })\n"
        out += "  skip \(f.skipWhen.map { "\($0.column)=\($0.values)@\($0.line)" })\n"
    }
    return out
}

/// Sample values for the rows: numbers, dates in the usual formats, a code, a long value.
let pool: [String] = ["", "0", "1", "7", "42", "-7", "+3", "1042", "123456789012345678", "999999999999999999",
                      "2024-02-29", "2023-02-29", "29/02/2024", "1/2/2024", "05-Mar-1999", "05-MARCH-1999", "20240229",
                      "N245.00", "M", "acute", String(repeating: "x", count: 600)]

/// What docs/profiles.md says a mapping makes of a value: `map`, then `add`,
/// `right`, `pad`, `prefix` (no lookup: no dictionary is loaded here); nil when
/// `add` meets a value that is not a whole number. Bytes, not characters.
/// (CompiledField leaves a step undone whose result would pass 512 bytes: such
/// results are not compared.)
func transformed(_ source: [UInt8], _ c: ExtractProfile.ColumnSpec) -> [UInt8]? {
    var v = source
    if !v.isEmpty {
        if let to = c.map.first(where: { $0.key != "*" && Array($0.key.utf8) == v })?.value {
            v = Array(to.utf8)
        } else if let to = c.map["*"] {
            v = Array(to.utf8)
        }
    }
    if let add = c.add, !v.isEmpty {
        var digits = v[...]
        var negative = false
        if let sign = digits.first, sign == 45 || sign == 43 { negative = sign == 45; digits = digits.dropFirst() }
        guard (1...18).contains(digits.count), digits.allSatisfy({ (48...57).contains($0) }) else { return nil }
        let n = digits.reduce(0) { $0 * 10 + Int($1 - 48) }
        let (sum, overflow) = (negative ? -n : n).addingReportingOverflow(add)
        if overflow { fatalError("add: \(add) overflows for a value of \(digits.count) digits") }
        v = Array(String(sum).utf8)
    }
    if let right = c.right, v.count > right { v = Array(v.suffix(max(right, 0))) }
    if let pad = c.pad, !v.isEmpty, v.count < pad { v = [UInt8](repeating: 48, count: min(pad, 1 << 20) - v.count) + v }
    if let prefix = c.prefix, !prefix.isEmpty, !v.isEmpty { v = Array(prefix.utf8) + v }
    return v
}

/// One field as the format writes it; nil when the format cannot hold it (no quoting).
func field(_ value: String, _ format: ExtractProfile.Format) -> [UInt8]? {
    let bytes = Array(value.utf8)
    guard let q = format.quote else {
        return bytes.contains(where: { $0 == format.delimiter || $0 == 10 || $0 == 13 }) ? nil : bytes
    }
    var out: [UInt8] = [q]
    for b in bytes {
        out.append(b)
        if b == q { out.append(q) }
    }
    out.append(q)
    return out
}

func checkFile(_ profile: ExtractProfile, _ kind: CanonicalFile) {
    let spec = profile.files[kind]!
    var header: [String] = []
    func add(_ name: String) {
        if !header.contains(where: { $0.lowercased() == name.lowercased() }) { header.append(name) }
    }
    var samples = pool
    for column in kind.columns {
        guard let c = spec.columns[column.name] else { continue }
        if case .column(let name) = c.source { add(name) }
        samples += c.map.keys.sorted()
    }
    for rule in spec.skipWhen { add(rule.column) }
    for name in spec.ignore.keys.sorted() { add(name) }
    guard !header.isEmpty else { return }
    var text: [UInt8] = []
    func row(_ values: [String]) -> Bool {
        var line: [UInt8] = []
        for (i, v) in values.enumerated() {
            guard let f = field(v, spec.format) else { return false }
            if i > 0 { line.append(spec.format.delimiter) }
            line += f
        }
        text += line + [10]
        return true
    }
    guard row(header) else { return }
    for r in 0..<samples.count {
        _ = row(header.indices.map { samples[(r + $0 * 7) % samples.count] })
    }
    let url = directory.appendingPathComponent("\(kind.rawValue).txt")
    guard FileManager.default.createFile(atPath: url.path, contents: Data(text)) else { fatalError("cannot write the scratch file") }
    do {
        let reader = try DelimitedReader(url: url, options: spec.format.readerOptions)
        let plan = try FileStreamer.readHeader(reader, spec: spec, profile: profile, dictionaries: [:])
        precondition(plan.fields.count == kind.columns.count, "the plan lacks a column")
        while try reader.next() {
            guard reader.fieldCount == plan.columnCount, reader.malformed == nil else { continue }
            for f in plan.fields {
                let resolved = f.resolve(reader)
                if let c = spec.columns[f.column.name] {
                    let source: [UInt8]
                    switch c.source {
                    case .column: source = f.index >= 0 ? Array(reader.field(f.index)) : []
                    case .constant(let text): source = Array(text.utf8)
                    }
                    let want = transformed(source, c)
                    switch (resolved, want) {
                    case (.value(let v), .some(let w)) where w.count > 512 || Array(v) == w: break
                    case (.notInteger, nil): break
                    default: fatalError("\(kind.rawValue).\(f.column.name): the transforms gave \(resolved), expected \(want.map { String(decoding: $0, as: UTF8.self) } ?? "not a whole number")")
                    }
                }
                guard case .value(let v) = resolved, f.column.role == .date, v.count > 0 else { continue }
                for format in f.dateFormats {
                    if let day = format.parse(v) {
                        let date = LocalDate(dayNumber: Int(day) + 10_957)
                        if !(1...9999).contains(date.year) { fatalError("\(format.pattern) parsed a date outside years 1-9999") }
                    }
                }
            }
        }
    } catch let error as RecruitError {
        // A header the profile cannot use (an identifying column name, a name
        // the format cannot hold as written): refused, naming the file.
        if !error.message.contains(url.lastPathComponent) { fatalError("a refusal does not name the file: \(error.message)") }
    } catch {
        fatalError("reading a profile's file threw something else than a RecruitError: \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProfileYAML(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let profile: ExtractProfile
    do {
        profile = try ExtractProfile.parse(yaml: text, origin: "fuzz")
    } catch let error as RecruitError {
        guard error.kind == .refused, error.message.hasPrefix("profile fuzz") else {
            fatalError("a refusal that does not name the profile: \(error.kind) \(error.message)")
        }
        if error.message.hasPrefix("profile fuzz line ") {
            let digits = error.message.dropFirst("profile fuzz line ".count).prefix { $0.isASCII && $0.isNumber }
            guard let line = Int(digits), (1...lastLine(text)).contains(line) else {
                fatalError("a refusal names line \(digits), after the profile's last line \(lastLine(text)): \(error.message)")
            }
        }
        return 0
    } catch {
        fatalError("parse threw something else than a RecruitError: \(error)")
    }
    guard let again = try? ExtractProfile.parse(yaml: text, origin: "fuzz") else { fatalError("the second parse failed") }
    if dump(again) != dump(profile) { fatalError("two parses of the same text differ") }
    for kind in CanonicalFile.allCases {
        guard let spec = profile.files[kind] else { fatalError("files.\(kind.rawValue) is missing") }
        for column in kind.columns where column.required && spec.columns[column.name] == nil {
            fatalError("files.\(kind.rawValue) has no mapping for \(column.name)")
        }
        for c in spec.columns.values {
            if let l = c.lookup, profile.dictionaries[l] == nil { fatalError("a lookup names no dictionary") }
        }
        if let q = spec.format.quote, q == spec.format.delimiter { fatalError("quote and delimiter are the same") }
        if spec.format.dateFormats.isEmpty { fatalError("no date format") }
    }
    for d in profile.dictionaries.values {
        if let q = d.format.quote, q == d.format.delimiter { fatalError("a dictionary's quote and delimiter are the same") }
    }
    for kind in CanonicalFile.allCases { checkFile(profile, kind) }
    return 0
}
