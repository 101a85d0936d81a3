import ArgumentParser
import Foundation
import Postgres
import RecruitKit

struct MonthlyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monthly",
        abstract: "The monthly job, for cron: load an extract, run every cohort of the deployment, write the outputs and a summary.",
        discussion: """
            Takes the extract in DIR (with --drop, DIR is a drop folder and the job takes its newest extract), refuses one \
            dated more than --max-extract-age-days before today, loads it (a practice whose extract looks wrong is held \
            back, as recruit load does), runs each cohort of recruit.yaml's monthly.cohorts on the practices it holds as a \
            draft (or issues them with --issue or monthly.issue: true), writes each run's outputs and a yield report to \
            OUTPUT/COHORT/INDEX_DATE, and the screening pack of each run it issues to OUTPUT/COHORT/INDEX_DATE/pack (as \
            recruit pack does; monthly.packs: false turns it off, monthly.pack: says what the letters say; a draft's pack \
            is written by the next job once the run is issued), and prints one summary (also written to \
            OUTPUT/last-summary.json). Run again on the same extract it does nothing new and says so. A second copy \
            started while one runs exits 2 at once.

            Exit codes: 0 done, or nothing new; 1 refused (the extract is too old or bad; nothing was run) or needs \
            attention (practices held back, a cohort refused: the summary says which); 2 usage or environment error, or \
            another copy of the job is running.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The extract's folder (or, with --drop, the folder extracts are dropped in).", valueName: "dir"))
    var directory: String

    @Flag(help: "DIR is a drop folder: take its newest extract (by extract.json's extract_date).")
    var drop = false

    @Option(name: .customLong("cohort"), help: ArgumentHelp("A cohort file to run (repeatable; default: recruit.yaml's monthly.cohorts).", valueName: "file"))
    var cohorts: [String] = []

    @Flag(help: "Issue the runs at once instead of recording drafts for review.")
    var issue = false

    @Option(help: ArgumentHelp("Where the outputs and summaries go (default: recruit.yaml's monthly.output, else ./monthly).", valueName: "dir"))
    var out: String?

    @Option(help: ArgumentHelp("Refuse an extract dated more than this many days before today (default: monthly.max_extract_age_days, else 45).", valueName: "days"))
    var maxExtractAgeDays: Int?

    @Option(help: ArgumentHelp("The source layout: a built-in profile (canonical, cprd-gold) or a YAML profile file.", valueName: "name|file"))
    var profile = "canonical"

    @Option(name: .customLong("codelists"), help: ArgumentHelp("The code-list directory.", valueName: "dir"))
    var codeLists = "codelists"

    @Option(name: .customLong("settings"), help: ArgumentHelp(deploymentSettingsHelp, valueName: "file"))
    var settingsFile: String?

    @Option(name: .customLong("accept-shrink"), help: ArgumentHelp("Load a practice although its extract looks wrong (recorded). Repeatable.", valueName: "practice"))
    var acceptShrink: [String] = []

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    func validate() throws {
        if let maxExtractAgeDays, maxExtractAgeDays < 0 { throw ValidationError("--max-extract-age-days must be 0 or more") }
    }

    func run() throws {
        let settingsURL = settingsFile.map { URL(fileURLWithPath: $0) }
            ?? (FileManager.default.fileExists(atPath: "recruit.yaml") ? URL(fileURLWithPath: "recruit.yaml") : nil)
        let settings = try settingsURL.map(MonthlySettings.load(from:)) ?? MonthlySettings()
        let base = settingsURL?.deletingLastPathComponent() ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        func path(_ p: String) -> URL { p.hasPrefix("/") ? URL(fileURLWithPath: p) : base.appendingPathComponent(p).standardizedFileURL }
        let parts = Calendar.current.dateComponents([.year, .month, .day], from: Date())
        let today = LocalDate(year: parts.year!, month: parts.month!, day: parts.day!)!
        var options = MonthlyJob.Options(
            directory: URL(fileURLWithPath: directory).standardizedFileURL, profile: try ExtractProfile.resolve(profile),
            cohorts: cohorts.isEmpty ? settings.cohorts.map(path) : cohorts.map { URL(fileURLWithPath: $0).standardizedFileURL },
            codeLists: URL(fileURLWithPath: codeLists).standardizedFileURL,
            outputRoot: out.map { URL(fileURLWithPath: $0).standardizedFileURL } ?? path(settings.output), today: today)
        options.drop = drop
        options.issue = issue || settings.issue
        options.maxExtractAgeDays = maxExtractAgeDays ?? settings.maxExtractAgeDays
        options.safeguards = try loadSafeguards(settingsFile)
        options.acceptShrink = Set(acceptShrink)
        if settings.packs {
            // Read and checked before anything is loaded: a template naming an unknown field refuses the job.
            var packs = MonthlyJob.Packs(template: try LetterTemplate(fileAt: path(settings.pack.template)))
            packs.study = settings.pack.study
            packs.contact = settings.pack.contact
            packs.replyWithinDays = settings.pack.replyWithinDays
            packs.reasonCodes = try loadReasonCodes(settingsFile)
            packs.settingsFile = settingsURL.map { $0.standardizedFileURL.path }
            options.packs = packs
        }
        let db = try global.openDatabase()
        defer { db.close() }
        // On a terminal only: the load's bars, then a spinner for each later stage.
        let terminal = isatty(STDERR_FILENO) == 1 && !global.quiet && !json
        let view = terminal ? LoadProgressView(terminal: true) : nil
        let spinner = StageSpinner.make("monthly", quiet: global.quiet, json: json)
        let stages = spinner.map { AfterLoad(load: view, then: $0) }
        let summary: MonthlyJob.Summary
        do {
            defer { view?.end(); spinner?.end() }
            summary = try MonthlyJob(database: db, logger: global.logger, progress: view, stages: stages).run(options)
        } catch let busy as MonthlyJob.Busy {
            FileHandle.standardError.write(Data("recruit: another recruit monthly is running on \(busy.database); this one did nothing\n".utf8))
            throw ExitCode(2)
        }
        try FileManager.default.createDirectory(at: options.outputRoot, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(summary).write(to: options.outputRoot.appendingPathComponent("last-summary.json"))
        if json {
            try Output.json(JSONValue.encodingSnakeCase(summary))
        } else {
            Self.print(summary)
        }
        switch summary.status {
        case .done, .nothingNew: return
        case .refused, .needsAttention: throw ExitCode(1)
        }
    }

    static func printPack(_ pack: MonthlyJob.Summary.Pack, runID: Int?) {
        switch pack.status {
        case .written:
            Output.line("  pack:    \(pack.directory) (\(pack.practices ?? 0) practice(s), \(pack.invitees ?? 0) invitee(s))")
        case .alreadyWritten:
            Output.line("  pack:    \(pack.directory) (written before)")
        case .awaitingIssue:
            Output.line("  pack:    written once the run is issued (a pack needs an issued run): after recruit runs issue \(runID.map(String.init) ?? "RUN_ID"), "
                        + "the next recruit monthly on this extract writes it to \(pack.directory), or now: \(pack.command ?? "recruit pack")")
        case .failed:
            Output.line("  pack:    NOT WRITTEN: \(pack.note ?? "?")")
        }
    }

    static func print(_ s: MonthlyJob.Summary) {
        let headline: String
        switch s.status {
        case .done: headline = "Monthly job done"
        case .nothingNew: headline = "Monthly job: nothing new (this extract was loaded and every cohort run before)"
        case .needsAttention: headline = "Monthly job done, NEEDS ATTENTION"
        case .refused: headline = "Monthly job REFUSED, nothing was run"
        }
        Output.line("\(headline): \(s.extract) (extract date \(s.extractDate ?? "?"))")
        if let reason = s.reason { Output.line("reason: \(reason)") }
        if let load = s.loadID {
            Output.line("load \(load): \(s.loadStatus ?? "?")" + (s.practicesReplaced.isEmpty ? "" : "; replaced \(s.practicesReplaced.count) practice(s)")
                        + (s.practicesHeldBack.isEmpty ? "" : "; HELD BACK \(s.practicesHeldBack.joined(separator: ", ")) (their earlier snapshots stay)"))
        }
        for r in s.runs {
            var line = "\(r.cohort): " + (r.runID.map { "run \($0), " } ?? "") + r.status
            if let invited = r.invited { line += ", \(invited) invited" }
            if let newly = r.newlyEligible { line += " (\(newly) newly eligible)" }
            if let note = r.note { line += " (\(note))" }
            Output.line(line)
            if let dir = r.outputDirectory, r.note == nil { Output.line("  outputs: \(dir)") }
            if let report = r.report { Output.line("  report:  \(report)") }
            if r.status == "draft", let id = r.runID, r.note == nil { Output.line("  review the lists, then issue: recruit runs issue \(id)") }
            if let pack = r.pack { printPack(pack, runID: r.runID) }
        }
        if !s.packs && s.runs.contains(where: { $0.runID != nil }) { Output.line("packs: not written (monthly.packs: false)") }
        for w in s.warnings { Output.line("warning: \(w)") }
        Output.line(String(format: "%.1f s", s.seconds))
    }
}

/// Ends the load's bars when the first later stage starts, then forwards to the spinner.
final class AfterLoad: StageProgress, @unchecked Sendable {
    private var load: LoadProgressView?
    private let then: StageSpinner

    init(load: LoadProgressView?, then: StageSpinner) {
        self.load = load
        self.then = then
    }

    func stage(_ name: String, total: Int?) {
        load?.end()
        load = nil
        then.stage(name, total: total)
    }

    func advance(_ done: Int) { then.advance(done) }
}
