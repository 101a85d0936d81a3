import Foundation

/// A code list ready for a run: its file's hash, its manifest version and
/// the expanded set of codes "in list X" matches, with that set's hash.
///
/// Made by ``CodeListLibrary/resolve(names:connection:verifyingLock:)``;
/// ``store(on:)`` records it in the database as an immutable version.
public struct ResolvedCodeList: Sendable {
    public var name: String
    /// The manifest's version of the list (see ``CodeListManifest/ListEntry/versionSummary``), if any.
    public var version: String?
    /// SHA-256 of the list file's bytes.
    public var sha256: String
    /// The expanded (system, code) set a run matches on.
    public var codes: Set<SystemCode>
    /// Terms from the list file (codes added by rules from the loaded data have none).
    public var terms: [SystemCode: String]
    /// SHA-256 of the expanded set (see ``expandedSHA256(of:)``).
    public var expandedSHA256: String
    /// The list's manifest entry as JSON (`{}` without a manifest).
    public var manifestEntry: JSONValue
    /// Whether the file was checked against `codelists.lock` (false: no lock, the list is unreviewed).
    public var locked: Bool
    /// Whether every system of the list has manifest status `reviewed`.
    public var reviewed: Bool
    /// How many codes the rules added and removed relative to the file.
    public var addedByRules: Int
    public var removedByRules: Int

    public init(name: String, version: String?, sha256: String, codes: Set<SystemCode>, terms: [SystemCode: String],
                manifestEntry: JSONValue = [:], locked: Bool, reviewed: Bool = false, addedByRules: Int = 0, removedByRules: Int = 0) {
        self.name = name
        self.version = version
        self.sha256 = sha256
        self.codes = codes
        self.terms = terms
        self.expandedSHA256 = Self.expandedSHA256(of: codes)
        self.manifestEntry = manifestEntry
        self.locked = locked
        self.reviewed = reviewed
        self.addedByRules = addedByRules
        self.removedByRules = removedByRules
    }

    /// The SHA-256 of an expanded set: of the text with one line
    /// `SYSTEM,CODE\n` per code, sorted by system, then code bytes.
    public static func expandedSHA256(of codes: Set<SystemCode>) -> String {
        Hashing.sha256Hex(codes.sorted().map { "\($0.system.rawValue),\($0.code)\n" }.joined())
    }

    /// The codes of one system, sorted by bytes (for binding as an array).
    public func codes(in system: CodeSystem) -> [String] {
        codes.filter { $0.system == system }.map(\.code).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The systems the expanded set has codes of.
    public var systems: Set<CodeSystem> { Set(codes.map(\.system)) }

    /// What a run records about the list (run.json, `runs.codelists`):
    /// name, version, sha256, expanded_sha256, codes, locked, reviewed.
    public var summary: JSONValue {
        [
            "name": .string(name), "version": version.map(JSONValue.string) ?? .null, "sha256": .string(sha256),
            "expanded_sha256": .string(expandedSHA256), "codes": .int(codes.count), "locked": .bool(locked),
            "reviewed": .bool(reviewed),
        ]
    }
}
