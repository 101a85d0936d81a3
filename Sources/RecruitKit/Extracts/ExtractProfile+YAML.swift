import Foundation
import Yams

extension ExtractProfile {
    /// Parses a profile from YAML.
    ///
    /// Every error names the profile and the line: an unknown key, a value of
    /// the wrong kind, a canonical column without a mapping, a lookup of an
    /// undefined dictionary. (A mapping to a column the file lacks is found
    /// when the file's header is read, and named with this line too.)
    ///
    /// - Throws: ``RecruitError`` (refused).
    public static func parse(yaml text: String, origin: String) throws -> ExtractProfile {
        let p = ProfileParser(origin: origin)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw p.error(nil, "the profile is empty") }
            root = node
        } catch let error as YamlError {
            throw p.yamlError(error)
        }
        let top = try p.mapping(root, "the profile", keys: ["profile", "description", "encoding", "delimiter", "quote",
                                                            "date_formats", "dictionaries", "files"])
        guard let nameNode = top["profile"] else { throw p.error(root, "'profile' (the profile's name) is missing") }
        let name = try p.string(nameNode, "profile")
        var format = Format()
        try p.readFormat(top, into: &format)

        var dictionaries: [String: DictionarySpec] = [:]
        if let node = top["dictionaries"] {
            for (key, value) in try p.pairs(node, "dictionaries") {
                let dictName = try p.string(key, "a dictionary name")
                let d = try p.mapping(value, "dictionary \(dictName)", keys: ["file", "key", "value", "encoding", "delimiter", "quote"])
                var dictFormat = format
                try p.readFormat(d, into: &dictFormat)
                guard let file = d["file"], let k = d["key"], let v = d["value"] else {
                    throw p.error(value, "dictionary \(dictName) needs file, key and value")
                }
                dictionaries[dictName] = DictionarySpec(name: dictName, file: try p.fileName(file, "file"), key: try p.string(k, "key"),
                                                        value: try p.string(v, "value"), format: dictFormat, line: p.line(value))
            }
        }

        guard let filesNode = top["files"] else { throw p.error(root, "'files' is missing: name the patients, events and prescriptions files") }
        var files: [CanonicalFile: FileSpec] = [:]
        for (key, value) in try p.pairs(filesNode, "files") {
            let fileName = try p.string(key, "a file kind")
            guard let canonical = CanonicalFile(rawValue: fileName) else {
                throw p.error(key, "unknown key '\(fileName)' in files (expected: patients, events, prescriptions)")
            }
            files[canonical] = try p.fileSpec(canonical, value, format: format, dictionaries: dictionaries)
        }
        for canonical in CanonicalFile.allCases where files[canonical] == nil {
            throw p.error(filesNode, "files.\(canonical.rawValue) is missing")
        }
        return ExtractProfile(name: name, sha256: Hashing.sha256Hex(text), origin: origin, text: text,
                              files: files, dictionaries: dictionaries)
    }
}

/// Walks the YAML tree, keeping line numbers for messages.
struct ProfileParser {
    let origin: String

    func line(_ node: Node?) -> Int { node?.mark?.line ?? 0 }

    func error(_ node: Node?, _ message: String) -> RecruitError {
        if let l = node?.mark?.line { return .refused("profile \(origin) line \(l): \(message)") }
        return .refused("profile \(origin): \(message)")
    }

    func yamlError(_ error: YamlError) -> RecruitError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return .refused("profile \(origin) line \(mark.line): not valid YAML: \(problem)")
        default:
            return .refused("profile \(origin): not valid YAML: \(error)")
        }
    }

    func pairs(_ node: Node, _ what: String) throws -> [(Node, Node)] {
        guard let m = node.mapping else { throw error(node, "\(what) must be a mapping (key: value lines)") }
        return m.map { ($0.key, $0.value) }
    }

    /// A mapping whose keys must all be in `keys`; returns it keyed by name.
    func mapping(_ node: Node, _ what: String, keys: [String]) throws -> [String: Node] {
        var out: [String: Node] = [:]
        for (k, v) in try pairs(node, what) {
            let key = try string(k, "a key")
            guard keys.contains(key) else {
                throw error(k, "unknown key '\(key)' in \(what) (expected: \(keys.joined(separator: ", ")))")
            }
            guard out[key] == nil else { throw error(k, "'\(key)' appears twice in \(what)") }
            out[key] = v
        }
        return out
    }

    func string(_ node: Node, _ what: String) throws -> String {
        guard let s = node.scalar?.string else { throw error(node, "\(what) must be a single value") }
        return s
    }

    /// A file of the extract folder, named by its plain name: no folder part,
    /// so a profile never makes the loader read outside the extract.
    func fileName(_ node: Node, _ what: String) throws -> String {
        let name = try string(node, what)
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\\") else {
            throw error(node, "\(what) must be the plain name of a file in the extract folder, not '\(name)'")
        }
        return name
    }

    func isNull(_ node: Node) -> Bool {
        guard let s = node.scalar else { return false }
        return s.style == .plain && (s.string == "~" || s.string == "null" || s.string.isEmpty)
    }

    func int(_ node: Node, _ what: String, in range: ClosedRange<Int>, _ rangeText: String) throws -> Int {
        guard let s = node.scalar?.string, let v = Int(s), range.contains(v) else {
            throw error(node, "\(what) must be a whole number \(rangeText)")
        }
        return v
    }

    func strings(_ node: Node, _ what: String) throws -> [String] {
        if node.scalar != nil { return [try string(node, what)] }
        guard let seq = node.sequence else { throw error(node, "\(what) must be a value or a list") }
        return try seq.map { try string($0, what) }
    }

    func dateFormats(_ node: Node) throws -> [DateFormat] {
        let patterns = try strings(node, "date_formats")
        guard !patterns.isEmpty else { throw error(node, "date_formats is empty") }
        return try patterns.map {
            guard let f = DateFormat(pattern: $0) else {
                throw error(node, "date format '\($0)' is not understood (use yyyy, MM, M, dd, d, MMM, MMMM and literal characters, e.g. dd/MM/yyyy)")
            }
            return f
        }
    }

    func readFormat(_ m: [String: Node], into format: inout ExtractProfile.Format) throws {
        if let n = m["encoding"] {
            let s = try string(n, "encoding")
            guard let e = TextEncoding(name: s) else {
                throw error(n, "encoding '\(s)' is not supported (use \(TextEncoding.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            format.encoding = e
        }
        if let n = m["delimiter"] {
            let s = try string(n, "delimiter")
            let bytes = s.lowercased() == "tab" ? [UInt8(9)] : Array(s.utf8)
            guard bytes.count == 1, bytes[0] < 0x80, bytes[0] != 10, bytes[0] != 13 else {
                throw error(n, "delimiter must be one ASCII character (or 'tab')")
            }
            format.delimiter = bytes[0]
        }
        if let n = m["quote"] {
            if isNull(n) || n.scalar?.string.lowercased() == "none" {
                format.quote = nil
            } else {
                let bytes = Array(try string(n, "quote").utf8)
                guard bytes.count == 1, bytes[0] < 0x80 else { throw error(n, "quote must be one ASCII character, or none") }
                format.quote = bytes[0]
            }
        }
        if let n = m["date_formats"] { format.dateFormats = try dateFormats(n) }
        if let q = format.quote, q == format.delimiter {
            throw error(m["quote"] ?? m["delimiter"], "the quote and the delimiter are the same character")
        }
    }

    func fileSpec(_ canonical: CanonicalFile, _ node: Node, format inherited: ExtractProfile.Format,
                  dictionaries: [String: ExtractProfile.DictionarySpec]) throws -> ExtractProfile.FileSpec {
        let what = "files.\(canonical.rawValue)"
        let m = try mapping(node, what, keys: ["file", "encoding", "delimiter", "quote", "date_formats", "columns", "ignore", "skip_when"])
        var format = inherited
        try readFormat(m, into: &format)
        guard let fileNode = m["file"] else { throw error(node, "\(what).file (the source file's name) is missing") }
        guard let columnsNode = m["columns"] else { throw error(node, "\(what).columns is missing") }
        var columns: [String: ExtractProfile.ColumnSpec] = [:]
        for (k, v) in try pairs(columnsNode, "\(what).columns") {
            let name = try string(k, "a column name")
            guard let column = canonical.column(name) else {
                throw error(k, "unknown key '\(name)' in \(what).columns (the canonical columns are: \(canonical.columns.map(\.name).joined(separator: ", ")))")
            }
            guard columns[name] == nil else { throw error(k, "'\(name)' appears twice in \(what).columns") }
            columns[name] = try columnSpec(column, v, where: "\(what).columns.\(name)", dictionaries: dictionaries)
        }
        for column in canonical.columns where column.required && columns[column.name] == nil {
            throw error(columnsNode, "\(what).columns has no mapping for the required column \(column.name)")
        }
        var ignore: [String: CanonicalFile.Role] = [:]
        if let n = m["ignore"] {
            for (k, v) in try pairs(n, "\(what).ignore") {
                let role = try string(v, "a column type")
                guard let r = CanonicalFile.Role(rawValue: role) else {
                    throw error(v, "column type '\(role)' is not one of id, code, date, number, text")
                }
                ignore[try string(k, "a column name").lowercased()] = r
            }
        }
        var skip: [ExtractProfile.SkipRule] = []
        if let n = m["skip_when"] {
            for (k, v) in try pairs(n, "\(what).skip_when") {
                skip.append(.init(column: try string(k, "a column name"), values: try strings(v, "skip_when values"), line: line(k)))
            }
        }
        return ExtractProfile.FileSpec(canonical: canonical, file: try fileName(fileNode, "file"), format: format,
                                       columns: columns, ignore: ignore, skipWhen: skip, line: line(node))
    }

    func columnSpec(_ column: CanonicalFile.Column, _ node: Node, where what: String,
                    dictionaries: [String: ExtractProfile.DictionarySpec]) throws -> ExtractProfile.ColumnSpec {
        if node.scalar != nil {
            return ExtractProfile.ColumnSpec(source: .column(try string(node, what)), line: line(node))
        }
        let m = try mapping(node, what, keys: ["column", "constant", "optional", "map", "lookup", "add", "right", "pad", "prefix", "date_formats"])
        let source: ExtractProfile.ColumnSpec.Source
        switch (m["column"], m["constant"]) {
        case (let c?, nil): source = .column(try string(c, "column"))
        case (nil, let c?): source = .constant(isNull(c) ? "" : try string(c, "constant"))
        default: throw error(node, "\(what) needs exactly one of 'column' or 'constant'")
        }
        var spec = ExtractProfile.ColumnSpec(source: source, line: line(node))
        if let n = m["optional"] {
            guard let b = n.scalar.flatMap({ Bool.construct(from: $0) }) else { throw error(n, "optional must be true or false") }
            spec.optional = b
        }
        if let n = m["map"] {
            for (k, v) in try pairs(n, "\(what).map") {
                spec.map[try string(k, "a value")] = isNull(v) ? "" : try string(v, "a value")
            }
        }
        if let n = m["lookup"] {
            let name = try string(n, "lookup")
            guard dictionaries[name] != nil else {
                throw error(n, "lookup '\(name)' names no dictionary (defined: \(dictionaries.keys.sorted().joined(separator: ", ")))")
            }
            spec.lookup = name
        }
        // A value `add` applies to has at most 18 digits, so the sum cannot overflow;
        // no canonical value is longer than 64 characters (patient_id).
        if let n = m["add"] { spec.add = try int(n, "add", in: -999_999_999_999_999_999...999_999_999_999_999_999, "of at most 18 digits") }
        if let n = m["right"] { spec.right = try int(n, "right", in: 1...64, "from 1 to 64") }
        if let n = m["pad"] { spec.pad = try int(n, "pad", in: 1...64, "from 1 to 64") }
        if let n = m["prefix"] {
            let prefix = try string(n, "prefix")
            guard prefix.utf8.count <= 63 else { throw error(n, "prefix must be at most 63 bytes (no canonical value is longer than 64)") }
            spec.prefix = prefix
        }
        if let n = m["date_formats"] {
            guard column.role == .date else { throw error(n, "date_formats applies only to date columns, not \(column.name)") }
            spec.dateFormats = try dateFormats(n)
        }
        return spec
    }
}
