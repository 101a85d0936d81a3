import ArgumentParser
import Foundation
import Postgres
import RecruitKit

struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List, show, explain and issue recorded runs.",
        discussion: """
            A run made without --dry-run is recorded as a draft; 'recruit runs issue' issues it after review. \
            Exit codes: 0 done; 1 refused (unknown run or patient, a rule forbids issuing: nothing changed); \
            2 usage or environment error.
            """,
        subcommands: [List.self, Show.self, Why.self, Issue.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the recorded runs, newest first.")
        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("Only runs of this cohort (its name).", valueName: "name")) var cohort: String?
        @Option(help: ArgumentHelp("At most this many runs.", valueName: "n")) var limit: Int?
        @Flag(help: "Print the runs as one JSON object.") var json = false

        func validate() throws {
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() throws {
            let db = try global.openDatabase()
            defer { db.close() }
            let runs = try RunRecord.list(cohort: cohort, limit: limit, on: db.connection)
            if json {
                try Output.json(["runs": runs])
                return
            }
            if runs.isEmpty {
                Output.line("No recorded runs\(cohort.map { " of cohort \($0)" } ?? "").")
                return
            }
            var rows = [["RUN", "STATUS", "COHORT", "VERSION", "INDEX DATE", "PRACTICES", "INVITED", "STARTED", "ISSUED", "NOTE"]]
            for run in runs {
                var notes: [String] = []
                if let s = run.supersedesRunID { notes.append("supersedes \(s)") }
                let by = Set(run.practices.compactMap(\.supersededByRunID)).sorted()
                if !by.isEmpty { notes.append("superseded by \(by.map(String.init).joined(separator: ", "))") }
                if run.allowStale && run.practices.contains(where: \.stale) { notes.append("stale allowed") }
                rows.append([String(run.runID), run.status.rawValue, run.cohortName, run.cohortVersion, run.indexDate.description,
                             String(run.practices.count), String(run.invited), String(run.startedAt.prefix(19)),
                             run.issuedAt.map { String($0.prefix(19)) } ?? "-", notes.joined(separator: "; ")])
            }
            RunsTable.print(rows)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a run's record and its yield (attrition) table.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("The run's id.", valueName: "run-id")) var runID: Int
        @Flag(help: "Print the run and its yield as one JSON object.") var json = false

        func run() throws {
            let db = try global.openDatabase()
            defer { db.close() }
            let run = try RunRecord.load(runID, on: db.connection)
            let yields = try RunRecord.yields(of: runID, on: db.connection)
            if json {
                try Output.json(RunShow(run: run, yield: yields.map {
                    RunShow.YieldLine(practiceID: $0.row.practiceID, step: $0.row.step, criterion: $0.row.criterion, label: $0.label,
                                      remaining: $0.row.remaining)
                }))
                return
            }
            Output.line("Run \(run.runID): \(run.status.rawValue)\(run.issuedAt.map { " (issued \($0))" } ?? "")")
            Output.line("Cohort:       \(run.cohortName) \(run.cohortVersion) (definition SHA-256 \(run.cohortSHA256))")
            Output.line("Index date:   \(run.indexDate)")
            Output.line("History as of \(run.historyAsOf)")
            if let s = run.supersedesRunID { Output.line("Supersedes:   run \(s)") }
            Output.line("Made by:      \(run.osUser) with recruit \(run.toolVersion), \(run.startedAt) to \(run.finishedAt ?? "?")")
            Output.line("Parameters:   " + run.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
            Output.line("Stale limit:  \(run.maxExtractAgeDays.map { "\($0) days" } ?? "-")\(run.allowStale ? ", --allow-stale given" : "")")
            let g = run.safeguards
            if g.applied {
                var parts = ["research dissent over \(g.dissentLists.joined(separator: ", ")) (dissent: \(g.dissentList))",
                             "no re-invitation within \(g.minReinviteIntervalDays) days", "contact ended by \(g.contactEndedOutcomes.joined(separator: ", "))"]
                if !g.otherCohorts.isEmpty { parts.append("not invited to \(g.otherCohorts.joined(separator: ", ")) within \(g.crossStudyWindowDays) days") }
                Output.line("Safeguards:   always applied, at least: " + parts.joined(separator: "; "))
            } else {
                Output.line("Safeguards:   none recorded (the run was made before they were applied by the deployment)")
            }
            if let out = run.outputDirectory { Output.line("Outputs in:   \(out)") }
            Output.line("")
            Output.line("Code lists:")
            for list in run.codelists {
                Output.line("  \(list.name)\(list.version.map { " \($0)" } ?? ""): \(list.codes) codes, file SHA-256 \(list.sha256), expanded \(list.expandedSHA256)")
            }
            Output.line("")
            // NEWLY ELIGIBLE: invitees listed for the first time by this cohort ("-": recorded before the flags).
            var rows = [["PRACTICE", "LOAD", "EXTRACT DATE", "INVITED", "NEWLY ELIGIBLE", "NOTE"]]
            for p in run.practices {
                var notes: [String] = []
                if p.stale { notes.append("stale snapshot") }
                if let by = p.supersededByRunID { notes.append("superseded by run \(by) at \(p.supersededAt ?? "?")") }
                rows.append([p.practiceID, String(p.loadID), p.extractDate.description, String(p.invited),
                             p.newlyEligible.map(String.init) ?? "-", notes.joined(separator: "; ")])
            }
            if run.practices.count > 1 {
                rows.append(["TOTAL", "", "", String(run.invited), run.newlyEligible.map(String.init) ?? "-", ""])
            }
            RunsTable.print(rows)
            if run.newlyEligible == nil {
                Output.line("(newly eligible: not recorded; the run was made before recruit flagged people listed for the first time)")
            }
            Output.line("")
            Output.line("Yield:")
            let practices = Array(Set(yields.map(\.row.practiceID))).sorted { a, b in
                if a == YieldRow.totalPracticeID || b == YieldRow.totalPracticeID { return b == YieldRow.totalPracticeID && a != b }
                return a.utf8.lexicographicallyPrecedes(b.utf8)
            }
            let steps = yields.filter { $0.row.practiceID == YieldRow.totalPracticeID }
            var table = [["STEP", "CRITERION"] + practices.map { $0 == YieldRow.totalPracticeID ? "TOTAL" : $0 }]
            let guarded = Set(g.applied ? g.kinds.map(\.rawValue) : [])
            for step in steps {
                let mark = guarded.contains(step.row.criterion) ? " (safeguard)" : ""
                var line = [String(step.row.step), step.row.step == 0 ? "in the extract" : "\(step.row.criterion): \(step.label)\(mark)"]
                for practice in practices {
                    line.append(yields.first { $0.row.practiceID == practice && $0.row.step == step.row.step }.map { String($0.row.remaining) } ?? "")
                }
                table.append(line)
            }
            RunsTable.print(table)
        }
    }

    struct Why: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Explain why one patient was, or was not, on a run's list.",
            discussion: """
                Evaluates each criterion for the patient on the run's own inputs (its snapshot, code-list versions, \
                definition and history) and prints whether it held, with the records that made it hold or fail. \
                The output names the patient: keep it where the patient's record may be seen.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("The run's id.", valueName: "run-id")) var runID: Int
        @Argument(help: ArgumentHelp("The patient's id (as in the extract).", valueName: "patient-id")) var patientID: String
        @Option(help: ArgumentHelp("The patient's practice (needed when the id is used in more than one).", valueName: "id"))
        var practice: String?
        @Flag(help: "Print the explanation as one JSON object.") var json = false

        /// "First listed by this cohort in this run", or where they were listed before.
        static func listingLine(_ listing: PatientExplanation.Listing) -> String {
            var before: [String] = []
            if let b = listing.before {
                if let run = b.runID { before.append("by run \(run)" + (b.runs > 1 ? " (and \(b.runs - 1) more issued run\(b.runs == 2 ? "" : "s"))" : "")) }
                if let date = b.historyIndexDate { before.append("in imported history (index date \(date))") }
            }
            switch listing.firstListed {
            case true?: return "Listing: first listed by this cohort in this run"
            case false?: return "Listing: listed before " + (before.isEmpty ? "(the record it rests on is gone)" : before.joined(separator: " and "))
            case nil:
                return "Listing: not recorded (the run was made before recruit flagged first listings)"
                    + (before.isEmpty ? "" : "; listed before " + before.joined(separator: " and "))
            }
        }

        func run() throws {
            let db = try global.openDatabase()
            defer { db.close() }
            let e = try PatientExplainer(database: db, logger: global.logger).explain(runID: runID, patientID: patientID, practiceID: practice)
            if json {
                try Output.json(e)
                return
            }
            let verdict = e.leftAt == 0 ? "on the list" : "not on the list: removed at step \(e.leftAt) (\(e.criteria[e.leftAt - 1].id))"
            Output.line("Run \(e.runID), practice \(e.practiceID), patient \(e.patientID): \(verdict)")
            Output.line("Index date \(e.indexDate); snapshot load \(e.loadID); history recorded before \(e.historyAsOf)")
            if e.engineLeftAt != e.leftAt {
                Output.line("WARNING: the SQL engine removed this patient at step \(e.engineLeftAt); this explanation disagrees (please report)")
            }
            if e.onRecordedList != (e.leftAt == 0) {
                Output.line("Note: the run's recorded list \(e.onRecordedList ? "holds" : "does not hold") this patient")
            }
            if let listing = e.listing { Output.line(Self.listingLine(listing)) }
            for (i, c) in e.criteria.enumerated() {
                let mark = c.passed ? "pass" : (c.removedHere ? "FAIL (removed here)" : "fail")
                Output.line("")
                if c.safeguard && (i == 0 || !e.criteria[i - 1].safeguard) {
                    Output.line("\(Safeguards.section) (the deployment's, whatever the cohort file says):")
                }
                Output.line("\(c.step). \(c.label) [\(c.id), \(c.effect)]: \(c.held ? "holds" : "does not hold") -> \(mark)")
                for fact in c.facts { Output.line("     \(fact)") }
                for r in c.records {
                    var parts = [r.kind, r.date?.description ?? "-"]
                    if let code = r.code { parts.append("\(code) (\(r.codeSystem ?? ""))") }
                    if let term = r.term { parts.append(term) }
                    if !r.lists.isEmpty { parts.append("in \(r.lists.joined(separator: ", "))") }
                    if let run = r.runID { parts.append("run \(run)") }
                    if let outcome = r.outcome { parts.append(outcome) }
                    Output.line("     \(r.counted ? "*" : "-") " + parts.joined(separator: "  ") + (r.note.map { "  [not counted: \($0)]" } ?? ""))
                }
            }
        }
    }

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a draft run after review: its invitees then count as invited, and its output is frozen.",
            discussion: """
                Refused when another issued run covers one of its practices for the same cohort and index date \
                (unless --supersede names that run), when its output files were changed since it was made, or when \
                someone on its list was invited or had contact ended after it was made (make a new run).
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("The draft run's id.", valueName: "run-id")) var runID: Int
        @Option(help: ArgumentHelp("The issued run this one replaces for the practices they share (recorded).", valueName: "run-id"))
        var supersede: Int?
        @Flag(help: "Wait for a practice that another run or load holds, instead of refusing.") var wait = false
        @Flag(help: "Print the result as one JSON object.") var json = false

        func run() throws {
            let db = try global.openDatabase()
            defer { db.close() }
            let issued = try RunIssuer(database: db, logger: global.logger).issue(runID, supersede: supersede, wait: wait)
            if json {
                try Output.json(issued)
                return
            }
            Output.line("Run \(issued.runID) issued at \(issued.issuedAt).")
            if let s = issued.supersededRunID {
                Output.line("It supersedes run \(s) for practice\(issued.supersededPractices.count == 1 ? "" : "s") \(issued.supersededPractices.joined(separator: ", ")).")
            }
            if issued.frozenFiles > 0 { Output.line("\(issued.frozenFiles) output file(s) made read-only.") }
        }
    }
}

/// `runs show --json`.
struct RunShow: Encodable {
    struct YieldLine: Encodable {
        var practiceID: String
        var step: Int
        var criterion: String
        var label: String
        var remaining: Int
        enum CodingKeys: String, CodingKey { case practiceID = "practice_id", step, criterion, label, remaining }
    }

    var run: RunRecord
    var yield: [YieldLine]
}

/// Plain aligned text tables.
enum RunsTable {
    static func print(_ rows: [[String]]) {
        guard let first = rows.first else { return }
        var widths = Array(repeating: 0, count: first.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        for row in rows {
            let cells = row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            Output.line(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }
}
