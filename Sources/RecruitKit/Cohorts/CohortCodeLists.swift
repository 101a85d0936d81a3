import Foundation

/// A code list as a cohort run uses it: the set of codes "in list X" matches,
/// with the facts a run records about it.
public struct ResolvedCodeList: Sendable, Hashable {
    public var name: String
    /// SHA-256 of the list file's bytes.
    public var sha256: String
    /// The codes matched, each within its coding system (after any rule expansion).
    public var codes: Set<SystemCode>
    /// A term for each code, for the evidence columns (the first term the list gives it).
    public var terms: [SystemCode: String]

    public init(name: String, sha256: String, codes: Set<SystemCode>, terms: [SystemCode: String] = [:]) {
        self.name = name
        self.sha256 = sha256
        self.codes = codes
        self.terms = terms
    }

    /// SHA-256 of the matched set, one `system,code` line per code in byte order:
    /// equal for equal sets whatever the file looked like.
    public var expandedSHA256: String {
        Hashing.sha256Hex(codes.sorted().map { "\($0.system.rawValue),\($0.code)\n" }.joined())
    }
}

/// Where a cohort's code lists come from: the one seam between the cohort
/// engine and the code-list library.
///
/// Today ``DirectoryCodeListSource`` reads `DIR/NAME.csv` with ``CodeList/read(name:in:)``;
/// the code-list library (lock checking, descendant rules, stored versions)
/// replaces it here and nowhere else.
public protocol CohortCodeListSource {
    /// Where the lists are, for messages ("no chronic-pain.csv in codelists/").
    var summary: String { get }
    /// The list named `name`, or nil when there is no such list.
    ///
    /// - Throws: ``RecruitError`` when the list exists but cannot be used
    ///   (unreadable, malformed: the message names the file and line).
    func codeList(named name: String) throws -> ResolvedCodeList?
}

/// Code lists read from a directory in the code-list layout (`DIR/NAME.csv`,
/// columns `code,term,code_system`), codes as listed.
public struct DirectoryCodeListSource: CohortCodeListSource {
    public var directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    public var summary: String { directory.path }

    public func codeList(named name: String) throws -> ResolvedCodeList? {
        let url = directory.appendingPathComponent("\(name).csv")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let list = try CodeList.read(name: name, in: directory)
        var terms: [SystemCode: String] = [:]
        for entry in list.entries {
            let key = SystemCode(system: entry.system, code: entry.code)
            if terms[key] == nil { terms[key] = entry.term }
        }
        return ResolvedCodeList(name: name, sha256: list.sha256, codes: list.codes, terms: terms)
    }
}
