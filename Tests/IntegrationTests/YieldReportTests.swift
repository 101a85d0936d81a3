import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// `recruit report yields` against runs, yields and feedback written straight
/// into the runs tables.
@Suite("Yield reports", .enabled(if: TestDatabase.isAvailable))
struct YieldReportTests {
    func export(_ db: Database, _ selection: YieldSelection = .init(), suppression: SmallNumberSuppression? = .init(),
                out: URL? = nil) throws -> (report: YieldReport, result: YieldReportExporter.Result, dir: URL) {
        let dir = try out ?? TestDatabase.temporaryDirectory("yields")
        let (report, result) = try YieldReportExporter.export(database: db, selection: selection, outDirectory: dir,
                                                              suppression: suppression, cohortsDirectory: dir.appendingPathComponent("no-cohorts"),
                                                              logger: TestDatabase.quietLogger)
        return (report, result, dir)
    }

    func read(_ dir: URL, _ name: String) throws -> String {
        try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
    }

    /// Every published count is the rounded truth: ≤7 for 1–7, * for 8 or more, else within 2 of the truth.
    func expectProtected(_ published: PublishedCount, truth: Int, _ what: String) {
        switch published {
        case .small: #expect((0...7).contains(truth), "\(what): ≤7 for \(truth)")
        case .secondary: #expect(truth >= 8, "\(what): * for \(truth)")
        case .rounded(let n): #expect(n % 5 == 0 && abs(n - truth) <= 2 && (truth == 0 || truth >= 8), "\(what): \(n) for \(truth)")
        case .exact: Issue.record("\(what): exact count in a suppressed report")
        }
    }

    @Test("one practice: four files, attrition with the practice and its total, counts protected")
    func onePractice() throws {
        try TestDatabase.withSchema { db in
            let fx = try YieldFixtures(db.connection)
            let chain = YieldFixtures.chain(listSize: 6000, seed: 3)
            let run = try fx.run(indexDate: "2024-01-31", practices: [("A81001", chain)])
            let (report, result, dir) = try export(db)
            defer { try? FileManager.default.removeItem(at: dir) }

            #expect(result.runIDs == [run])
            for name in YieldReportExporter.fileNames {
                #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path), "\(name) missing")
            }
            // No temporary file left behind.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == YieldReportExporter.fileNames.sorted())

            let attrition = try read(dir, "attrition.csv").split(separator: "\n").map(String.init)
            #expect(attrition[0] == "run_id,index_date,practice_id,step,criterion,label,remaining,removed")
            #expect(attrition.count == 1 + 2 * chain.count)
            #expect(attrition[1].hasPrefix("\(run),2024-01-31,A81001,0,,in the extract,"))
            #expect(attrition[1].hasSuffix(","))  // no removed count at step 0
            #expect(attrition.contains { $0.hasPrefix("\(run),2024-01-31,__total__,12,contact_ended,Contact ended,") })

            for row in report.attrition where row.practiceID == "A81001" {
                expectProtected(row.remaining, truth: chain[row.step], "remaining at step \(row.step)")
                if let removed = row.removed { expectProtected(removed, truth: chain[row.step - 1] - chain[row.step], "removed at step \(row.step)") }
            }
            let funnel = try read(dir, "funnel.csv").split(separator: "\n").map(String.init)
            #expect(funnel[0].hasPrefix("practice_id,month,eligible,screened_out,not_invited,invited,"))
            #expect(funnel[0].hasSuffix(",consented_pct_of_eligible,replied_pct_of_invited,consented_pct_of_invited"))
            #expect(funnel.dropFirst().map { $0.split(separator: ",").prefix(2).joined(separator: ",") }
                    == ["A81001,2024-01", "A81001,all", "__total__,2024-01", "__total__,all"])

            let eligible = try db.connection.query("SELECT count(*) AS n FROM run_invitations")[0].int("n")!
            #expect(eligible == chain.last!)
            expectProtected(report.funnelRow("A81001", "2024-01")![.eligible], truth: eligible, "eligible")

            // yields.json holds the same report.
            let decoded = try JSONDecoder().decode(YieldReport.self, from: Data(contentsOf: dir.appendingPathComponent("yields.json")))
            #expect(decoded.attrition == report.attrition)
            #expect(decoded.funnel == report.funnel)
            #expect(decoded.suppression.applied)

            let html = try read(dir, "report.html")
            for id in ["attrition-flow", "practice-yield", "funnel", "ineligible-reasons", "trend-eligible", "trend-consented", "runs-table", "suppression-rule"] {
                #expect(html.contains("id=\"\(id)\""), "report.html lacks #\(id)")
            }
            #expect(html.contains("data-style=\"bars\""))
            // Exclusions read as such (stored with the yield), inclusions as they are.
            #expect(html.contains(">8. Exclude: cancer</tspan>"))
            #expect(html.contains(">5. Chronic pain condition</tspan>"))
            #expect(report.steps(run: run).map(\.effect) == [nil] + Array(repeating: "include", count: 7) + Array(repeating: "exclude", count: 5))
            #expect(html.contains("Small numbers are suppressed"))
            // Self-contained: nothing fetched, no scripts.
            #expect(!html.contains("<script"))
            #expect(!html.contains("http://") && !html.contains("https://"))
            #expect(!html.contains("@import") && !html.contains("url(http"))
            // No patient identifier anywhere in the outputs.
            for name in YieldReportExporter.fileNames { #expect(!(try read(dir, name)).contains("R\(run)-0")) }
        }
    }

    @Test("120 practices over three monthly runs: a sorted dot plot, every count protected, exact without suppression")
    func manyPractices() throws {
        try TestDatabase.withSchema { db in
            let fx = try YieldFixtures(db.connection)
            var truth: [String: [Int]] = [:]
            for (i, date) in ["2024-01-31", "2024-02-29", "2024-03-31"].enumerated() {
                let practices = YieldFixtures.practices(120, seed: i, keepOverride: i == 0 ? [:] : [11: 0.7])
                for p in practices { truth[p.id, default: []].append(p.chain.last!) }
                try fx.run(indexDate: date, practices: practices)
            }
            let clock = ContinuousClock()
            var built: (report: YieldReport, result: YieldReportExporter.Result, dir: URL)!
            let elapsed = try clock.measure { built = try export(db) }
            let (report, result, dir) = built
            defer { try? FileManager.default.removeItem(at: dir) }
            print("yield report, 120 practices × 3 runs: \(elapsed), \(result.smallCounts) counts ≤7, \(result.secondaryCounts) *")

            #expect(report.months == ["2024-01", "2024-02", "2024-03"])
            #expect(report.practices.count == 121)
            #expect(report.funnel.count == 121 * 4)
            let html = try read(dir, "report.html")
            #expect(html.contains("data-style=\"dots\""))
            #expect(html.components(separatedBy: "<g class=\"practice\" id=\"practice-").count - 1 == 120)

            // Eligible per practice, pooled: the rounded truth.
            for p in report.practices where p.practiceID != YieldReport.total {
                expectProtected(p.eligible, truth: truth[p.practiceID]!.reduce(0, +), "eligible of \(p.practiceID)")
            }
            // Outcome counts: the rounded truth, read independently.
            let consented = try db.connection.query("""
                SELECT to_char(r.index_date, 'YYYY-MM') AS month, count(DISTINCT (o.run_id, o.practice_id, o.patient_id)) AS n
                FROM contact_outcomes o JOIN runs r USING (run_id) WHERE o.outcome = 'consented' GROUP BY 1
                """)
            for row in consented {
                expectProtected(report.funnelRow(YieldReport.total, row.string("month"))![.consented], truth: row.int("n")!, "consented")
            }

            // Without suppression the same report is exact, and sums up.
            let exact = try export(db, suppression: nil)
            defer { try? FileManager.default.removeItem(at: exact.dir) }
            let all = exact.report.funnelRow(YieldReport.total, YieldReport.allMonths)!
            #expect(all[.eligible] == .exact(truth.values.flatMap { $0 }.reduce(0, +)))
            #expect(all[.responded].number == (all[.ineligible].number ?? 0) + (all[.screenedEligible].number ?? 0))
            #expect(all[.ineligibleWorking].number == (all[.ineligibleInWork].number ?? 0) + (all[.ineligibleOffSickWithJob].number ?? 0))
            let total = try db.connection.query("SELECT count(DISTINCT (run_id, practice_id, patient_id)) FILTER (WHERE outcome = 'consented') AS n FROM contact_outcomes")
            #expect(all[.consented] == .exact(total[0].int("n")!))
            #expect(exact.report.suppression.smallCounts == 0 && exact.report.suppression.secondaryCounts == 0)
        }
    }

    @Test("a run with no eligible patient: zeros, no rates, and the report says so")
    func zeroEligible() throws {
        try TestDatabase.withSchema { db in
            let fx = try YieldFixtures(db.connection)
            let practices = YieldFixtures.practices(3, keepOverride: [7: 0.0])
            #expect(practices.allSatisfy { $0.chain.last! == 0 })
            try fx.run(indexDate: "2024-01-31", practices: practices)
            let (report, _, dir) = try export(db)
            defer { try? FileManager.default.removeItem(at: dir) }
            let all = report.funnelRow(YieldReport.total, YieldReport.allMonths)!
            #expect(all[.eligible] == .rounded(0))
            #expect(all[.invited] == .rounded(0))
            #expect(all.rates.values.allSatisfy { $0 == nil })
            #expect(report.practices.allSatisfy { $0.eligiblePer1000 == nil || $0.eligiblePer1000 == "0.0" })
            let html = try read(dir, "report.html")
            #expect(html.contains("id=\"no-eligible\""))
            #expect(html.contains(">0 eligible</tspan>"))
        }
    }

    @Test("a practice superseded by a later run is left out of the earlier run")
    func supersededPractice() throws {
        try TestDatabase.withSchema { db in
            let fx = try YieldFixtures(db.connection)
            let first = try fx.run(indexDate: "2024-01-31", practices: YieldFixtures.practices(2))
            let second = try fx.run(indexDate: "2024-01-30", practices: [YieldFixtures.practices(2)[1]])
            try db.connection.execute("""
                UPDATE run_practices SET superseded_by_run_id = \(second), superseded_at = now()
                WHERE run_id = \(first) AND practice_id = \(YieldFixtures.practiceID(1))
                """)
            let (report, _, dir) = try export(db)
            defer { try? FileManager.default.removeItem(at: dir) }
            #expect(Set(report.attrition.filter { $0.runID == first }.map(\.practiceID)) == [YieldFixtures.practiceID(0), "__total__"])
            #expect(report.runs.first { $0.runID == first }?.supersededPractices == [YieldFixtures.practiceID(1)])
            #expect(try read(dir, "report.html").contains("Left out (superseded by a later run): \(YieldFixtures.practiceID(1))"))
        }
    }

    @Test("the export is recorded in the audit trail with every file's SHA-256, and --no-suppression is recorded as such")
    func auditTrail() throws {
        try TestDatabase.withSchema { db in
            let fx = try YieldFixtures(db.connection)
            let run = try fx.run(indexDate: "2024-01-31", practices: YieldFixtures.practices(4))
            let (_, result, dir) = try export(db)
            defer { try? FileManager.default.removeItem(at: dir) }
            let entry = try db.connection.query("SELECT action, subjects::text AS s, payload::text AS p FROM audit_log WHERE entry_id = \(result.auditEntryID)")[0]
            #expect(entry.string("action") == "report.export")
            let payload = try JSONDecoder().decode(JSONValue.self, from: Data(entry.string("p").utf8))
            let subjects = try JSONDecoder().decode(JSONValue.self, from: Data(entry.string("s").utf8))
            #expect(subjects == ["run_ids": [.int(run)]])
            #expect(payload["suppression"] == .bool(true))
            #expect(payload["no_suppression"] == nil)
            for name in YieldReportExporter.fileNames {
                let onDisk = try Hashing.sha256Hex(fileAt: dir.appendingPathComponent(name))
                #expect(payload["files"]?[name] == .string(onDisk), "\(name) hash")
            }

            let (_, exact, exactDir) = try export(db, suppression: nil)
            defer { try? FileManager.default.removeItem(at: exactDir) }
            let p2 = try db.connection.query("SELECT payload::text AS p FROM audit_log WHERE entry_id = \(exact.auditEntryID)")[0].string("p")
            let payload2 = try JSONDecoder().decode(JSONValue.self, from: Data(p2.utf8))
            #expect(payload2["suppression"] == .bool(false))
            #expect(payload2["no_suppression"] != nil)
            #expect(try read(exactDir, "report.html").contains("Not suppressed: exact counts"))
            #expect(exact.auditEntryID == result.auditEntryID + 1)
        }
    }

    @Test("refusals: unknown run, runs of two cohorts, nothing issued; nothing written, nothing recorded")
    func refusals() throws {
        try TestDatabase.withSchema { db in
            let fx = try YieldFixtures(db.connection)
            let dir = try TestDatabase.temporaryDirectory("yields-refused")
            defer { try? FileManager.default.removeItem(at: dir) }
            func auditCount() throws -> Int { try db.connection.query("SELECT count(*) AS n FROM audit_log")[0].int("n")! }

            // Nothing issued yet: only a draft.
            let draft = try fx.run(indexDate: "2024-01-31", status: "draft", practices: YieldFixtures.practices(2))
            var error = #expect(throws: RecruitError.self) { try export(db, out: dir) }
            #expect(error?.message.contains("no run has been issued yet") == true)
            error = #expect(throws: RecruitError.self) { try export(db, YieldSelection(cohort: fx.cohort), out: dir) }
            #expect(error?.message == "nothing to report: no issued run of cohort 'chronic-pain-out-of-work' (see: recruit runs list)")

            error = #expect(throws: RecruitError.self) { try export(db, YieldSelection(runIDs: [draft, 999]), out: dir) }
            #expect(error?.message == "run 999 does not exist (see: recruit runs list)")

            let other = try fx.run(indexDate: "2024-01-31", cohort: "another-study", practices: YieldFixtures.practices(1))
            error = #expect(throws: RecruitError.self) { try export(db, YieldSelection(runIDs: [draft, other]), out: dir) }
            #expect(error?.message.contains("are of different cohorts (another-study, chronic-pain-out-of-work)") == true)
            error = #expect(throws: RecruitError.self) { try export(db, YieldSelection(cohort: fx.cohort, runIDs: [other]), out: dir) }
            #expect(error?.message.contains("is of cohort 'another-study'") == true)

            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
            #expect(try auditCount() == 0)

            // A draft named explicitly is reported, and says so.
            let (report, _, _) = try export(db, YieldSelection(runIDs: [draft]), out: dir)
            #expect(report.runs.map(\.status) == ["draft"])
            #expect(try read(dir, "report.html").contains("Includes runs not yet issued"))
            #expect(try auditCount() == 1)

            // Two cohorts with issued runs and no --cohort: name one.
            try fx.run(indexDate: "2024-02-29", practices: YieldFixtures.practices(1))
            error = #expect(throws: RecruitError.self) { try export(db, out: dir) }
            #expect(error?.message == "runs were issued for another-study, chronic-pain-out-of-work, and no cohort was named")
            #expect(error?.remedy == .give(.cohort))
        }
    }

    @Test("--since keeps later runs; the default cohort is the one file in cohorts/")
    func sinceAndDefaultCohort() throws {
        try TestDatabase.withSchema { db in
            let fx = try YieldFixtures(db.connection)
            try fx.run(indexDate: "2024-01-31", practices: YieldFixtures.practices(2))
            let later = try fx.run(indexDate: "2024-02-29", practices: YieldFixtures.practices(2))
            try fx.run(indexDate: "2024-01-31", cohort: "another-study", practices: YieldFixtures.practices(1))
            let cohorts = try TestDatabase.temporaryDirectory("cohorts")
            defer { try? FileManager.default.removeItem(at: cohorts) }
            try "# the reference cohort\nname: chronic-pain-out-of-work\nversion: \"1.0\"\n".write(
                to: cohorts.appendingPathComponent("chronic-pain-out-of-work.yaml"), atomically: true, encoding: .utf8)
            let dir = try TestDatabase.temporaryDirectory("yields-since")
            defer { try? FileManager.default.removeItem(at: dir) }
            let (report, result) = try YieldReportExporter.export(
                database: db, selection: YieldSelection(since: LocalDate(iso: "2024-02-01")), outDirectory: dir,
                suppression: .init(), cohortsDirectory: cohorts, logger: TestDatabase.quietLogger)
            #expect(result.runIDs == [later])
            #expect(report.cohortName == "chronic-pain-out-of-work")
        }
    }

    @Test("the command: text summary ending with the report's path, --json, usage errors")
    func command() throws {
        try TestDatabase.withSchema { db in
            let fx = try YieldFixtures(db.connection)
            try fx.run(indexDate: "2024-01-31", practices: YieldFixtures.practices(5))
            let dir = try TestDatabase.temporaryDirectory("yields-cli")
            defer { try? FileManager.default.removeItem(at: dir) }
            let text = try RecruitCLI.run(["report", "yields", "--out", dir.path], schema: db.schema, currentDirectory: dir)
            #expect(text.status == 0, "\(text.stderr)")
            #expect(text.stdout.contains("Yield report for chronic-pain-out-of-work: 1 run(s)"))
            #expect(text.stdout.contains("Suppression: on."))
            #expect(text.stdout.trimmingCharacters(in: .newlines).hasSuffix("Report: \(dir.standardizedFileURL.path)/report.html"))

            let json = try RecruitCLI.run(["report", "yields", "--out", dir.path, "--no-suppression", "--json"], schema: db.schema, currentDirectory: dir)
            #expect(json.status == 0, "\(json.stderr)")
            let value = try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))
            #expect(value["suppression"] == .bool(false))
            #expect(value["files"]?["report.html"] != nil)

            let both = try RecruitCLI.run(["report", "yields", "--out", dir.path, "--runs", "1", "--since", "2024-01-01"], schema: db.schema)
            #expect(both.status == 2)
            #expect(both.stderr.contains("--runs and --since cannot be used together"))
            let badDate = try RecruitCLI.run(["report", "yields", "--out", dir.path, "--since", "31/01/2024"], schema: db.schema)
            #expect(badDate.status == 2)
            let unknown = try RecruitCLI.run(["report", "yields", "--out", dir.path, "--runs", "42"], schema: db.schema)
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("run 42 does not exist"))
        }
    }
}
