import Foundation
import Postgres

/// `DIR/run.json`: every fact needed to know what a run was and to check or
/// reproduce it — the run, the cohort definition by SHA-256, its parameters,
/// the index date and history instant, each code list's version and hashes,
/// the snapshot (load) of each practice, the tool, the user, the times, the
/// counts, and the SHA-256 of every output file.
///
/// It names no patient.
public struct RunManifest: Codable, Sendable, Equatable {
    public struct Cohort: Codable, Sendable, Equatable {
        public var name: String
        public var version: String
        public var sha256: String
        /// The file the definition was read from (absent in a reproduction: the stored text was used).
        public var file: String?
    }

    public struct Snapshot: Codable, Sendable, Equatable {
        public var practiceID: String
        public var loadID: Int
        public var extractDate: LocalDate
        /// The extract was older than the staleness limit and the run went ahead with --allow-stale.
        public var stale: Bool

        enum CodingKeys: String, CodingKey {
            case practiceID = "practice_id", loadID = "load_id", extractDate = "extract_date", stale
        }
    }

    public struct Options: Codable, Sendable, Equatable {
        /// Days an extract may be older than the index date before a practice is refused as stale.
        public var maxExtractAgeDays: Int
        public var allowStale: Bool
        /// The practices asked for; nil: every practice with a loaded snapshot.
        public var practicesRequested: [String]?
        /// The run whose invitations this run replaces for its practices.
        public var supersedesRunID: Int?

        enum CodingKeys: String, CodingKey {
            case maxExtractAgeDays = "max_extract_age_days", allowStale = "allow_stale"
            case practicesRequested = "practices_requested", supersedesRunID = "supersedes_run_id"
        }

        /// Every key, null when absent (an auditor reads "all practices" from null, not from a missing key).
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(maxExtractAgeDays, forKey: .maxExtractAgeDays)
            try c.encode(allowStale, forKey: .allowStale)
            try c.encode(practicesRequested, forKey: .practicesRequested)
            try c.encode(supersedesRunID, forKey: .supersedesRunID)
        }
    }

    public struct Step: Codable, Sendable, Equatable {
        public var step: Int
        public var criterion: String
        public var label: String
        public var remaining: Int
    }

    public struct Counts: Codable, Sendable, Equatable {
        public var practices: Int
        /// Patients in the practices' extracts (step 0, all practices).
        public var inExtract: Int
        public var invited: Int
        public var invitedByPractice: [String: Int]
        /// Invitees listed for the first time by the cohort (``FirstListing``), in
        /// total and per practice; nil (null) for runs recorded before the flags.
        public var newlyEligible: Int?
        public var newlyEligibleByPractice: [String: Int]?
        /// Patients left after each step, all practices together.
        public var steps: [Step]

        enum CodingKeys: String, CodingKey {
            case practices, inExtract = "in_extract", invited, invitedByPractice = "invited_by_practice"
            case newlyEligible = "newly_eligible", newlyEligibleByPractice = "newly_eligible_by_practice", steps
        }

        public init(practices: Int, inExtract: Int, invited: Int, invitedByPractice: [String: Int], newlyEligible: Int? = nil,
                    newlyEligibleByPractice: [String: Int]? = nil, steps: [Step]) {
            self.practices = practices
            self.inExtract = inExtract
            self.invited = invited
            self.invitedByPractice = invitedByPractice
            self.newlyEligible = newlyEligible
            self.newlyEligibleByPractice = newlyEligibleByPractice
            self.steps = steps
        }

        /// Every key, null when absent.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(practices, forKey: .practices)
            try c.encode(inExtract, forKey: .inExtract)
            try c.encode(invited, forKey: .invited)
            try c.encode(invitedByPractice, forKey: .invitedByPractice)
            try c.encode(newlyEligible, forKey: .newlyEligible)
            try c.encode(newlyEligibleByPractice, forKey: .newlyEligibleByPractice)
            try c.encode(steps, forKey: .steps)
        }
    }

    /// Nil for a dry run and for a reproduction.
    public var runID: Int?
    /// `dry_run`, `draft`, `issued`, or `reproduction`.
    public var status: Status

    /// A run's status, or a reproduction's (which is never a row of `runs`).
    public enum Status: String, Sendable, Codable, Hashable {
        case draft, issued
        case dryRun = "dry_run"
        case reproduction

        public init(_ status: RunStatus) {
            switch status {
            case .draft: self = .draft
            case .issued: self = .issued
            case .dryRun: self = .dryRun
            }
        }
    }
    /// The run a reproduction reproduced.
    public var reproducesRunID: Int?
    public var cohort: Cohort
    /// Every parameter of the cohort with the value used.
    public var parameters: [String: Int]
    public var options: Options
    public var indexDate: LocalDate
    /// Run history (criteria 11 and 12) recorded before this instant was used.
    public var historyAsOf: String
    public var codelists: [RecordedCodeList]
    public var snapshots: [Snapshot]
    public var toolVersion: String
    public var osUser: String
    public var startedAt: String
    public var finishedAt: String
    public var issuedAt: String?
    public var counts: Counts
    /// SHA-256 of each output file, by path relative to the output folder (run.json aside).
    public var outputs: [String: String]

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", status, reproducesRunID = "reproduces_run_id", cohort, parameters, options
        case indexDate = "index_date", historyAsOf = "history_as_of", codelists, snapshots
        case toolVersion = "tool_version", osUser = "os_user", startedAt = "started_at", finishedAt = "finished_at"
        case issuedAt = "issued_at", counts, outputs
    }

    /// Every key, null when absent.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(runID, forKey: .runID)
        try c.encode(status, forKey: .status)
        try c.encode(reproducesRunID, forKey: .reproducesRunID)
        try c.encode(cohort, forKey: .cohort)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(options, forKey: .options)
        try c.encode(indexDate, forKey: .indexDate)
        try c.encode(historyAsOf, forKey: .historyAsOf)
        try c.encode(codelists, forKey: .codelists)
        try c.encode(snapshots, forKey: .snapshots)
        try c.encode(toolVersion, forKey: .toolVersion)
        try c.encode(osUser, forKey: .osUser)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(issuedAt, forKey: .issuedAt)
        try c.encode(counts, forKey: .counts)
        try c.encode(outputs, forKey: .outputs)
    }

    /// The counts of an evaluation, with the newly eligible when its flags are known.
    public static func counts(of evaluation: CohortEvaluation, firstListing: FirstListing?) -> Counts {
        var byPractice: [String: Int] = [:]
        for p in evaluation.practices { byPractice[p.practiceID] = 0 }
        for i in evaluation.invitations { byPractice[i.practiceID, default: 0] += 1 }
        let labels = Dictionary(uniqueKeysWithValues: evaluation.criteria.map { ($0.step, $0.label) })
        let steps = evaluation.totals.map {
            Step(step: $0.step, criterion: $0.criterion, label: $0.step == 0 ? "in the extract" : labels[$0.step] ?? "", remaining: $0.remaining)
        }
        let newly = firstListing.map { FirstListing.newlyEligible(evaluation.invitations, $0, practices: evaluation.practices.map(\.practiceID)) }
        return Counts(practices: evaluation.practices.count, inExtract: evaluation.totals.first?.remaining ?? 0,
                      invited: evaluation.invitations.count, invitedByPractice: byPractice,
                      newlyEligible: newly.map { $0.values.reduce(0, +) }, newlyEligibleByPractice: newly, steps: steps)
    }

    /// The JSON text as written to run.json (sorted keys, indented, final newline).
    public func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// Writes `directory/run.json`.
    ///
    /// - Returns: the file's SHA-256.
    @discardableResult
    public func write(to directory: URL) throws -> String {
        try RunOutputWriter.writeFile(try jsonText(), to: directory, RunOutputWriter.runFile)
    }

    /// Reads a run.json.
    public static func read(from url: URL) throws -> RunManifest {
        try JSONDecoder().decode(RunManifest.self, from: Data(contentsOf: url))
    }
}
