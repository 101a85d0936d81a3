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

            Exit codes: 0 loaded, nothing to do, or dry run done; 1 refused (bad input: nothing was \
            changed); 2 usage or environment error, or a practice is being loaded by another load \
            (without --wait).
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
    }

    func run() throws {
        let resolved = try ExtractProfile.resolve(profile)
        var options = ExtractLoader.Options(directory: URL(fileURLWithPath: directory).standardizedFileURL, profile: resolved)
        options.extractDate = extractDate.flatMap { LocalDate(iso: $0) }
        options.maxRejectRate = maxRejectRate
        options.dryRun = dryRun
        options.force = force
        options.wait = wait
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
        if exitCode != 0 {
            if let reason = summary.reason {
                let hint = summary.busy ? "; try again when it has finished, or give --wait to wait for it"
                    : summary.remedy.map { "; " + $0.commandLineText } ?? ""
                FileHandle.standardError.write(Data("recruit: \(summary.status == .refused ? "refused" : "failed"): \(reason)\(hint)\n".utf8))
            }
            throw ExitCode(exitCode)
        }
    }

    /// 0 loaded, unchanged or a dry run; 1 refused; 2 busy (another load or run holds a practice) or failed.
    static func exitCode(for summary: LoadSummary) -> Int32 {
        switch summary.status {
        case .loaded, .unchanged, .dryRun: return 0
        case .refused: return summary.busy ? 2 : 1
        case .failed: return 2
        }
    }
}
