import Foundation
import Postgres

/// What a run records about one code list it used (`runs.codelists`, run.json).
public struct RecordedCodeList: Sendable, Hashable, Codable {
    public var name: String
    /// The manifest's version of the list, when it has one.
    public var version: String?
    /// SHA-256 of the list file's bytes.
    public var sha256: String
    /// SHA-256 of the expanded (code_system, code) set the run matched on.
    public var expandedSHA256: String
    /// The stored version (`codelist_versions`) holding the codes, for a
    /// reproduction (nil in a dry run, which stores nothing).
    public var codelistVersionID: Int?
    /// How many codes the expanded set holds.
    public var codes: Int
    /// Whether the file was checked against `codelists.lock` (nil: not known, as in a reproduction).
    public var locked: Bool?
    /// Whether every system of the list has manifest status `reviewed`.
    public var reviewed: Bool?

    enum CodingKeys: String, CodingKey {
        case name, version, sha256
        case expandedSHA256 = "expanded_sha256"
        case codelistVersionID = "codelist_version_id"
        case codes, locked, reviewed
    }

    /// Every key, null when absent.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(version, forKey: .version)
        try c.encode(sha256, forKey: .sha256)
        try c.encode(expandedSHA256, forKey: .expandedSHA256)
        try c.encode(codelistVersionID, forKey: .codelistVersionID)
        try c.encode(codes, forKey: .codes)
        try c.encode(locked, forKey: .locked)
        try c.encode(reviewed, forKey: .reviewed)
    }

    public init(name: String, version: String?, sha256: String, expandedSHA256: String, codelistVersionID: Int?, codes: Int,
                locked: Bool? = nil, reviewed: Bool? = nil) {
        self.name = name
        self.version = version
        self.sha256 = sha256
        self.expandedSHA256 = expandedSHA256
        self.codelistVersionID = codelistVersionID
        self.codes = codes
        self.locked = locked
        self.reviewed = reviewed
    }

    /// What a run records about `list`, stored as `codelist_versions` row `id` (nil: not stored, a dry run).
    public init(_ list: ResolvedCodeList, codelistVersionID id: Int?) {
        self.init(name: list.name, version: list.version, sha256: list.sha256, expandedSHA256: list.expandedSHA256,
                  codelistVersionID: id, codes: list.codes.count, locked: list.locked, reviewed: list.reviewed)
    }

    /// Stores `list` as an immutable version through the code-list library
    /// (inside the caller's transaction; a new version appends a
    /// `codelist.version` audit entry) and returns what the run records.
    public static func store(_ list: ResolvedCodeList, on connection: Connection) throws -> RecordedCodeList {
        RecordedCodeList(list, codelistVersionID: try list.store(on: connection))
    }
}
