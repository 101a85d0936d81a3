import Foundation

/// What a load did: printed by `recruit load` (text or `--json`) and stored in `loads.summary`.
///
/// Holds names, counts, hashes and reasons only: never a patient identifier or a row value.
public struct LoadSummary: Codable, Sendable {
    public enum Status: String, Codable, Sendable {
        /// Every practice in the extract was replaced.
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
    }

    /// JSON with snake_case keys.
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
