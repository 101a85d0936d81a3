import ArgumentParser
import Foundation
import Postgres
import RecruitKit

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a cohort over the loaded practices and record it, or reproduce a recorded run.",
        discussion: """
            Evaluates every patient of the practices' current snapshots in one statement and writes DIR/invitations.csv \
            (practice_id,patient_id by practice then patient, byte order; first_listed, true when no earlier issued run \
            of the cohort and no imported history listed the person; and the evidence of each inclusion criterion), \
            DIR/practices/PRACTICE/invitations.csv (one practice's rows, to send to that practice only), DIR/yield.csv \
            (practice_id,step,criterion,remaining per practice and for __total__) and DIR/run.json (the run's facts and \
            the SHA-256 of every output file).

            Without --dry-run the run is recorded as a draft; 'recruit runs issue RUN_ID' (or --issue here) issues it: \
            its invitees then count as recently invited and its output is frozen. A second issued run of the same cohort \
            and index date for a practice is refused unless --supersede names the run it replaces. With --dry-run only \
            an audit entry is recorded. A practice whose extract date is more than --max-extract-age days before the \
            index date is refused as stale unless --allow-stale. One run or load at a time per practice.

            --reproduce RUN_ID evaluates a recorded run again on its recorded inputs and compares the outputs' SHA-256.

            Exit codes: 0 done (reproduction: identical); 1 refused (bad cohort file, unknown, busy or stale practice, \
            a second issue, extract dates that differ without --index-date: nothing recorded; reproduction: different, \
            or the data it used is gone); 2 usage or environment error.
            """
    )

    @OptionGroup var cohort: RunCohortOptions
    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The folder to write the outputs to (created if missing; with --reproduce: default a temporary folder).", valueName: "dir"))
    var out: String?

    @Option(help: ArgumentHelp("The index date D (default: the loaded snapshots' extract date).", valueName: "YYYY-MM-DD"))
    var indexDate: String?

    @Option(name: .customLong("practice"), parsing: .upToNextOption, help: ArgumentHelp("Run for these practices only (repeatable; default: all loaded).", valueName: "id"))
    var practices: [String] = []

    @Flag(help: "Write the outputs and an audit entry only: record no run.")
    var dryRun = false

    @Flag(help: "Issue the run at once (default: record it as a draft, to issue after review with 'recruit runs issue').")
    var issue = false

    @Option(help: ArgumentHelp("Replace this issued run for the practices both cover (recorded).", valueName: "run-id"))
    var supersede: Int?

    @Flag(help: "Run practices whose snapshot is stale for the index date anyway (recorded with the run).")
    var allowStale = false

    @Option(help: ArgumentHelp("A practice's snapshot is stale when its extract date is more than this many days before the index date.",
                               valueName: "days"))
    var maxExtractAge = SnapshotStaleness.defaultMaxExtractAgeDays

    @Flag(help: "Wait for practices that another run or load holds, instead of refusing.")
    var wait = false

    @Option(help: ArgumentHelp("Evaluate recorded run RUN_ID again on its recorded inputs and compare the outputs.", valueName: "run-id"))
    var reproduce: Int?

    @Flag(help: "Print the run summary (counts per step in total, output paths and hashes) as one JSON object.")
    var json = false

    func validate() throws {
        _ = try parseIndexDate(indexDate)
        _ = try cohort.parameters()
        if let out, out.isEmpty { throw ValidationError("--out needs a folder") }
        if reproduce != nil {
            if cohort.file != nil { throw ValidationError("--reproduce reads the run's recorded definition: give no cohort file") }
            let others = [(dryRun, "--dry-run"), (issue, "--issue"), (supersede != nil, "--supersede"), (allowStale, "--allow-stale"),
                          (indexDate != nil, "--index-date"), (!practices.isEmpty, "--practice"), (!cohort.parameterOverrides.isEmpty, "--param")]
            if let (_, name) = others.first(where: { $0.0 }) {
                throw ValidationError("--reproduce uses the run's recorded inputs: \(name) cannot be given with it")
            }
            return
        }
        if cohort.file == nil { throw ValidationError("give the cohort file (or --reproduce RUN_ID)") }
        if out == nil { throw ValidationError("--out is required: the folder to write the outputs to") }
        if dryRun && issue { throw ValidationError("--dry-run and --issue cannot be used together") }
        if dryRun && supersede != nil { throw ValidationError("--supersede needs a recorded run: not with --dry-run") }
        if maxExtractAge < 0 { throw ValidationError("--max-extract-age must be 0 or more days") }
    }

    func run() throws {
        let db = try global.openDatabase()
        defer { db.close() }
        if let reproduce {
            try runReproduction(reproduce, db)
            return
        }
        let directory = URL(fileURLWithPath: out ?? "")
        // The library resolves the lists: lock check, manifest rules (descendants found in the loaded data too).
        let codeLists = DirectoryCodeListSource(directory: URL(fileURLWithPath: cohort.codeLists), connection: db.connection)
        if let library = try? CodeListLibrary(directory: codeLists.directory), library.isUnreviewed {
            global.logger.warning("\(CodeListLibrary.unreviewedWarning)")
        }
        let resolved = try CohortRun.resolve(CohortRun.Request(
            cohortFile: cohort.fileURL, codeLists: codeLists, outputDirectory: directory,
            indexDate: try parseIndexDate(indexDate), practices: practices.isEmpty ? nil : practices, parameters: try cohort.parameters(),
            safeguards: try cohort.safeguards()))
        let request = RunRequest(outputDirectory: directory, indexDate: try parseIndexDate(indexDate),
                                 practices: practices.isEmpty ? nil : practices,
                                 mode: dryRun ? .dryRun : (issue ? .issue : .draft), supersede: supersede, allowStale: allowStale,
                                 maxExtractAgeDays: maxExtractAge, wait: wait)
        let spinner = StageSpinner.make("run", quiet: global.quiet, json: json)
        let outcome: RunRecorder.Outcome
        do {
            defer { spinner?.end() }
            outcome = try RunRecorder(database: db, logger: global.logger, progress: spinner).run(resolved, request)
        }
        let summary = outcome.summary
        // The stale gate compares extract and index dates; an extract old by the calendar only warns here
        // (recruit monthly refuses it), as in tests and demos.
        let parts = Calendar.current.dateComponents([.year, .month, .day], from: Date())
        if let today = LocalDate(year: parts.year!, month: parts.month!, day: parts.day!),
           let oldest = outcome.manifest.snapshots.map(\.extractDate).min(), today.dayNumber - oldest.dayNumber > MonthlySettings().maxExtractAgeDays {
            let days = today.dayNumber - oldest.dayNumber, limit = MonthlySettings().maxExtractAgeDays
            global.logger.warning("the oldest snapshot run, extract date \(oldest), is \(days) days before today: recruit monthly would refuse it (more than \(limit) days)")
        }
        if json {
            guard case .object(var o) = try JSONValue.encoding(summary) else { return }
            o["run_id"] = outcome.runID.map { .int($0) } ?? .null
            o["status"] = .string(outcome.manifest.status.rawValue)
            o["issued_at"] = outcome.manifest.issuedAt.map { .string($0) } ?? .null
            o["supersedes_run_id"] = supersede.map { .int($0) } ?? .null
            o["run_json_sha256"] = .string(outcome.runJSONSHA256)
            o["stale_practices"] = .array(outcome.manifest.snapshots.filter(\.stale).map { .string($0.practiceID) })
            o["safeguard_steps"] = .array(resolved.criteria.filter(\.safeguard).map { .int($0.step) })
            try Output.json(o)
            return
        }
        let what = outcome.runID.map { "run \($0), \(outcome.manifest.status.rawValue)" } ?? "dry run"
        Output.line("\(summary.cohort) \(summary.version), index date \(summary.indexDate), \(summary.practices.count) practice(s): \(what)")
        let width = summary.steps.map { String($0.remaining).count }.max() ?? 1
        let safeguards = Set(resolved.criteria.filter(\.safeguard).map(\.step))
        for step in summary.steps {
            if safeguards.contains(step.step) && !safeguards.contains(step.step - 1) {
                Output.line("     \(Safeguards.section):")
            }
            let n = String(step.remaining)
            Output.line(String(format: "%3d  ", step.step) + String(repeating: " ", count: width - n.count) + n + "  " + step.label)
        }
        Output.line("invited: \(summary.invited)")
        Output.line("newly eligible (listed for the first time by this cohort): \(summary.newlyEligible)")
        let idWidth = summary.byPractice.map(\.practiceID.count).max() ?? 0
        for p in summary.byPractice {
            Output.line("  \(p.practiceID.padding(toLength: idWidth, withPad: " ", startingAt: 0))  \(p.invited) invited, \(p.newlyEligible) newly eligible")
        }
        let stale = outcome.manifest.snapshots.filter(\.stale).map(\.practiceID)
        if !stale.isEmpty { Output.line("stale snapshots run anyway (--allow-stale, recorded): \(stale.joined(separator: ", "))") }
        Output.line("wrote \(outcome.outputDirectory.path): invitations.csv, yield.csv, run.json, practices/ (\(summary.practices.count) folder(s))")
        if let runID = outcome.runID {
            if let issued = outcome.issued {
                Output.line("issued at \(issued.issuedAt)" + (issued.supersededRunID.map { "; supersedes run \($0) for \(issued.supersededPractices.joined(separator: ", "))" } ?? ""))
            } else {
                Output.line("review the lists, then issue: recruit runs issue \(runID)")
            }
        }
    }

    func runReproduction(_ runID: Int, _ db: Database) throws {
        let spinner = StageSpinner.make("reproduce", quiet: global.quiet, json: json)
        let result: RunReproducer.Reproduction
        do {
            defer { spinner?.end() }
            result = try RunReproducer(database: db, logger: global.logger, progress: spinner)
                .reproduce(runID, into: out.map { URL(fileURLWithPath: $0) }, wait: wait)
        }
        if json {
            try Output.json(result)
        } else {
            Output.line("Run \(runID) reproduced into \(result.outputDirectory): \(result.result.rawValue) "
                        + "(\(result.compared) output files compared; \(result.invited) invited, \(result.recordedInvited) recorded)")
            for path in result.differing { Output.line("  differs: \(path)") }
            for r in result.replacedSnapshots {
                Output.line("  note: practice \(r.practiceID)'s current snapshot is load \(r.currentLoadID.map(String.init) ?? "none"); "
                            + "the run's load \(r.runLoadID) is still stored and was used")
            }
        }
        if result.result != .identical { throw ExitCode(1) }
    }
}
