import Foundation

/// What a load did: printed by `recruit load` (text or `--json`) and stored in `loads.summary`.
///
/// Holds names, counts, hashes and reasons only: never a patient identifier or a row value.
public struct LoadSummary: Codable, Sendable {
    public enum Status: String, Codable, Sendable {
        /// Every practice in the extract was replaced, or every one but those
        /// held back (``PracticeSummary/heldBack``), which keep their snapshot.
        case loaded
        /// Nothing changed: bad input (exit 1), or another load holds a practice (exit 2).
        case refused
        /// The same files were already loaded for the same practices (or the load is a dry run).
        case unchanged
        case dryRun = "dry_run"
        case failed
    }

    public var loadID: Int?
    public var status: Status
    /// Why the load was refused or failed, or what a no-op found.
    public var reason: String?
    /// True when the refusal is not about the input (another load holds a practice): exit 2.
    public var busy = false
    /// What would let a refused load go on (the extract date to give).
    public var remedy: RecruitError.Remedy?
    public var directory: String
    public var profile: String
    public var profileSHA256: String
    public var extractDate: String?
    public var dryRun = false
    public var forced = false
    public var maxRejectRate: Double
    public var files: [FileSummary] = []
    public var practices: [PracticeSummary] = []
    public var warnings: [String] = []
    public var elapsedSeconds: Double = 0
    /// Data rows read from the three data files.
    public var rowsRead = 0
    public var rowsLoaded = 0
    /// Rejected rows that belong to no practice this load can load (an
    /// unknown patient, a malformed row, a practice all of whose patients were rejected).
    public var rowsRejectedWithoutPractice = 0
    public var rowsPerSecond: Double = 0
    /// Earlier snapshots dropped after the swap, and ones left for the next load to drop.
    public var droppedLoads: [Int] = []
    public var timings: [String: Double] = [:]

    public struct FileSummary: Codable, Sendable {
        /// patients, events, prescriptions, or dictionary:NAME.
        public var kind: String
        public var name: String
        public var bytes: Int
        public var sha256: String
        public var rowsRead = 0
        public var rowsLoaded = 0
        public var rowsRejected = 0
        public var rowsSkipped = 0
        public var rejectRate: Double = 0
        /// Reject reasons with their counts.
        public var rejectReasons: [String: Int] = [:]
        /// The first rejected rows: line and reason.
        public var firstRejects: [RejectSample] = []
        public var seconds: Double = 0
    }

    public struct RejectSample: Codable, Sendable {
        public var line: Int
        public var reason: String
    }

    public struct Counts: Codable, Sendable, Equatable {
        public var patients = 0
        public var events = 0
        public var prescriptions = 0
    }

    public struct PracticeSummary: Codable, Sendable {
        public var practiceID: String
        /// The current snapshot before this load (nil: the practice is new).
        public var before: Counts?
        public var beforeLoadID: Int?
        public var beforeExtractDate: String?
        public var after: Counts
        /// Rows of the three files rejected that belong to this practice (its
        /// patients' rows, and their events and prescriptions).
        public var rejected = 0
        /// The newest event loaded for the practice.
        public var newestEvent: String?
        /// The plausibility checks the practice failed (``ExtractPlausibility``).
        public var findings: [ExtractPlausibility.Finding] = []
        /// Failed a check but let through by the user (`accept`).
        public var accepted = false
        /// Held back: failed a check and not accepted, so its earlier snapshot stays.
        public var heldBack: Bool { !findings.isEmpty && !accepted }
        /// The practice's snapshot was (or, in a dry run, would be) replaced.
        public var replaced: Bool { !heldBack }

        enum CodingKeys: String, CodingKey {
            case practiceID, before, beforeLoadID, beforeExtractDate, after, rejected, newestEvent, findings, accepted, heldBack
        }

        public init(practiceID: String, before: Counts? = nil, beforeLoadID: Int? = nil, beforeExtractDate: String? = nil,
                    after: Counts, rejected: Int = 0) {
            self.practiceID = practiceID
            self.before = before
            self.beforeLoadID = beforeLoadID
            self.beforeExtractDate = beforeExtractDate
            self.after = after
            self.rejected = rejected
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            practiceID = try c.decode(String.self, forKey: .practiceID)
            before = try c.decodeIfPresent(Counts.self, forKey: .before)
            beforeLoadID = try c.decodeIfPresent(Int.self, forKey: .beforeLoadID)
            beforeExtractDate = try c.decodeIfPresent(String.self, forKey: .beforeExtractDate)
            after = try c.decode(Counts.self, forKey: .after)
            rejected = try c.decodeIfPresent(Int.self, forKey: .rejected) ?? 0
            newestEvent = try c.decodeIfPresent(String.self, forKey: .newestEvent)
            findings = try c.decodeIfPresent([ExtractPlausibility.Finding].self, forKey: .findings) ?? []
            accepted = try c.decodeIfPresent(Bool.self, forKey: .accepted) ?? false
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(practiceID, forKey: .practiceID)
            try c.encodeIfPresent(before, forKey: .before)
            try c.encodeIfPresent(beforeLoadID, forKey: .beforeLoadID)
            try c.encodeIfPresent(beforeExtractDate, forKey: .beforeExtractDate)
            try c.encode(after, forKey: .after)
            try c.encode(rejected, forKey: .rejected)
            try c.encodeIfPresent(newestEvent, forKey: .newestEvent)
            try c.encode(findings, forKey: .findings)
            try c.encode(accepted, forKey: .accepted)
            try c.encode(heldBack, forKey: .heldBack)
        }
    }

    /// The practices held back (their earlier snapshot stays).
    public var heldBackPractices: [String] { practices.filter(\.heldBack).map(\.practiceID) }

    /// JSON with snake_case keys.
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
