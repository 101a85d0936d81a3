import Foundation

/// A profile: how a source layout maps onto the canonical extract format.
///
/// A profile names each canonical file's source file, its text format
/// (encoding, delimiter, quoting, date formats), and for every canonical
/// column where its value comes from: a source column, a constant, and
/// optional transforms (a value map, a dictionary lookup, arithmetic and
/// padding). Profiles are YAML (docs/profiles.md); the built-in `canonical`
/// and `cprd-gold` profiles are written in the same YAML.
public struct ExtractProfile: Sendable {
    public var name: String
    /// SHA-256 of the profile's YAML text (recorded with every load).
    public var sha256: String
    /// Where the profile came from, for messages: `built-in profile cprd-gold` or a path.
    public var origin: String
    public var text: String
    public var files: [CanonicalFile: FileSpec]
    public var dictionaries: [String: DictionarySpec]

    /// Text format settings; a file's own settings override the profile's.
    public struct Format: Sendable, Hashable {
        public var encoding: TextEncoding = .utf8
        public var delimiter: UInt8 = UInt8(ascii: ",")
        public var quote: UInt8? = UInt8(ascii: "\"")
        public var dateFormats: [DateFormat] = [.iso]

        var readerOptions: DelimitedReader.Options {
            DelimitedReader.Options(delimiter: delimiter, quote: quote, encoding: encoding)
        }
    }

    /// A dictionary file shipped with the extract: `key` column translated to `value` column.
    public struct DictionarySpec: Sendable {
        public var name: String
        public var file: String
        public var key: String
        public var value: String
        public var format: Format
        public var line: Int
    }

    /// How one canonical file is read.
    public struct FileSpec: Sendable {
        public var canonical: CanonicalFile
        public var file: String
        public var format: Format
        /// Canonical column name → where its value comes from.
        public var columns: [String: ColumnSpec]
        /// Source columns the profile knows and does not load (lower-cased name → role);
        /// `text` ones are still checked by the pseudonymisation guard.
        public var ignore: [String: CanonicalFile.Role]
        /// Rows whose source column holds one of these values are skipped (counted, not loaded, not rejected).
        public var skipWhen: [SkipRule]
        public var line: Int
    }

    public struct SkipRule: Sendable {
        public var column: String
        public var values: [String]
        public var line: Int
    }

    /// Where a canonical column's value comes from, and how it is transformed.
    ///
    /// Transforms apply in this order: `map`, `lookup`, `add`, `right`, `pad`, `prefix`.
    public struct ColumnSpec: Sendable {
        public enum Source: Sendable, Equatable {
            case column(String)
            case constant(String)
        }
        public var source: Source
        /// The source column may be missing from the header (then every value is empty).
        public var optional = false
        /// Value map: source value → canonical value ("" = empty); `*` maps any other non-empty value.
        public var map: [String: String] = [:]
        /// The name of a dictionary to translate the value through; a value it lacks rejects the row.
        public var lookup: String?
        /// An integer added to the (integer) value, e.g. 1800 for a year stored as years since 1800.
        public var add: Int?
        /// Keep only the last N characters.
        public var right: Int?
        /// Left-pad with zeros to N characters.
        public var pad: Int?
        public var prefix: String?
        /// Date formats for this column (overriding the file's).
        public var dateFormats: [DateFormat]?
        /// The profile line that defines this mapping, for messages.
        public var line: Int

        public init(source: Source, line: Int) {
            self.source = source
            self.line = line
        }

        var isPlainColumn: Bool {
            if case .column = source { return map.isEmpty && lookup == nil && add == nil && right == nil && pad == nil && prefix == nil }
            return false
        }
    }

    /// A built-in profile by name, or a YAML file.
    ///
    /// - Throws: ``RecruitError`` (environment, exit 2) when it is neither; (refused) when the file is not a valid profile.
    public static func resolve(_ nameOrPath: String) throws -> ExtractProfile {
        if let text = builtIn[nameOrPath] {
            return try parse(yaml: text, origin: "built-in profile \(nameOrPath)")
        }
        let url = URL(fileURLWithPath: nameOrPath)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw RecruitError.environment("no profile '\(nameOrPath)': not a built-in profile (\(builtIn.keys.sorted().joined(separator: ", "))) and no such file")
        }
        guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) else {
            throw RecruitError.refused("profile \(url.path): cannot read it as UTF-8 text")
        }
        return try parse(yaml: text, origin: url.lastPathComponent)
    }

    /// The names of the built-in profiles.
    public static var builtInNames: [String] { builtIn.keys.sorted() }
}
