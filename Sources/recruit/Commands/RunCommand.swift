import ArgumentParser
import Foundation
import RecruitKit

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a cohort over the loaded practices: write DIR/invitations.csv and DIR/yield.csv.",
        discussion: """
            Evaluates every patient of the practices' current snapshots in one statement. invitations.csv holds \
            practice_id,patient_id (by practice then patient, byte order) and the evidence of each inclusion criterion; \
            yield.csv holds practice_id,step,criterion,remaining per practice and for __total__.

            In this version every run is a dry run: the outputs are written and an audit entry is recorded, nothing else.

            Exit codes: 0 done; 1 refused (bad cohort file, unknown practice, extract dates that differ without \
            --index-date: nothing recorded); 2 usage or environment error.
            """
    )

    @OptionGroup var cohort: CohortOptions
    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The folder to write invitations.csv and yield.csv to (created if missing).", valueName: "dir"))
    var out: String

    @Option(help: ArgumentHelp("The index date D (default: the loaded snapshots' extract date).", valueName: "YYYY-MM-DD"))
    var indexDate: String?

    @Option(name: .customLong("practice"), parsing: .upToNextOption, help: ArgumentHelp("Run for these practices only (repeatable; default: all loaded).", valueName: "id"))
    var practices: [String] = []

    @Flag(help: "Write the outputs and an audit entry, record no run (every run is a dry run in this version).")
    var dryRun = false

    @Flag(help: "Print the run summary (counts per step in total, output paths) as one JSON object.")
    var json = false

    func validate() throws {
        _ = try parseIndexDate(indexDate)
        if out.isEmpty { throw ValidationError("--out needs a folder") }
    }

    func run() throws {
        let db = try global.openDatabase()
        defer { db.close() }
        let request = CohortRun.Request(cohortFile: cohort.fileURL, codeLists: cohort.codeListSource,
                                        outputDirectory: URL(fileURLWithPath: out), indexDate: try parseIndexDate(indexDate),
                                        practices: practices.isEmpty ? nil : practices, parameters: try cohort.parameters())
        let summary = try CohortRun(database: db, logger: global.logger).dryRun(request)
        if json {
            try Output.json(summary)
            return
        }
        Output.line("\(summary.cohort) \(summary.version), index date \(summary.indexDate), \(summary.practices.count) practice(s): dry run")
        let width = summary.steps.map { String($0.remaining).count }.max() ?? 1
        for step in summary.steps {
            let n = String(step.remaining)
            Output.line(String(format: "%3d  ", step.step) + String(repeating: " ", count: width - n.count) + n + "  " + step.label)
        }
        Output.line("invited: \(summary.invited)")
        Output.line("wrote \(summary.outputs["invitations"] ?? "") and \(summary.outputs["yield"] ?? "")")
    }
}
