import ArgumentParser
import Foundation
import RecruitKit

struct FeedbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedback",
        abstract: "Record practices' feedback on invitation lists (who was screened out, invited, responded, …).",
        subcommands: [Import.self]
    )

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a feedback CSV: practice_id,patient_id,run_id,outcome,date[,reason_code][,reason][,channel].",
            discussion: """
                outcome: screened_out, invited, not_invited, declined, opted_out, responded, ineligible, consented, withdrawn. \
                reason: for ineligible, one of in_work, off_sick_with_job, not_chronic_pain, other; for screened_out, \
                free text that stays at the practice (never stored). reason_code: for screened_out or declined, one of \
                the deployment's codes (recruit.yaml reason_codes:; defaults screened_out: clinical, recent_life_event, \
                safeguarding, capacity, other; declined: not_interested, too_unwell, no_time, other), stored and counted. \
                channel: empty or letter (the practice's letter), or self_referral, gp_referral, other for someone who came \
                another way: a referral, recorded against the run's cohort and practice, whose outcome is a reply (declined, \
                opted_out, responded, ineligible, consented, withdrawn), with the person's patient_id when they are in the \
                practice's records and patient_id empty (one row per person) when not. All-or-nothing: any bad row refuses the file, \
                with every problem's line. The same file again is a no-op. Exit 0 imported or already imported; 1 refused.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("The feedback CSV file.", valueName: "file")) var file: String
        @Flag(help: "Print the result as JSON.") var json = false
        @Option(name: .customLong("settings"), help: ArgumentHelp("The deployment settings: the reason codes (default recruit.yaml here, if any).", valueName: "file"))
        var settingsFile: String?

        func run() throws {
            let codes = try loadReasonCodes(settingsFile)
            let db = try global.openDatabase()
            defer { db.close() }
            let spinner = StageSpinner.make("feedback import", quiet: global.quiet, json: json)
            try ImportOutput.run(json: json) {
                defer { spinner?.end() }
                var importer = FeedbackImporter(database: db, logger: global.logger, progress: spinner)
                importer.reasonCodes = codes
                return try importer.importFile(URL(fileURLWithPath: file))
            }
        }
    }
}
