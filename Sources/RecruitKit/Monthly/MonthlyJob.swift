import Foundation
import Logging
import Postgres

/// `recruit monthly`: the job a practice data manager runs from cron. It takes
/// one extract (or the newest of a drop folder), refuses one older than the
/// limit counted back from today, loads it (held-back practices keep their
/// snapshot), runs every cohort of the deployment as a draft (or issues them),
/// writes each run's outputs and a report, and says what it did in one summary.
///
/// Idempotent: run again on the same extract it loads nothing (the files are
/// already loaded) and runs nothing (each cohort already has a run on exactly
/// these snapshots), and says so. One copy at a time per database: an advisory
/// lock on a connection of its own, released when the job ends or dies.
public struct MonthlyJob {
    public struct Options: Sendable {
        /// An extract folder, or a drop folder of extract folders (`drop`).
        public var directory: URL
        public var drop = false
        public var profile: ExtractProfile
        /// The cohort files to run, in order.
        public var cohorts: [URL]
        public var codeLists: URL
        public var safeguards: Safeguards = .defaults
        /// Issue the runs instead of recording drafts.
        public var issue = false
        /// Where each run's outputs, the reports and the summaries go.
        public var outputRoot: URL
        /// An extract dated more than this many days before `today` is refused.
        public var maxExtractAgeDays = 45
        public var today: LocalDate
        /// Passed to the loader.
        public var acceptShrink: Set<String> = []

        public init(directory: URL, profile: ExtractProfile, cohorts: [URL], codeLists: URL, outputRoot: URL, today: LocalDate) {
            self.directory = directory
            self.profile = profile
            self.cohorts = cohorts
            self.codeLists = codeLists
            self.outputRoot = outputRoot
            self.today = today
        }
    }

    /// What the job did, for the summary (text, `--json`, `monthly.json`).
    public struct Summary: Codable, Sendable {
        public enum Status: String, Codable, Sendable {
            /// Something new was loaded or run.
            case done
            /// The extract was loaded and every cohort run before: nothing new.
            case nothingNew = "nothing_new"
            /// Done, but practices were held back or a cohort was refused: a person should look.
            case needsAttention = "needs_attention"
            /// Nothing was done: the extract was refused (too old, bad input).
            case refused
        }

        public struct Run: Codable, Sendable {
            public var cohort: String
            public var file: String
            public var runID: Int?
            public var status: String
            public var invited: Int?
            public var outputDirectory: String?
            public var report: String?
            /// Why it was not run (already run, refused), in words.
            public var note: String?
        }

        public var status: Status
        public var extract: String
        public var extractDate: String?
        public var loadID: Int?
        public var loadStatus: String?
        public var practicesReplaced: [String] = []
        public var practicesHeldBack: [String] = []
        public var runs: [Run] = []
        public var warnings: [String] = []
        public var reason: String?
        public var startedAt: String
        public var seconds: Double = 0
    }

    /// Another copy of the job holds the lock.
    public struct Busy: Error, Sendable {
        public var database: String
    }

    let database: Database
    let logger: Logger
    let progress: (any LoadProgress)?
    let stages: (any StageProgress)?

    /// `progress` is told the load's files; `stages` every later stage (each cohort's run, its report).
    public init(database: Database, logger: Logger, progress: (any LoadProgress)? = nil, stages: (any StageProgress)? = nil) {
        self.database = database
        self.logger = logger
        self.progress = progress
        self.stages = stages
    }

    /// Runs the job.
    ///
    /// - Throws: ``Busy`` when another copy runs; ``RecruitError`` for an
    ///   unusable drop folder or cohort file. A refused extract is a summary
    ///   with status `refused`, not an error.
    public func run(_ options: Options) throws -> Summary {
        let started = Date()
        let lockConnection = try database.newConnection()
        defer { lockConnection.close() }
        guard try lockConnection.tryAdvisoryLock(database.lockKey("monthly")) else {
            throw Busy(database: database.connection.target)
        }
        let directory = try options.drop ? Self.newestExtract(in: options.directory) : options.directory
        var summary = Summary(status: .done, extract: directory.path, startedAt: ISO8601DateFormatter().string(from: started))
        defer { _ = summary }
        let extractDate = Self.extractDate(of: directory)
        summary.extractDate = extractDate?.description
        if let extractDate, options.today.dayNumber - extractDate.dayNumber > options.maxExtractAgeDays {
            summary.status = .refused
            summary.reason = "the extract is dated \(extractDate), \(options.today.dayNumber - extractDate.dayNumber) days before today (\(options.today)); "
                + "the monthly job takes extracts at most \(options.maxExtractAgeDays) days old"
            try AuditLog.append(on: database.connection, action: "monthly.refused", subjects: [:],
                                payload: ["extract": .string(directory.path), "reason": .string(summary.reason!)])
            return finish(summary, started, options)
        }

        // 1. Load.
        var load = ExtractLoader.Options(directory: directory, profile: options.profile)
        load.accept = options.acceptShrink
        let loaded = try ExtractLoader(database: database, progress: progress).load(load)
        summary.loadID = loaded.loadID
        summary.loadStatus = loaded.status.rawValue
        summary.warnings += loaded.warnings
        summary.extractDate = loaded.extractDate ?? summary.extractDate
        switch loaded.status {
        case .refused, .failed:
            summary.status = .refused
            summary.reason = "the load was \(loaded.status.rawValue): \(loaded.reason ?? "see the loads record")"
            return finish(summary, started, options)
        case .loaded:
            summary.practicesReplaced = loaded.practices.filter(\.replaced).map(\.practiceID)
            summary.practicesHeldBack = loaded.heldBackPractices
        case .unchanged, .dryRun:
            break
        }
        guard let date = loaded.extractDate.flatMap({ LocalDate(iso: $0) }) else {
            summary.status = .refused
            summary.reason = "the extract has no extract date"
            return finish(summary, started, options)
        }

        // 2. Every cohort, on the practices this extract holds.
        // Held-back practices keep an older snapshot: they wait for the next good extract.
        let practices = loaded.practices.filter(\.replaced).map(\.practiceID)
        var newWork = loaded.status == .loaded
        for file in options.cohorts {
            var entry = Summary.Run(cohort: file.deletingPathExtension().lastPathComponent, file: file.path, status: "not run")
            do {
                let cohort = try CohortRun.resolve(CohortRun.Request(
                    cohortFile: file, codeLists: DirectoryCodeListSource(directory: options.codeLists, connection: database.connection),
                    outputDirectory: options.outputRoot, indexDate: date, practices: practices, safeguards: options.safeguards))
                entry.cohort = cohort.name
                if let earlier = try Self.existingRun(cohort, indexDate: date, practices: practices, on: database.connection) {
                    entry.runID = earlier.runID
                    entry.status = earlier.status.rawValue
                    entry.invited = earlier.invited
                    entry.outputDirectory = earlier.outputDirectory
                    entry.note = "already run on these snapshots: run \(earlier.runID)"
                    summary.runs.append(entry)
                    continue
                }
                let out = Self.freshFolder(options.outputRoot.appendingPathComponent(cohort.name).appendingPathComponent(date.description))
                let request = RunRequest(outputDirectory: out, indexDate: date, practices: practices,
                                         mode: options.issue ? .issue : .draft)
                let outcome = try RunRecorder(database: database, logger: logger, progress: stages).run(cohort, request)
                newWork = true
                entry.runID = outcome.runID
                entry.status = outcome.manifest.status.rawValue
                entry.invited = outcome.summary.invited
                entry.outputDirectory = outcome.outputDirectory.path
                if let runID = outcome.runID {
                    let reportDir = out.appendingPathComponent("report")
                    let selection = YieldSelection(cohort: cohort.name, runIDs: options.issue ? [] : [runID])
                    _ = try YieldReportExporter.export(database: database, selection: selection, outDirectory: reportDir,
                                                       suppression: SmallNumberSuppression(), logger: logger, progress: stages)
                    entry.report = reportDir.appendingPathComponent("report.html").path
                }
            } catch let error as RecruitError {
                entry.status = "refused"
                entry.note = error.message
                summary.status = .needsAttention
            } catch let error as CohortDefinitionError {
                entry.status = "refused"
                entry.note = error.description
                summary.status = .needsAttention
            }
            summary.runs.append(entry)
        }
        if !summary.practicesHeldBack.isEmpty { summary.status = .needsAttention }
        if summary.status == .done && !newWork { summary.status = .nothingNew }
        try AuditLog.append(on: database.connection, action: "monthly", subjects: summary.loadID.map { ["load_id": .int($0)] } ?? [:],
                            payload: ["status": .string(summary.status.rawValue), "extract": .string(directory.path),
                                      "runs": .array(summary.runs.compactMap { $0.runID.map { .int($0) } })])
        return finish(summary, started, options)
    }

    func finish(_ summary: Summary, _ started: Date, _ options: Options) -> Summary {
        var s = summary
        s.seconds = (Date().timeIntervalSince(started) * 1000).rounded() / 1000
        return s
    }

    /// The run of this cohort (same definition, parameters and safeguards), draft or issued, at this
    /// index date, whose practices are exactly `practices` on their current snapshots.
    static func existingRun(_ cohort: ResolvedCohort, indexDate: LocalDate, practices: [String], on c: Connection) throws -> RunRecord? {
        let current = Dictionary(uniqueKeysWithValues: try PracticeSnapshot.current(on: c, practices: practices).map { ($0.practiceID, $0.loadID) })
        let candidates = try RunRecord.loadAll(on: c, where: """
            r.cohort_sha256 = \(cohort.definition.sha256) AND r.index_date = \(indexDate) AND r.status IN ('draft', 'issued')
            """)
        return candidates.reversed().first { run in
            run.parameters == cohort.parameters && run.safeguards == cohort.safeguards
                && Set(run.practiceIDs) == Set(practices) && run.practices.allSatisfy { current[$0.practiceID] == $0.loadID }
        }
    }

    /// `url`, or `url-2`, `url-3`, … : the first that does not exist yet.
    static func freshFolder(_ url: URL) -> URL {
        var candidate = url
        var n = 2
        while FileManager.default.fileExists(atPath: candidate.path) {
            candidate = url.deletingLastPathComponent().appendingPathComponent("\(url.lastPathComponent)-\(n)")
            n += 1
        }
        return candidate
    }

    /// The extract date extract.json gives, if any.
    static func extractDate(of directory: URL) -> LocalDate? {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("extract.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let text = object["extract_date"] as? String else { return nil }
        return LocalDate(iso: text)
    }

    /// The drop folder's newest extract: the subfolder with the latest extract
    /// date (then name) in its extract.json.
    static func newestExtract(in drop: URL) throws -> URL {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: drop.path)) ?? []
        let extracts = names.map { drop.appendingPathComponent($0) }.compactMap { url in extractDate(of: url).map { (url, $0) } }
        guard let newest = extracts.max(by: { ($0.1.dayNumber, $0.0.lastPathComponent) < ($1.1.dayNumber, $1.0.lastPathComponent) }) else {
            throw RecruitError.refused("the drop folder \(drop.path) holds no extract (a folder with an extract.json)")
        }
        return newest.0
    }
}
