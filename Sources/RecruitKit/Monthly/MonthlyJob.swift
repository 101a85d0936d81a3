import Foundation
import Logging
import Postgres

/// `recruit monthly`: the job a practice data manager runs from cron. It takes
/// one extract (or the newest of a drop folder), refuses one older than the
/// limit counted back from today, loads it (held-back practices keep their
/// snapshot), runs every cohort of the deployment as a draft (or issues them),
/// writes each run's outputs and a report, and the screening pack of each
/// issued run, and says what it did in one summary.
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
        /// Write each issued run's pack as this says (nil: packs are not written).
        public var packs: Packs?

        public init(directory: URL, profile: ExtractProfile, cohorts: [URL], codeLists: URL, outputRoot: URL, today: LocalDate) {
            self.directory = directory
            self.profile = profile
            self.cohorts = cohorts
            self.codeLists = codeLists
            self.outputRoot = outputRoot
            self.today = today
        }
    }

    /// What the packs the job writes say (`monthly.pack:`; `recruit pack`'s options).
    public struct Packs: Sendable {
        /// The study's name; nil: the cohort's name.
        public var study: String?
        /// How to reply; nil: «study contact», for the practice to fill in (the summary warns).
        public var contact: String?
        public var replyWithinDays = 28
        public var template: LetterTemplate
        public var reasonCodes: ReasonCodes = .defaults
        /// The deployment file the reason codes came from, for the command a draft's summary gives.
        public var settingsFile: String?

        public init(template: LetterTemplate) {
            self.template = template
        }

        /// The contact line a pack prints when none is set.
        public static let contactPlaceholder = "«study contact»"
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
            /// Invitees listed for the first time by the cohort (nil: not known).
            public var newlyEligible: Int?
            public var outputDirectory: String?
            public var report: String?
            /// Why it was not run (already run, refused), in words.
            public var note: String?
            /// The run's screening pack (nil: packs are off, or there is no run).
            public var pack: Pack?
        }

        /// A run's screening pack (`OUTPUT/COHORT/INDEX_DATE/pack/`, as `recruit pack` writes it).
        public struct Pack: Codable, Sendable {
            public enum Status: String, Codable, Sendable {
                /// Written by this job.
                case written
                /// Written by an earlier job (its README.txt is there): left as it is.
                case alreadyWritten = "already_written"
                /// The run is a draft: a pack needs an issued run; it is written once the run is issued.
                case awaitingIssue = "awaiting_issue"
                /// Writing it failed (the note says why): the job needs attention.
                case failed
            }

            public var status: Status
            public var directory: String
            public var practices: Int?
            public var invitees: Int?
            /// For a draft: the command that writes the pack once the run is issued.
            public var command: String?
            public var note: String?
        }

        public var status: Status
        public var extract: String
        public var extractDate: String?
        public var loadID: Int?
        public var loadStatus: String?
        public var practicesReplaced: [String] = []
        public var practicesHeldBack: [String] = []
        /// Whether the job writes the issued runs' packs (`monthly.packs`).
        public var packs = false
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
        summary.packs = options.packs != nil
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
                    entry.newlyEligible = earlier.newlyEligible
                    entry.outputDirectory = earlier.outputDirectory
                    entry.note = "already run on these snapshots: run \(earlier.runID)"
                    // A pack left to write (the run was issued since, or the job stopped before it): written now.
                    if let dir = earlier.outputDirectory {
                        entry.pack = pack(earlier.runID, status: earlier.status, cohort: cohort.name,
                                          directory: URL(fileURLWithPath: dir), options, &summary)
                        newWork = newWork || entry.pack?.status == .written
                    }
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
                entry.newlyEligible = outcome.summary.newlyEligible
                entry.outputDirectory = outcome.outputDirectory.path
                if let runID = outcome.runID {
                    let reportDir = out.appendingPathComponent("report")
                    let selection = YieldSelection(cohort: cohort.name, runIDs: options.issue ? [] : [runID])
                    _ = try YieldReportExporter.export(database: database, selection: selection, outDirectory: reportDir,
                                                       suppression: SmallNumberSuppression(), logger: logger, progress: stages)
                    entry.report = reportDir.appendingPathComponent("report.html").path
                    entry.pack = pack(runID, status: outcome.manifest.status == .issued ? .issued : .draft, cohort: cohort.name, directory: out, options, &summary)
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

    /// Writes the screening pack of run `runID` into `directory/pack` when it is
    /// issued and has none yet; for a draft, says how it will be written.
    /// Nil when packs are off. A pack that fails is reported and makes the job need attention.
    func pack(_ runID: Int, status: RunStatus, cohort: String, directory: URL, _ options: Options,
              _ summary: inout Summary) -> Summary.Pack? {
        guard let packs = options.packs else { return nil }
        let folder = directory.appendingPathComponent("pack")
        let study = packs.study ?? cohort
        let contact = packs.contact ?? Packs.contactPlaceholder
        var entry = Summary.Pack(status: .failed, directory: folder.path)
        guard status == .issued else {
            var words = ["recruit", "pack", String(runID), "--out", folder.path, "--study", study, "--contact", contact,
                         "--template", packs.template.file]
            if let settings = packs.settingsFile { words += ["--settings", settings] }
            entry.status = .awaitingIssue
            entry.command = words.map(Self.shellWord).joined(separator: " ")
            return entry
        }
        // README.txt is written last: a folder without it is a pack cut short, written again.
        if FileManager.default.fileExists(atPath: folder.appendingPathComponent("README.txt").path) {
            entry.status = .alreadyWritten
            return entry
        }
        do {
            if FileManager.default.fileExists(atPath: folder.path) { try FileManager.default.removeItem(at: folder) }
            let replyBy = options.today.adding(days: packs.replyWithinDays)
            let result = try PackWriter(database: database, logger: logger).write(
                runID: runID, to: folder, study: PackWriter.Study(name: study, contact: contact, replyBy: replyBy),
                template: packs.template, reasonCodes: packs.reasonCodes)
            entry.status = .written
            entry.practices = result.practices.count
            entry.invitees = result.practices.map(\.invitees).reduce(0, +)
            let warning = "monthly.pack.contact is not set: the letters say \(Packs.contactPlaceholder) where the study's contact goes, for the practice to fill in"
            if packs.contact == nil && !summary.warnings.contains(warning) { summary.warnings.append(warning) }
        } catch let error as RecruitError {
            entry.note = error.message
            summary.status = .needsAttention
        } catch {
            entry.note = "\(error)"
            summary.status = .needsAttention
        }
        return entry
    }

    /// A word as a POSIX shell reads it: quoted unless it is plain.
    static func shellWord(_ word: String) -> String {
        let plain = !word.isEmpty && word.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) && $0.isASCII || "-_./=:@%+,".unicodeScalars.contains($0)
        }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
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
