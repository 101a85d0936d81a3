import ArgumentParser
import Foundation
import Postgres
import RecruitKit

struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load a practice extract: replace every practice it holds, all or nothing.",
        discussion: """
            Reads the extract in DIR through a profile (the canonical format, cprd-gold, or a YAML \
            file; see docs/profiles.md), checks every row while streaming it into the database, keeps \
            rejected rows in load_rejects, and replaces each practice's previous snapshot in one short \
            transaction. A file whose rejected rows exceed --max-reject-rate refuses the whole load; so \
            does a column or value that identifies people (pseudonymised data only). Loading files \
            already loaded (same SHA-256) for the same practices is a no-op unless --force.

            A practice whose extract looks wrong is held back, its earlier snapshot kept: its registered \
            patients fell by more than --max-shrink against its last load, its newest event is more than \
            --max-event-lag-days before the extract date, or a file that had rows for it has none. The \
            rest of the load goes ahead; the audit trail records why. After checking the extract, \
            --accept-shrink PRACTICE lets it through (recorded).

            Exit codes: 0 loaded, nothing to do, or dry run done; 1 refused (bad input, or every \
            practice held back: nothing was changed); 2 usage or environment error, or a practice is \
            being loaded by another load (without --wait); 3 loaded in part: some practices were held \
            back (the others were replaced).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The extract's folder.", valueName: "dir"))
    var directory: String

    @Option(help: ArgumentHelp("The source layout: a built-in profile (canonical, cprd-gold) or a YAML profile file.", valueName: "name|file"))
    var profile = "canonical"

    @Option(help: ArgumentHelp("The date the data were taken (YYYY-MM-DD); overrides extract.json's extract_date.", valueName: "date"))
    var extractDate: String?

    @Option(help: ArgumentHelp("The largest share of any one file's rows that may be rejected before the load is refused.", valueName: "rate"))
    var maxRejectRate = 0.01

    @Option(help: ArgumentHelp("The largest share of a practice's registered patients that may go since its last load before it is held back.", valueName: "share"))
    var maxShrink = ExtractPlausibility.defaults.maxShrink

    @Option(help: ArgumentHelp("The most days a practice's newest event may lie before the extract date before it is held back.", valueName: "days"))
    var maxEventLagDays = ExtractPlausibility.defaults.maxEventLagDays

    @Option(name: .customLong("accept-shrink"), parsing: .singleValue,
            help: ArgumentHelp("Load a practice although its extract looks wrong (checked and found right; recorded). Repeatable.", valueName: "practice"))
    var acceptShrink: [String] = []

    @Flag(help: "Check and stream everything, report what would change, and change nothing.")
    var dryRun = false

    @Flag(help: "Reload even when the same files were already loaded for the same practices.")
    var force = false

    @Flag(help: "Wait for another load that holds one of the practices, instead of exiting.")
    var wait = false

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    func validate() throws {
        if let extractDate, LocalDate(iso: extractDate) == nil {
            throw ValidationError("--extract-date must be a date written YYYY-MM-DD")
        }
        guard maxRejectRate >= 0 && maxRejectRate <= 1 else {
            throw ValidationError("--max-reject-rate must be between 0 and 1 (0.01 is 1%)")
        }
        guard maxShrink >= 0 && maxShrink <= 1 else {
            throw ValidationError("--max-shrink must be between 0 and 1 (0.2 is 20%)")
        }
        guard maxEventLagDays >= 0 else {
            throw ValidationError("--max-event-lag-days must be 0 or more")
        }
    }

    func run() throws {
        let resolved = try ExtractProfile.resolve(profile)
        var options = ExtractLoader.Options(directory: URL(fileURLWithPath: directory).standardizedFileURL, profile: resolved)
        options.extractDate = extractDate.flatMap { LocalDate(iso: $0) }
        options.maxRejectRate = maxRejectRate
        options.dryRun = dryRun
        options.force = force
        options.wait = wait
        options.plausibility = ExtractPlausibility(maxShrink: maxShrink, maxEventLagDays: maxEventLagDays)
        options.accept = Set(acceptShrink)
        let logger = global.logger
        let db = try global.openDatabase()
        defer { db.close() }
        let view = global.quiet ? nil : LoadProgressView(terminal: isatty(2) == 1)
        let summary = try ExtractLoader(database: db, progress: view).load(options)
        view?.end()
        _ = logger
        if json {
            let data = try LoadSummary.encoder().encode(summary)
            print(String(decoding: data, as: UTF8.self))
        } else {
            LoadReport.print(summary)
        }
        let exitCode = Self.exitCode(for: summary)
        if exitCode == 3 {
            let held = summary.heldBackPractices
            FileHandle.standardError.write(Data("recruit: loaded in part: \(held.count) practice(s) held back (\(held.joined(separator: ", "))), their earlier snapshots stay; check each extract, then reload with --accept-shrink PRACTICE if it is right\n".utf8))
            throw ExitCode(exitCode)
        }
        if exitCode != 0 {
            if let reason = summary.reason {
                let hint = summary.busy ? "; try again when it has finished, or give --wait to wait for it"
                    : summary.remedy.map { "; " + $0.commandLineText } ?? ""
                FileHandle.standardError.write(Data("recruit: \(summary.status == .refused ? "refused" : "failed"): \(reason)\(hint)\n".utf8))
            }
            throw ExitCode(exitCode)
        }
    }

    /// 0 loaded, unchanged or a dry run; 1 refused; 2 busy (another load or run holds a practice) or failed;
    /// 3 loaded or a dry run done with some practices held back.
    static func exitCode(for summary: LoadSummary) -> Int32 {
        switch summary.status {
        case .loaded, .dryRun: return summary.heldBackPractices.isEmpty ? 0 : 3
        case .unchanged: return 0
        case .refused: return summary.busy ? 2 : 1
        case .failed: return 2
        }
    }
}
