import ArgumentParser
import Foundation
import Postgres
import RecruitKit

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Reports for research teams, with small numbers suppressed.",
        subcommands: [Yields.self, Proxy.self]
    )

    struct Yields: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the yield report of a cohort's runs: attrition, yield by practice, recruitment funnel, the study's flow, responders and trend.",
            discussion: """
                Writes DIR/attrition.csv, DIR/funnel.csv, DIR/proxy.csv (outcomes by out-of-work evidence: see report proxy), \
                DIR/flow.csv (the study's flow past the list: screened out by reason code, invited, replied, ineligible by reason, \
                consented, and each referral channel's box), DIR/comparison.csv (responders against non-responders and the consented \
                against the rest, by practice, evidence, age band and sex), DIR/yields.json and DIR/report.html (one self-contained page: \
                no scripts, nothing fetched, printable). By default it covers every issued run of the cohort.

                Small-number suppression is on: counts from 1 to 7 are shown as ≤7, every other count is rounded to the \
                nearest 5, and further counts are shown as * where totals, differences or rates would let a reader work out \
                a ≤7 count. --no-suppression writes exact counts, for use inside the practice only; it is recorded in the \
                audit trail, as every export is (action report.export, with each file's SHA-256).

                Exit codes: 0 written; 1 refused (unknown run, runs of several cohorts, nothing to report); 2 usage or environment.
                """
        )

        @OptionGroup var global: GlobalOptions
        @OptionGroup var selection: ReportSelectionOptions

        @Option(help: ArgumentHelp("The folder to write the five files to (created if missing).", valueName: "dir"))
        var out: String

        func validate() throws {
            if out.isEmpty { throw ValidationError("--out needs a folder") }
        }

        func run() throws {
            let db = try global.openDatabase()
            defer { db.close() }
            let spinner = StageSpinner.make("report yields", quiet: global.quiet, json: selection.json)
            let (report, result): (YieldReport, YieldReportExporter.Result)
            do {
                defer { spinner?.end() }
                (report, result) = try YieldReportExporter.export(
                    database: db, selection: selection.selection, outDirectory: URL(fileURLWithPath: out),
                    suppression: selection.suppression, logger: global.logger, progress: spinner)
            }
            if selection.json {
                try Output.json(result)
                return
            }
            printSummary(report, result)
        }

        /// The attrition table: step, criterion, remaining, removed (as published: suppressed when suppression is on).
        func printAttrition(_ steps: [YieldReport.AttritionRow]) {
            let header = ["Step", "Criterion", "Remaining", "Removed"]
            let rows = steps.map { [String($0.step), $0.label, $0.remaining.text, $0.removed?.text ?? ""] }
            // Step 0 has nothing removed: no trailing blanks.
            Output.table(header: header, rows: rows, leftAligned: 1)
        }

        /// The study's flow, all practices: each box indented under the one it is part of.
        func printFlow(_ report: YieldReport) {
            let boxes = report.flow.filter { $0.practiceID == YieldReport.total }
            guard !boxes.isEmpty else { return }
            var depth: [String: Int] = [:]
            Output.line()
            Output.line("The study's flow, all practices (flow.csv has every practice):")
            for b in boxes {
                let d = b.parent.map { (depth[$0] ?? 0) + 1 } ?? 0
                depth[b.box] = d
                Output.line(String(repeating: "  ", count: d + 1) + "\(b.label): \(b.count.text)")
            }
        }

        /// One screen: what was written, the yields by month, the latest run's attrition, and the report's path last.
        func printSummary(_ report: YieldReport, _ result: YieldReportExporter.Result) {
            let practices = report.practices.filter { $0.practiceID != YieldReport.total }.count
            let first = report.runs.first?.indexDate ?? "", last = report.runs.last?.indexDate ?? ""
            Output.line("Yield report for \(report.cohortName): \(report.runs.count) run(s), \(first == last ? "index date \(first)" : "index dates \(first) to \(last)"), \(practices) practice(s).")
            printSuppression(report)
            Output.line()
            let header = ["", "Eligible", "Invited", "Responded", "Consented"]
            var rows: [[String]] = []
            for month in report.months {
                guard let row = report.funnelRow(YieldReport.total, month) else { continue }
                rows.append([month] + [row[.eligible], row[.invited], row[.responded], row[.consented]].map(\.text))
            }
            if let all = report.funnelRow(YieldReport.total, YieldReport.allMonths) {
                rows.append(["All months"] + [all[.eligible], all[.invited], all[.responded], all[.consented]].map(\.text))
            }
            Output.table(header: header, rows: rows, leftAligned: 0)
            printFlow(report)
            if let latest = report.latestRun {
                let steps = report.attrition(run: latest.runID)
                if let start = steps.first, let end = steps.last {
                    Output.line()
                    Output.line("Latest run \(latest.runID) (\(latest.indexDate)): \(start.remaining.text) in the extracts, \(end.remaining.text) eligible. "
                                + "Patients left after each criterion, all practices:")
                    printAttrition(steps)
                }
            }
            Output.line()
            Output.line("Audit entry \(result.auditEntryID) (report.export) records the files' SHA-256.")
            let dir = result.outDirectory ?? out
            Output.line("Files: " + YieldReportExporter.fileNames.dropLast().map { "\(dir)/\($0)" }.joined(separator: ", "))
            Output.line("Report: \(dir)/report.html")
        }
    }

    struct Proxy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the invitees' outcomes by the out-of-work evidence that admitted them: which proxy sends fewer letters to people in work.",
            discussion: """
                For the issued runs of a cohort (or --runs), every invitee counted once by the evidence the run stored for the \
                out-of-work criterion (--criterion, default out_of_work): a current sickness spell, a fit note, an unemployment \
                code (or another code list the criterion uses). For each: how many were invited, responded, were found in work or \
                off sick with a job, were eligible on screening and consented, from the feedback practices imported.

                The counts are those of `recruit report yields` (the same table, the same small-number suppression); --out DIR \
                also writes DIR/proxy.csv. Every use is recorded in the audit trail (action report.export, report proxy).

                Exit codes: 0 shown; 1 refused (unknown run, runs of several cohorts, nothing to report, no run with the \
                criterion); 2 usage or environment.
                """
        )

        @OptionGroup var global: GlobalOptions
        @OptionGroup var selection: ReportSelectionOptions

        @Option(help: ArgumentHelp("The out-of-work criterion whose evidence is read.", valueName: "id"))
        var criterion = YieldSelection.defaultProxyCriterion

        @Option(help: ArgumentHelp("Also write proxy.csv to this folder (created if missing).", valueName: "dir"))
        var out: String?

        func validate() throws {
            if out?.isEmpty == true { throw ValidationError("--out needs a folder") }
            if criterion.isEmpty { throw ValidationError("--criterion needs a criterion id") }
        }

        func run() throws {
            let db = try global.openDatabase()
            defer { db.close() }
            var choice = selection.selection
            choice.proxyCriterion = criterion
            let spinner = StageSpinner.make("report proxy", quiet: global.quiet, json: selection.json)
            let (report, result): (YieldReport, YieldReportExporter.Result)
            do {
                defer { spinner?.end() }
                (report, result) = try YieldReportExporter.export(
                    database: db, selection: choice, kind: .proxy, outDirectory: out.map { URL(fileURLWithPath: $0) },
                    suppression: selection.suppression, logger: global.logger, progress: spinner)
            }
            guard let proxy = report.proxy else { return }  // the exporter refuses a selection without the criterion
            if selection.json {
                try Output.json(ProxyOutput(cohort: report.cohortName, runIDs: result.runIDs, suppression: report.suppression,
                                            proxy: proxy, files: result.files, auditEntryID: result.auditEntryID))
                return
            }
            let first = report.runs.first?.indexDate ?? "", last = report.runs.last?.indexDate ?? ""
            Output.line("Outcomes by out-of-work evidence for \(report.cohortName): \(report.runs.count) run(s), "
                        + "\(first == last ? "index date \(first)" : "index dates \(first) to \(last)"); criterion \(proxy.criterion) (\(proxy.label)).")
            printSuppression(report)
            Output.line()
            let columns: [(FunnelMeasure, String)] = [
                (.eligible, "Invitees"), (.invited, "Invited"), (.responded, "Responded"), (.ineligibleInWork, "In work"),
                (.ineligibleOffSickWithJob, "Off sick, job"), (.screenedEligible, "Eligible"), (.consented, "Consented"),
            ]
            let rates: [(FunnelRate, String)] = [(.workingOfResponded, "% working"), (.consentedOfResponded, "% consented")]
            Output.table(header: ["Evidence"] + columns.map(\.1) + rates.map(\.1), rows: proxy.rows.map { row in
                [row.label] + columns.map { row[$0.0].text } + rates.map { row.rate($0.0) ?? "–" }
            }, leftAligned: 0)
            Output.line()
            Output.line("% working: of responders, those found in work or off sick with a job. Eligible: eligible on screening.")
            Output.line("Audit entry \(result.auditEntryID) (report.export) records this report.")
            if let dir = result.outDirectory { Output.line("File: \(dir)/proxy.csv") }
        }

        struct ProxyOutput: Encodable {
            var cohort: String
            var runIDs: [Int]
            var suppression: YieldReport.Suppression
            var proxy: YieldReport.ProxySection
            var files: [String: String]
            var auditEntryID: Int

            enum CodingKeys: String, CodingKey {
                case cohort, runIDs = "run_ids", suppression, proxy, files, auditEntryID = "audit_entry_id"
            }
        }
    }

    static func printSuppression(_ report: YieldReport) {
        if report.suppression.applied {
            Output.line("Suppression: on. \(report.suppression.smallCounts) counts shown as ≤7, \(report.suppression.secondaryCounts) as * (the report states the rule).")
        } else {
            Output.line("Suppression: OFF. Exact counts, for use inside the practice only (recorded in the audit trail).")
        }
    }
}

/// Which runs a report covers, and how its counts are protected.
struct ReportSelectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The cohort's name (default: the one cohort file in ./cohorts, else the one cohort with issued runs).", valueName: "name"))
    var cohort: String?

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Report these runs only (drafts too), instead of every issued run.", valueName: "run-id"))
    var runs: [Int] = []

    @Option(help: ArgumentHelp("Only issued runs with an index date on or after this day (YYYY-MM-DD).", valueName: "date"))
    var since: String?

    @Flag(help: "Exact counts, without small-number suppression: for use inside the practice only (recorded in the audit trail).")
    var noSuppression = false

    @Flag(help: "Print the result as one JSON object.")
    var json = false

    func validate() throws {
        if !runs.isEmpty && since != nil { throw ValidationError("--runs and --since cannot be used together") }
        if let since, LocalDate(iso: since) == nil { throw ValidationError("--since must be a date as YYYY-MM-DD, got '\(since)'") }
        if let bad = runs.first(where: { $0 <= 0 }) { throw ValidationError("--runs takes run ids (positive numbers), got \(bad)") }
    }

    var selection: YieldSelection {
        YieldSelection(cohort: cohort, runIDs: runs, since: since.flatMap { LocalDate(iso: $0) })
    }

    var suppression: SmallNumberSuppression? { noSuppression ? nil : SmallNumberSuppression() }
}
