import ArgumentParser
import Foundation
import Postgres
import RecruitKit

struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Write an issued run's practice packs: screening sheet, pre-filled feedback file, mail-merge fields and letter.",
        discussion: """
            For each practice of the run, DIR/PRACTICE/ gets screening.html (the GP's sheet: A4, 18 invitees a page, \
            each with the pseudonymised id, age band, sex and the evidence that listed them, and boxes for the decision), \
            feedback.csv (what recruit feedback import reads, pre-filled with the run, the practice and each invitee; rows \
            left empty are skipped and reported on import), mailmerge.csv (the fields of the practice's mail-merge, keyed \
            by the pseudonymised id) and letter.html (the letter from --template, Markdown with {{fields}}). recruit holds \
            no names or addresses: the practice re-identifies with its own key and merges them itself (DIR/README.txt). \
            Recorded in the audit trail (pack).

            Exit codes: 0 written; 1 refused (a run that is not issued, a folder that holds files, a template naming an \
            unknown field); 2 usage or environment error.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The issued run.", valueName: "run-id"))
    var runID: Int

    @Option(help: ArgumentHelp("The folder to write the pack to (new or empty).", valueName: "dir"))
    var out: String

    @Option(help: ArgumentHelp("The study's name, as the letter and the sheets give it.", valueName: "name"))
    var study: String

    @Option(help: ArgumentHelp("How to reply to the study team (a telephone number, an e-mail or postal address).", valueName: "text"))
    var contact: String

    @Option(help: ArgumentHelp("The date replies are wanted by (default: 28 days from today).", valueName: "date"))
    var replyBy: String?

    @Option(help: ArgumentHelp("The letter template (Markdown with {{fields}}).", valueName: "file"))
    var template = "templates/invitation-letter.md"

    @Option(name: .customLong("settings"), help: ArgumentHelp("The deployment settings: the reason codes the sheet offers (default recruit.yaml here, if any).", valueName: "file"))
    var settingsFile: String?

    @Flag(help: "Print the result as one JSON object.")
    var json = false

    func validate() throws {
        if let replyBy, LocalDate(iso: replyBy) == nil { throw ValidationError("--reply-by must be a date written YYYY-MM-DD") }
        if study.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--study needs the study's name") }
    }

    func run() throws {
        let letter = try LetterTemplate(fileAt: URL(fileURLWithPath: template))
        let parts = Calendar.current.dateComponents([.year, .month, .day], from: Date())
        let today = LocalDate(year: parts.year!, month: parts.month!, day: parts.day!)!
        let by = replyBy.flatMap { LocalDate(iso: $0) } ?? today.adding(days: 28)
        let db = try global.openDatabase()
        defer { db.close() }
        let result = try PackWriter(database: db, logger: global.logger)
            .write(runID: runID, to: URL(fileURLWithPath: out).standardizedFileURL,
                   study: PackWriter.Study(name: study, contact: contact, replyBy: by), template: letter,
                   reasonCodes: try loadReasonCodes(settingsFile))
        if json {
            try Output.json(JSONValue.encodingSnakeCase(result))
            return
        }
        Output.line("Pack of run \(runID) written to \(result.directory): \(result.practices.count) practice(s), "
                    + "\(result.practices.map(\.invitees).reduce(0, +)) invitee(s); audit entry \(result.auditEntry)")
        for p in result.practices {
            Output.line("  \(p.practiceID): \(p.invitees) invitee(s): " + PackWriter.files.joined(separator: ", "))
        }
        Output.line("Read \(result.directory)/README.txt: re-identification and letters happen at the practice.")
    }
}
