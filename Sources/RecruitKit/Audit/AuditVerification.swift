/// The outcome of checking an audit chain (`recruit audit verify`).
public struct AuditVerification: Sendable, Codable {
    /// What is wrong with an entry (or a line of an export file).
    public enum Kind: String, Sendable, Codable {
        /// Entries are missing: ids jump (deleted rows, or a chain not starting at 1).
        case gap
        /// An id repeats or goes backwards (export files only: the table's key forbids it).
        case outOfOrder = "out_of_order"
        /// `prev_hash` is not the `entry_hash` of the entry before.
        case prevHashMismatch = "prev_hash_mismatch"
        /// `entry_hash` is not `sha256(prev_hash || entry_text)`: the entry was altered.
        case hashMismatch = "hash_mismatch"
        /// `entry_text` is not a JSON object of the entry's facts, or names another entry.
        case entryTextInvalid = "entry_text_invalid"
        /// A column of the row differs from the row's `entry_text`.
        case columnsDisagree = "columns_disagree"
        /// A line of an export file is not an entry.
        case malformedLine = "malformed_line"
        /// The entry differs from the same entry in the anchor export.
        case anchorMismatch = "anchor_mismatch"
        /// Entries of the anchor export are missing from the chain (truncated or rewritten).
        case missingFromChain = "missing_from_chain"
    }

    /// One broken or missing link.
    public struct Problem: Sendable, Codable, Hashable {
        /// The entry concerned (the first missing one for a gap at the end).
        public var entryId: Int?
        /// The line of the export file, when verifying a file.
        public var line: Int?
        public var kinds: [Kind]
        /// What is wrong, in words (ids and hashes only, never payload values).
        public var message: String

        enum CodingKeys: String, CodingKey { case entryId = "entry_id", line, kinds, message }
    }

    /// The database schema or the file verified.
    public var source: String
    /// Entries read.
    public var entries: Int
    /// Entries before the first problem: the intact start of the chain.
    public var verified: Int
    /// Entries (or lines) with a problem.
    public var problemCount: Int
    /// The first problems, in chain order (at most ``AuditVerifier/keptProblems``).
    public var problems: [Problem]
    /// The last entry read and its hash: publish it to anchor the chain.
    public var headEntryId: Int?
    public var headHash: String?
    /// Entries compared with an anchor export, when one was given.
    public var anchorEntries: Int?

    public var ok: Bool { problemCount == 0 }
    public var firstProblem: Problem? { problems.first }

    enum CodingKeys: String, CodingKey {
        case source, entries, verified, ok, problems
        case problemCount = "problem_count", headEntryId = "head_entry_id", headHash = "head_hash"
        case firstProblem = "first_problem", anchorEntries = "anchor_entries"
    }

    public init(source: String, entries: Int, verified: Int, problemCount: Int, problems: [Problem],
                headEntryId: Int?, headHash: String?, anchorEntries: Int?) {
        self.source = source
        self.entries = entries
        self.verified = verified
        self.problemCount = problemCount
        self.problems = problems
        self.headEntryId = headEntryId
        self.headHash = headHash
        self.anchorEntries = anchorEntries
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        source = try c.decode(String.self, forKey: .source)
        entries = try c.decode(Int.self, forKey: .entries)
        verified = try c.decode(Int.self, forKey: .verified)
        problemCount = try c.decode(Int.self, forKey: .problemCount)
        problems = try c.decode([Problem].self, forKey: .problems)
        headEntryId = try c.decodeIfPresent(Int.self, forKey: .headEntryId)
        headHash = try c.decodeIfPresent(String.self, forKey: .headHash)
        anchorEntries = try c.decodeIfPresent(Int.self, forKey: .anchorEntries)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(source, forKey: .source)
        try c.encode(entries, forKey: .entries)
        try c.encode(verified, forKey: .verified)
        try c.encode(ok, forKey: .ok)
        try c.encode(problemCount, forKey: .problemCount)
        try c.encode(problems, forKey: .problems)
        try c.encode(firstProblem, forKey: .firstProblem)
        try c.encode(headEntryId, forKey: .headEntryId)
        try c.encode(headHash, forKey: .headHash)
        try c.encodeIfPresent(anchorEntries, forKey: .anchorEntries)
    }

    /// A human summary: the count verified, or the first broken link.
    public var summary: String {
        if let p = firstProblem {
            let place = [p.entryId.map { "entry \($0)" }, p.line.map { "line \($0)" }].compactMap { $0 }.joined(separator: ", ")
            return "audit chain broken at \(place): \(p.message)"
        }
        let head = headEntryId.map { " (head: entry \($0), hash \(headHash ?? ""))" } ?? ""
        return "audit chain verified: \(entries) entr\(entries == 1 ? "y" : "ies")\(head)"
    }
}
