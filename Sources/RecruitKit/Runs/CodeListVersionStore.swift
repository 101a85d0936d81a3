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

    enum CodingKeys: String, CodingKey {
        case name, version, sha256
        case expandedSHA256 = "expanded_sha256"
        case codelistVersionID = "codelist_version_id"
        case codes
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
    }

    public init(name: String, version: String?, sha256: String, expandedSHA256: String, codelistVersionID: Int?, codes: Int) {
        self.name = name
        self.version = version
        self.sha256 = sha256
        self.expandedSHA256 = expandedSHA256
        self.codelistVersionID = codelistVersionID
        self.codes = codes
    }
}

/// Stores the code lists a run used as immutable versions (`codelist_versions`
/// and `codelist_codes`, sql/0004), so a reproduction matches on exactly the
/// same codes however the files have changed since.
///
/// The same semantics as the code-list library's `ResolvedCodeList.store(on:)`
/// (one version per name, file SHA-256 and expanded SHA-256; a new version
/// appends a `codelist.version` audit entry), which replaces this once merged.
public enum CodeListVersionStore {
    /// Stores `list` (inside the caller's transaction) unless stored already.
    ///
    /// - Returns: what the run records about it.
    public static func store(_ list: ResolvedCodeList, on connection: Connection) throws -> RecordedCodeList {
        let expanded = list.expandedSHA256
        // Serialise concurrent stores of the same list: the second waits, then finds the first's row.
        try connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(\("codelist_versions:" + list.name), 0))")
        if let existing = try connection.query("""
            SELECT codelist_version_id FROM codelist_versions
            WHERE name = \(list.name) AND sha256 = \(list.sha256) AND expanded_sha256 = \(expanded)
            """).first?.int("codelist_version_id") {
            return RecordedCodeList(name: list.name, version: nil, sha256: list.sha256, expandedSHA256: expanded,
                                    codelistVersionID: existing, codes: list.codes.count)
        }
        guard let id = try connection.query("""
            INSERT INTO codelist_versions (name, sha256, expanded_sha256)
            VALUES (\(list.name), \(list.sha256), \(expanded))
            RETURNING codelist_version_id
            """).first?.int("codelist_version_id") else {
            throw PostgresError(code: .unexpectedResult, message: "INSERT INTO codelist_versions returned no id")
        }
        let codes = list.codes.sorted()
        try connection.execute("""
            INSERT INTO codelist_codes (codelist_version_id, code_system, code, term)
            SELECT \(id), s, c, nullif(t, '')
            FROM unnest(\(codes.map(\.system.rawValue))::text[], \(codes.map(\.code))::text[],
                        \(codes.map { list.terms[$0] ?? "" })::text[]) AS u(s, c, t)
            """)
        try AuditLog.append(on: connection, action: "codelist.version",
                            subjects: ["codelist_version_id": .int(id), "codelist": .string(list.name)],
                            payload: ["name": .string(list.name), "version": .null, "sha256": .string(list.sha256),
                                      "expanded_sha256": .string(expanded), "codes": .int(codes.count)])
        return RecordedCodeList(name: list.name, version: nil, sha256: list.sha256, expandedSHA256: expanded,
                                codelistVersionID: id, codes: codes.count)
    }
}

/// The code lists of a recorded run, read back from their stored versions:
/// what a reproduction and `runs why` match on.
public struct StoredCodeListSource: CohortCodeListSource {
    let lists: [String: ResolvedCodeList]

    /// Reads the stored versions `recorded` names.
    ///
    /// - Throws: ``RecruitError`` (refused) when a version is missing or its
    ///   codes no longer hash to what the run recorded.
    public init(recorded: [RecordedCodeList], on connection: Connection) throws {
        var lists: [String: ResolvedCodeList] = [:]
        for r in recorded {
            guard let versionID = r.codelistVersionID else {
                throw RecruitError.refused("code list \(r.name): the run recorded no stored version of it")
            }
            let rows = try connection.query("""
                SELECT code_system, code, coalesce(term, '') AS term FROM codelist_codes
                WHERE codelist_version_id = \(versionID)
                """)
            var codes = Set<SystemCode>()
            var terms: [SystemCode: String] = [:]
            for row in rows {
                guard let system = CodeSystem(rawValue: row.string("code_system")) else { continue }
                let code = SystemCode(system: system, code: row.string("code"))
                codes.insert(code)
                if !row.string("term").isEmpty { terms[code] = row.string("term") }
            }
            let list = ResolvedCodeList(name: r.name, sha256: r.sha256, codes: codes, terms: terms)
            guard list.expandedSHA256 == r.expandedSHA256 else {
                throw RecruitError.refused("code list \(r.name): stored version \(versionID) no longer holds the codes the run used "
                                           + "(expanded SHA-256 \(list.expandedSHA256), recorded \(r.expandedSHA256))")
            }
            lists[r.name] = list
        }
        self.lists = lists
    }

    public var summary: String { "the code-list versions stored with the run" }

    public func codeList(named name: String) throws -> ResolvedCodeList? { lists[name] }
}

extension RecordedCodeList {
    /// What a dry run records about a list it used (nothing is stored).
    public init(unstored list: ResolvedCodeList) {
        self.init(name: list.name, version: nil, sha256: list.sha256, expandedSHA256: list.expandedSHA256,
                  codelistVersionID: nil, codes: list.codes.count)
    }
}
