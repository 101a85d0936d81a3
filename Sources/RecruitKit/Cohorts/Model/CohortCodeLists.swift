import Foundation
import Postgres

extension ResolvedCodeList {
    /// A list made in memory (tests, stored versions, validation without
    /// lists): no manifest version, not lock-checked.
    public init(name: String, sha256: String, codes: Set<SystemCode>, terms: [SystemCode: String] = [:], version: String? = nil) {
        self.init(name: name, version: version, sha256: sha256, codes: codes, terms: terms, locked: false)
    }
}

/// Where a cohort's code lists come from: the one seam between the cohort
/// engine and the code-list library.
///
/// ``DirectoryCodeListSource`` resolves lists through the code-list library
/// (lock check, manifest rules, expanded set and its hash).
public protocol CohortCodeListSource {
    /// Where the lists are, for messages ("no chronic-pain.csv in codelists/").
    var summary: String { get }
    /// The list named `name`, or nil when there is no such list.
    ///
    /// - Throws: ``RecruitError`` when the list exists but cannot be used
    ///   (unreadable, malformed: the message names the file and line).
    func codeList(named name: String) throws -> ResolvedCodeList?
}

/// Code lists of a directory in the code-list layout (`DIR/NAME.csv`, an
/// optional manifest and lock), resolved by ``CodeListLibrary``: checked
/// against the lock when there is one, expanded by the manifest's rules.
public struct DirectoryCodeListSource: CohortCodeListSource {
    public var directory: URL
    /// Where descendant rules look for codes recorded in the loaded data (nil: the list files only).
    public var connection: Connection?

    public init(directory: URL, connection: Connection? = nil) {
        self.directory = directory
        self.connection = connection
    }

    public var summary: String { directory.path }

    public func codeList(named name: String) throws -> ResolvedCodeList? {
        let url = directory.appendingPathComponent("\(name).csv")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try CodeListLibrary(directory: directory).resolve(names: [name], connection: connection).first
    }
}
