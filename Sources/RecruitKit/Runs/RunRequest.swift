import Foundation
import Postgres

/// What `recruit run` is asked to do, beyond the cohort itself.
public struct RunRequest: Sendable {
    /// What happens to the result.
    public enum Mode: String, Sendable {
        /// Write the outputs; record nothing but an audit entry.
        case dryRun = "dry_run"
        /// Record the run as a draft, to be reviewed and issued later.
        case draft
        /// Record the run and issue it at once.
        case issue
    }

    public var outputDirectory: URL
    /// D; nil for the practices' (common) extract date.
    public var indexDate: LocalDate?
    /// The practices to run for; nil or empty for every practice with a loaded snapshot.
    public var practices: [String]?
    public var mode: Mode
    /// The issued run this run replaces for the practices they share.
    public var supersede: Int?
    /// Run even for practices whose snapshot is stale (recorded).
    public var allowStale: Bool
    /// A snapshot is stale when its extract date is more than this many days before D.
    public var maxExtractAgeDays: Int
    /// Wait for practices locked by another run or load, rather than refusing.
    public var wait: Bool

    public init(outputDirectory: URL, indexDate: LocalDate? = nil, practices: [String]? = nil, mode: Mode = .draft,
                supersede: Int? = nil, allowStale: Bool = false,
                maxExtractAgeDays: Int = SnapshotStaleness.defaultMaxExtractAgeDays, wait: Bool = false) {
        self.outputDirectory = outputDirectory
        self.indexDate = indexDate
        self.practices = practices
        self.mode = mode
        self.supersede = supersede
        self.allowStale = allowStale
        self.maxExtractAgeDays = maxExtractAgeDays
        self.wait = wait
    }

    /// The practices asked for, deduplicated in byte order; nil for all.
    public var requestedPractices: [String]? {
        guard let practices, !practices.isEmpty else { return nil }
        return Array(Set(practices)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
