import Foundation

extension CodeSystem: CodingKeyRepresentable {}

/// The manifest of a code-list library, `codelists.yaml`: per list, its
/// description and, per coding system in it, where the codes came from
/// (source, version), whether they were reviewed (status, reviewer, date),
/// the choices made (notes, codes dropped, cleaning) and optional rules.
///
/// `recruit codelists import` writes it; people may edit descriptions,
/// notes, status and rules by hand and then run `recruit codelists lock`.
/// See docs/codelists.md for the format.
public struct CodeListManifest: Sendable, Codable, Equatable {
    public static let fileName = "codelists.yaml"
    /// The format version this program reads and writes.
    public static let formatVersion = 1

    public var lists: [String: ListEntry]

    public init(lists: [String: ListEntry] = [:]) {
        self.lists = lists
    }

    /// One list's entry.
    public struct ListEntry: Sendable, Codable, Equatable {
        public var description: String?
        /// A version for the whole list, when one is kept by hand; otherwise
        /// ``versionSummary`` combines the systems' versions.
        public var version: String?
        public var notes: [String]
        public var systems: [CodeSystem: SystemEntry]
        /// Where the entry starts in the manifest (for messages); not written.
        public var line: Int?

        public init(description: String? = nil, version: String? = nil, notes: [String] = [],
                    systems: [CodeSystem: SystemEntry] = [:]) {
            self.description = description
            self.version = version
            self.notes = notes
            self.systems = systems
        }

        /// The list's version: `version` when set, else each system's as
        /// `read2 V; snomed W` (systems in name order), or nil when none has one.
        public var versionSummary: String? {
            if let version { return version }
            let parts = systems.keys.sorted().compactMap { s in systems[s]?.version.map { "\(s.rawValue) \($0)" } }
            return parts.isEmpty ? nil : parts.joined(separator: "; ")
        }

        enum CodingKeys: String, CodingKey { case description, version, notes, systems }
    }

    /// Whether a list's codes of one system have been reviewed for the study.
    public enum Status: String, Sendable, Codable, CaseIterable {
        case draft, reviewed
    }

    /// Where the codes of one system came from: a URL, or a repository, a
    /// path in it and a commit, or (when neither applies) a sentence.
    public struct Source: Sendable, Codable, Equatable {
        public var url: String?
        public var repository: String?
        public var path: String?
        public var commit: String?
        public var description: String?

        public init(url: String? = nil, repository: String? = nil, path: String? = nil, commit: String? = nil,
                    description: String? = nil) {
            self.url = url
            self.repository = repository
            self.path = path
            self.commit = commit
            self.description = description
        }

        /// Reads `--source`: a URL (`https://…`), `OWNER/REPO:PATH@COMMIT`,
        /// or any other text (kept as the description).
        public static func parse(_ text: String) -> Source {
            let t = text.trimmingCharacters(in: .whitespaces)
            if t.range(of: #"^[a-zA-Z][a-zA-Z0-9+.-]*://"#, options: .regularExpression) != nil { return Source(url: t) }
            if let m = t.range(of: #"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+:[^@]+@[0-9a-fA-F]{7,40}$"#, options: .regularExpression), m == t.startIndex..<t.endIndex {
                let colon = t.firstIndex(of: ":")!
                let at = t.lastIndex(of: "@")!
                return Source(repository: String(t[..<colon]), path: String(t[t.index(after: colon)..<at]),
                              commit: String(t[t.index(after: at)...]))
            }
            return Source(description: t)
        }

        /// One line for people: the URL, or `repo:path@commit`, or the description.
        public var summary: String {
            if let url { return url }
            if let repository {
                return repository + (path.map { ":\($0)" } ?? "") + (commit.map { "@\($0)" } ?? "")
            }
            return description ?? "(no source recorded)"
        }

        public var isEmpty: Bool { url == nil && repository == nil && path == nil && commit == nil && description == nil }
    }

    /// A rule applied when the list is used: include a code with its
    /// descendants, or exclude a code with its descendants (Read v2 only has
    /// descendants that can be found from the codes; other systems need
    /// `descendants: false`).
    public struct Rule: Sendable, Codable, Equatable {
        public enum Action: String, Sendable, Codable { case include, exclude }
        public var action: Action
        public var code: String
        public var descendants: Bool
        /// Where the rule is in the manifest (for messages); not written.
        public var line: Int?

        public init(_ action: Action, _ code: String, descendants: Bool = true, line: Int? = nil) {
            self.action = action
            self.code = code
            self.descendants = descendants
            self.line = line
        }

        enum CodingKeys: String, CodingKey { case action, code, descendants }
    }

    /// Codes the import left out on purpose (`--drop`), with the reason.
    public struct Drop: Sendable, Codable, Equatable {
        /// The code named (Read v2: with its descendants).
        public var code: String
        public var reason: String?
        /// The codes removed, as `CODE term`.
        public var removed: [String]

        public init(code: String, reason: String? = nil, removed: [String] = []) {
            self.code = code
            self.reason = reason
            self.removed = removed
        }
    }

    /// What the last import of one system read and did.
    public struct Imported: Sendable, Codable, Equatable {
        /// The file imported (its name only).
        public var file: String
        /// SHA-256 of the imported file's bytes.
        public var sha256: String
        /// Data rows read from it (after any `--where` filter: `rowsSelected`).
        public var rowsRead: Int
        public var rowsSelected: Int
        public var codeColumn: String
        public var termColumn: String?
        public var filters: [String]
        /// Distinct codes written to the list.
        public var codes: Int
        /// Each cleaning applied, with counts and examples.
        public var cleaning: [String]
        public var dropped: [Drop]

        public init(file: String, sha256: String, rowsRead: Int, rowsSelected: Int, codeColumn: String,
                    termColumn: String?, filters: [String], codes: Int, cleaning: [String], dropped: [Drop]) {
            self.file = file
            self.sha256 = sha256
            self.rowsRead = rowsRead
            self.rowsSelected = rowsSelected
            self.codeColumn = codeColumn
            self.termColumn = termColumn
            self.filters = filters
            self.codes = codes
            self.cleaning = cleaning
            self.dropped = dropped
        }

        enum CodingKeys: String, CodingKey {
            case file, sha256, codes, cleaning, dropped, filters
            case rowsRead = "rows_read", rowsSelected = "rows_selected", codeColumn = "code_column", termColumn = "term_column"
        }
    }

    /// One coding system of one list.
    public struct SystemEntry: Sendable, Codable, Equatable {
        public var source: Source
        public var version: String?
        public var status: Status
        public var reviewer: String?
        /// The review date, `YYYY-MM-DD`.
        public var reviewedOn: String?
        /// The choices made for these codes, in words.
        public var notes: [String]
        public var rules: [Rule]
        public var imported: Imported?
        /// Where the entry starts in the manifest (for messages); not written.
        public var line: Int?

        public init(source: Source = Source(), version: String? = nil, status: Status = .draft, reviewer: String? = nil,
                    reviewedOn: String? = nil, notes: [String] = [], rules: [Rule] = [], imported: Imported? = nil) {
            self.source = source
            self.version = version
            self.status = status
            self.reviewer = reviewer
            self.reviewedOn = reviewedOn
            self.notes = notes
            self.rules = rules
            self.imported = imported
        }

        enum CodingKeys: String, CodingKey {
            case source, version, status, reviewer, notes, rules, imported
            case reviewedOn = "reviewed_on"
        }
    }

    /// A list's entry as JSON (what a stored code-list version records).
    public func json(for name: String) -> JSONValue {
        guard let entry = lists[name] else { return [:] }
        return (try? JSONValue.encoding(entry)) ?? [:]
    }
}
