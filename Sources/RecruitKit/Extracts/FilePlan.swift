import Foundation

/// One canonical file's profile mapping, compiled against the file's header for the row loop.
final class FilePlan {
    let kind: CanonicalFile
    let fileName: String
    let header: [String]
    /// One per canonical column, in ``CanonicalFile/columns`` order.
    let fields: [CompiledField]
    /// Source columns whose values the pseudonymisation guard checks.
    let guarded: [GuardedColumn]
    let skipRules: [(index: Int, values: [[UInt8]])]
    /// Unknown extra columns, named (ignored with a warning).
    let unknownColumns: [String]
    /// A lower bound on the bytes of a valid row (for the early-refusal bound).
    let minRowBytes: Int

    struct GuardedColumn {
        let index: Int
        let name: String
        /// A declared number or date column: checked only when the value is not digits and separators.
        let onlyIfNotNumeric: Bool
    }

    /// Compiles `spec` against `header`.
    ///
    /// - Throws: ``RecruitError`` (refused): a column named twice, an
    ///   identifying column name (the guard), a required or mapped column the
    ///   header lacks (naming the profile line that maps it).
    init(spec: ExtractProfile.FileSpec, header rawHeader: [String], fileName: String, profile: ExtractProfile,
         dictionaries: [String: LookupTable]) throws {
        kind = spec.canonical
        self.fileName = fileName
        let header = rawHeader.map { $0.trimmingCharacters(in: .whitespaces) }
        self.header = header
        let lower = header.map { $0.lowercased() }
        var seen: Set<String> = []
        for name in lower {
            if !seen.insert(name).inserted {
                throw RecruitError.refused("\(fileName) line 1: column '\(name)' appears twice in the header")
            }
        }
        for name in header where IdentifierGuard.isIdentifyingColumn(name) {
            throw RecruitError.refused("\(fileName) line 1, column '\(name)': the column names direct identification; only pseudonymised data may be loaded (remove the column from the extract)")
        }
        var used: Set<Int> = []
        var fields: [CompiledField] = []
        var guarded: [GuardedColumn] = []
        for column in kind.columns {
            guard let mapping = spec.columns[column.name] else {
                fields.append(CompiledField(index: -1, constant: nil, spec: nil, column: column, fileFormat: spec.format, dictionaries: dictionaries))
                continue
            }
            var index = -1
            var constant: String? = nil
            switch mapping.source {
            case .constant(let value):
                constant = value
            case .column(let name):
                if let i = lower.firstIndex(of: name.lowercased()) {
                    index = i
                    used.insert(i)
                    if column.role == .text { guarded.append(GuardedColumn(index: i, name: header[i], onlyIfNotNumeric: false)) }
                } else if !mapping.optional {
                    let required = column.required ? "the required column" : "column"
                    let via = name == column.name ? "" : " (mapped to \(column.name))"
                    throw RecruitError.refused("\(fileName): the header lacks \(required) '\(name)'\(via); \(profile.origin) line \(mapping.line) maps it. The header has: \(header.joined(separator: ", "))")
                }
            }
            fields.append(CompiledField(index: index, constant: constant, spec: mapping, column: column, fileFormat: spec.format,
                                        dictionaries: dictionaries))
        }
        var skipRules: [(Int, [[UInt8]])] = []
        for rule in spec.skipWhen {
            guard let i = lower.firstIndex(of: rule.column.lowercased()) else {
                throw RecruitError.refused("\(fileName): the header lacks column '\(rule.column)', which \(profile.origin) line \(rule.line) names in skip_when. The header has: \(header.joined(separator: ", "))")
            }
            used.insert(i)
            skipRules.append((i, rule.values.map { Array($0.utf8) }))
        }
        self.skipRules = skipRules
        var unknown: [String] = []
        for (i, name) in lower.enumerated() where !used.contains(i) {
            if let role = spec.ignore[name] {
                switch role {
                case .text: guarded.append(GuardedColumn(index: i, name: header[i], onlyIfNotNumeric: false))
                case .number, .date: guarded.append(GuardedColumn(index: i, name: header[i], onlyIfNotNumeric: true))
                case .id, .code: break
                }
            } else {
                unknown.append(header[i])
                guarded.append(GuardedColumn(index: i, name: header[i], onlyIfNotNumeric: false))
            }
        }
        self.fields = fields
        self.guarded = guarded
        unknownColumns = unknown
        // Every data file has a required date (8+ bytes in every supported format) and a delimiter per column.
        minRowBytes = header.count + 8
    }

    /// The number of columns a row must have.
    var columnCount: Int { header.count }
}

/// Where one canonical column's value comes from in a row, with the profile's transforms applied.
final class CompiledField {
    let column: CanonicalFile.Column
    /// The source column's index, or -1 (a constant, or a column the file does not have).
    let index: Int
    let plain: Bool
    private let constantBytes: [UInt8]
    private let map: [([UInt8], [UInt8])]
    private let mapDefault: [UInt8]?
    let lookup: LookupTable?
    private let add: Int?
    private let right: Int?
    private let pad: Int?
    private let prefix: [UInt8]
    let dateFormats: [DateFormat]
    /// The reject reason for a value the lookup lacks: `unknown medcode`.
    let unknownReason: String
    let sourceName: String
    private let scratch: UnsafeMutablePointer<UInt8>
    private static let scratchHalf = 512

    enum Resolved {
        case value(UnsafeRawBufferPointer)
        /// The dictionary lacks the value.
        case unknownKey
        /// `add` was given a value that is not a whole number.
        case notInteger
    }

    init(index: Int, constant: String?, spec: ExtractProfile.ColumnSpec?, column: CanonicalFile.Column,
         fileFormat: ExtractProfile.Format, dictionaries: [String: LookupTable]) {
        self.column = column
        self.index = index
        constantBytes = constant.map { Array($0.utf8) } ?? []
        var entries: [([UInt8], [UInt8])] = []
        var fallback: [UInt8]? = nil
        for (from, to) in (spec?.map ?? [:]).sorted(by: { $0.key < $1.key }) {
            if from == "*" { fallback = Array(to.utf8) } else { entries.append((Array(from.utf8), Array(to.utf8))) }
        }
        map = entries
        mapDefault = fallback
        lookup = spec?.lookup.flatMap { dictionaries[$0] }
        add = spec?.add
        right = spec?.right
        pad = spec?.pad
        prefix = Array((spec?.prefix ?? "").utf8)
        dateFormats = spec?.dateFormats ?? fileFormat.dateFormats
        plain = index >= 0 && (spec?.isPlainColumn ?? true)
        if case .column(let name)? = spec?.source { sourceName = name } else { sourceName = column.name }
        unknownReason = "unknown \(sourceName)"
        scratch = .allocate(capacity: 2 * Self.scratchHalf)
    }

    deinit { scratch.deallocate() }

    @inline(__always)
    func resolve(_ reader: DelimitedReader) -> Resolved {
        if plain { return .value(reader.field(index)) }
        return resolveSlow(reader)
    }

    private func resolveSlow(_ reader: DelimitedReader) -> Resolved {
        var v: UnsafeRawBufferPointer
        if index >= 0 {
            v = reader.field(index)
        } else {
            v = constantBytes.withUnsafeBytes { $0 }
        }
        var half = 0
        // Writes `parts` into the next scratch half and returns it.
        func emit(_ parts: [UnsafeRawBufferPointer]) -> UnsafeRawBufferPointer? {
            let total = parts.reduce(0) { $0 + $1.count }
            guard total <= Self.scratchHalf else { return nil }
            let base = scratch + half * Self.scratchHalf
            var o = 0
            for p in parts where p.count > 0 {
                UnsafeMutableRawPointer(base + o).copyMemory(from: p.baseAddress!, byteCount: p.count)
                o += p.count
            }
            half ^= 1
            return UnsafeRawBufferPointer(start: base, count: total)
        }
        if v.count > 0 && (!map.isEmpty || mapDefault != nil) {
            var mapped = false
            for (from, to) in map where from.count == v.count && from.withUnsafeBytes({ memcmp($0.baseAddress!, v.baseAddress!, v.count) == 0 }) {
                v = to.withUnsafeBytes { $0 }
                mapped = true
                break
            }
            if !mapped, let d = mapDefault { v = d.withUnsafeBytes { $0 } }
        }
        if let lookup, v.count > 0 {
            guard let translated = lookup.value(v) else { return .unknownKey }
            v = translated
        }
        if let add, v.count > 0 {
            guard let n = FieldParsing.integer(v) else { return .notInteger }
            let text = Array(String(n + add).utf8)
            v = text.withUnsafeBytes { emit([$0]) } ?? v
        }
        if let right, v.count > right {
            v = UnsafeRawBufferPointer(rebasing: v[(v.count - right)...])
        }
        if let pad, v.count > 0, v.count < pad {
            let zeros = [UInt8](repeating: 48, count: pad - v.count)
            v = zeros.withUnsafeBytes { emit([$0, v]) } ?? v
        }
        if !prefix.isEmpty, v.count > 0 {
            v = prefix.withUnsafeBytes { emit([$0, v]) } ?? v
        }
        return .value(v)
    }
}

/// Parsing of numbers from field bytes.
enum FieldParsing {
    /// A whole number, optionally signed, at most 18 digits.
    @inline(__always)
    static func integer(_ v: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        var negative = false
        if v.count > 0 && (v[0] == 45 || v[0] == 43) { negative = v[0] == 45; i = 1 }
        guard v.count > i, v.count - i <= 18 else { return nil }
        var n = 0
        while i < v.count {
            let d = v[i] &- 48
            guard d <= 9 else { return nil }
            n = n * 10 + Int(d)
            i += 1
        }
        return negative ? -n : n
    }

    /// Digits and the separators of numbers and dates only (for guard checks of declared number/date columns).
    static func isNumericLike(_ v: UnsafeRawBufferPointer) -> Bool {
        for c in v where !(c &- 48 <= 9 || c == 46 || c == 45 || c == 47 || c == 43 || c == 58 || c == 32) { return false }
        return true
    }

    @inline(__always)
    static func equals(_ v: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        guard v.count == s.utf8CodeUnitCount else { return false }
        return memcmp(v.baseAddress!, s.utf8Start, v.count) == 0
    }
}
