import Foundation
import Postgres

/// The code lists of a recorded run, read back from their stored versions
/// (`codelist_codes`): what a reproduction and `runs why` match on, whatever
/// the list files say now.
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
            let list = ResolvedCodeList(name: r.name, sha256: r.sha256, codes: codes, terms: terms, version: r.version)
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
