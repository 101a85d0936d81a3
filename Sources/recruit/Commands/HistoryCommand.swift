import ArgumentParser
import Foundation
import RecruitKit

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Record contact history from before recruit, so that nobody is written to twice from the first run.",
        subcommands: [Import.self]
    )

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import earlier invitations or screened-out patients for a cohort.",
            discussion: """
                --invitations: CSV practice_id,patient_id,index_date (people invited by an earlier search: criterion 11). \
                --screened-out: CSV practice_id,patient_id[,outcome][,date], outcome screened_out (default), declined or \
                opted_out (criterion 12). Give either or both (a handover's two files go in one transaction: both or neither). \
                Patients need not be in a loaded extract. All-or-nothing; an identical row twice is refused with its line; \
                the same file again is a no-op. With --json: one object per file, an array when both are given. \
                Exit 0 imported or already imported; 1 refused.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("The cohort the history is for (the cohort file's name).", valueName: "name"))
        var cohort: String
        @Option(help: ArgumentHelp("A CSV of earlier invitations: practice_id,patient_id,index_date.", valueName: "file"))
        var invitations: String?
        @Option(name: .customLong("screened-out"),
                help: ArgumentHelp("A CSV of people screened out, declined or opted out: practice_id,patient_id[,outcome][,date].", valueName: "file"))
        var screenedOut: String?
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            if invitations == nil && screenedOut == nil {
                throw ValidationError("give --invitations FILE, --screened-out FILE, or both")
            }
        }

        func run() throws {
            let db = try global.openDatabase()
            defer { db.close() }
            let files: [(url: URL, kind: HistoryImporter.Kind)] =
                [invitations.map { (URL(fileURLWithPath: $0), .invitations) }, screenedOut.map { (URL(fileURLWithPath: $0), .screenedOut) }]
                .compactMap { $0 }
            let spinner = StageSpinner.make("history import", quiet: global.quiet, json: json)
            try ImportOutput.run(json: json) {
                defer { spinner?.end() }
                return try HistoryImporter(database: db, logger: global.logger, progress: spinner).importFiles(files, cohort: cohort)
            }
        }
    }
}
