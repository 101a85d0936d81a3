import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// `recruit report proxy` on a synthetic study: a synthetic extract with its
/// true work status (`synth --truth`), both shipped cohorts issued, feedback
/// simulated from the truth, and the report's counts checked against counts
/// made here, in Swift, from the runs' stored evidence and the feedback rows.
@Suite("Report proxy", .enabled(if: TestDatabase.isAvailable), .serialized)
struct ProxyReportTests {
    static let root = TestDatabase.repositoryRoot

    /// The outcomes of one invitee, as the feedback rows say (the meaning the report documents).
    /// The funnel measures one invitee counts in, from their outcomes: one box
    /// at each level (sql/0019): review invited > screened_out > not_invited >
    /// not recorded; reply consented > ineligible > eligible > declined > opted_out > no reply.
    static func measures(_ outcomes: [(outcome: String, reason: String)]) -> Set<FunnelMeasure> {
        let set = Set(outcomes.map(\.outcome))
        // Each cohort's runs here are its first: every invitee is newly eligible.
        var m: Set<FunnelMeasure> = [.eligible, .newlyEligible]
        let invited = !set.isDisjoint(with: ["invited", "declined", "opted_out", "responded", "ineligible", "consented", "withdrawn"])
        if invited { m.insert(.invited) } else if set.contains("screened_out") { m.insert(.screenedOut) }
        else if set.contains("not_invited") { m.insert(.notInvited) } else { m.insert(.reviewNotRecorded) }
        guard invited else { return m }
        if !set.isDisjoint(with: ["consented", "withdrawn"]) {
            m.formUnion([.consented, .responded, .screenedEligible, .replied])
            if set.contains("withdrawn") { m.insert(.withdrawn) }
        } else if set.contains("ineligible") {
            m.formUnion([.ineligible, .responded, .replied, .notConsented])
            switch outcomes.last(where: { $0.outcome == "ineligible" })!.reason {
            case "in_work": m.formUnion([.ineligibleInWork, .ineligibleWorking])
            case "off_sick_with_job": m.formUnion([.ineligibleOffSickWithJob, .ineligibleWorking])
            case "not_chronic_pain": m.insert(.ineligibleNotChronicPain)
            case "": m.insert(.ineligibleReasonNotRecorded)
            default: m.insert(.ineligibleOther)
            }
        } else if set.contains("responded") {
            m.formUnion([.responded, .screenedEligible, .eligibleNotConsented, .replied, .notConsented])
        } else if set.contains("declined") {
            m.formUnion([.declined, .replied, .notConsented])
        } else if set.contains("opted_out") {
            m.formUnion([.optedOut, .replied, .notConsented])
        } else {
            m.formUnion([.noReply, .notConsented])
        }
        return m
    }

    /// Every published count is the rounded truth.
    func expectProtected(_ published: PublishedCount, truth: Int, _ what: String) {
        switch published {
        case .small: #expect((1...7).contains(truth) || truth == 0, "\(what): ≤7 for \(truth)")
        case .secondary: #expect(truth >= 8 || truth == 0, "\(what): * for \(truth)")
        case .rounded(let n): #expect(n % 5 == 0 && abs(n - truth) <= 2 && (truth == 0 || truth >= 8), "\(what): \(n) for \(truth)")
        case .exact: Issue.record("\(what): exact count in a suppressed report")
        }
    }

    @Test("both cohorts issued, feedback from the truth: exact counts match the evidence and outcomes, suppressed counts protect them")
    func proxyReport() throws {
        let dir = try TestDatabase.temporaryDirectory("proxy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let extract = dir.appendingPathComponent("extract"), truthFile = dir.appendingPathComponent("truth.csv")
        try TestDatabase.withSchema { db in
            func cli(_ args: [String]) throws -> RecruitCLI.Result {
                let r = try RecruitCLI.run(args, schema: db.schema, currentDirectory: Self.root)
                #expect(r.status == 0, "recruit \(args.joined(separator: " ")): \(r.allOutput)")
                return r
            }
            _ = try cli(["synth", "--out", extract.path, "--patients", "12000", "--practices", "3", "--seed", "17", "--truth", truthFile.path])
            _ = try cli(["load", extract.path])
            var truth: [String: String] = [:]  // practice,patient → work status
            for line in try String(contentsOf: truthFile, encoding: .utf8).split(separator: "\n").dropFirst() {
                let f = line.split(separator: ",").map(String.init)
                truth["\(f[1]),\(f[0])"] = f[2]
            }
            let cohorts = ["chronic-pain-out-of-work", "chronic-pain-out-of-work-spells"]
            for (k, cohort) in cohorts.enumerated() {
                _ = try cli(["run", "cohorts/\(cohort).yaml", "--out", dir.appendingPathComponent("run\(k)").path, "--issue"])
            }

            // Feedback for every invitee, from the truth, with every outcome the funnel counts.
            let invitees = try db.connection.query("""
                SELECT i.run_id, r.cohort_name, i.practice_id, i.patient_id, i.evidence -> 'out_of_work' ->> 'spell_start' AS spell,
                       i.evidence -> 'out_of_work' ->> 'code_system' AS system, i.evidence -> 'out_of_work' ->> 'code' AS code
                FROM run_invitations i JOIN runs r USING (run_id) ORDER BY i.run_id, i.practice_id, i.patient_id
                """)
            #expect(invitees.count > 20)
            let today = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
            var feedback: [Int: [String]] = [:]
            var outcomes: [String: [(outcome: String, reason: String)]] = [:]
            for (n, row) in invitees.enumerated() {
                let run = row.int("run_id")!, p = row.string("practice_id"), id = row.string("patient_id")
                var rows: [(String, String)] = []
                switch (n % 11, truth["\(p),\(id)"] ?? "") {
                case (0, _): rows = [("screened_out", "")]
                case (1, _): rows = [("not_invited", "")]
                case (2, _): rows = [("invited", "")]
                case (3, _): rows = [("invited", ""), ("declined", "")]
                case (4, _): rows = [("opted_out", "")]
                case (5, _): rows = [("responded", ""), ("ineligible", "")]  // reason not recorded
                case (6, _): rows = [("responded", ""), ("ineligible", "not_chronic_pain")]
                case (7, "in_work"), (7, "off_sick_with_job"), (8, "in_work"), (8, "off_sick_with_job"):
                    rows = [("invited", ""), ("responded", ""), ("ineligible", truth["\(p),\(id)"]!)]
                case (9, "out_of_work"): rows = [("responded", ""), ("consented", ""), ("withdrawn", "")]
                case (_, "out_of_work"): rows = [("invited", ""), ("responded", ""), ("consented", "")]
                default: rows = [("invited", ""), ("responded", ""), ("ineligible", "other")]
                }
                for (outcome, reason) in rows {
                    feedback[run, default: []].append("\(p),\(id),\(run),\(outcome),\(today),\(reason)")
                }
                outcomes["\(run),\(p),\(id)"] = rows.map { ($0.0, $0.1) }
            }
            for (run, lines) in feedback {
                let file = dir.appendingPathComponent("feedback\(run).csv")
                try ("practice_id,patient_id,run_id,outcome,date,reason\n" + lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
                _ = try cli(["feedback", "import", file.path])
            }

            // The code lists each run matched on: (system, code) → list names.
            let lists = try db.connection.query("""
                SELECT r.run_id, l.name, cc.code_system, cc.code
                FROM runs r, jsonb_to_recordset(r.codelists) AS l(name text, codelist_version_id bigint)
                JOIN codelist_codes cc ON cc.codelist_version_id = l.codelist_version_id
                """)
            var listOf: [String: [String]] = [:]
            for row in lists { listOf["\(row.string("run_id")),\(row.string("code_system")),\(row.string("code"))", default: []].append(row.string("name")) }

            for cohort in cohorts {
                // Expected: each invitee of the cohort's runs counted in its class, for each of its measures.
                var expected: [String: [FunnelMeasure: Int]] = [:]
                for row in invitees where row.string("cohort_name") == cohort {
                    let run = row.string("run_id")
                    let cls: String = row["spell"] != nil ? "spell"
                        : listOf["\(run),\(row.string("system")),\(row.string("code"))"]?.min().map { "list:\($0)" } ?? "other"
                    for m in Self.measures(outcomes["\(run),\(row.string("practice_id")),\(row.string("patient_id"))"]!) {
                        expected[cls, default: [:]][m, default: 0] += 1
                        expected[YieldReport.total, default: [:]][m, default: 0] += 1
                    }
                }
                let exact = try cli(["report", "proxy", "--cohort", cohort, "--no-suppression", "--json"])
                let published = try JSONDecoder().decode(ProxyJSON.self, from: Data(exact.stdout.utf8))
                #expect(published.proxy.criterion == "out_of_work")
                #expect(Set(published.proxy.rows.map(\.proxy)) == Set(expected.keys), "\(cohort): classes")
                for row in published.proxy.rows {
                    for m in FunnelMeasure.allCases {
                        #expect(row[m] == .rounded(expected[row.proxy]?[m] ?? 0), "\(cohort) \(row.proxy) \(m.rawValue)")
                    }
                }
                // The total row is the run's invitees.
                let total = invitees.filter { $0.string("cohort_name") == cohort }.count
                #expect(published.proxy.total?[.eligible] == .rounded(total))
                if cohort.hasSuffix("spells") {
                    #expect(expected["spell"] != nil, "the spells cohort admits through spells")
                } else {
                    #expect(expected["spell"] == nil && expected["list:fit-notes"] != nil)
                }

                // Suppressed: every count is the rounded truth, and the classes cannot be
                // subtracted from the total to recover a ≤7 count.
                let out = dir.appendingPathComponent("proxy-\(cohort)")
                let suppressed = try cli(["report", "proxy", "--cohort", cohort, "--out", out.path, "--json"])
                let report = try JSONDecoder().decode(ProxyJSON.self, from: Data(suppressed.stdout.utf8))
                #expect(report.suppression.applied)
                for row in report.proxy.rows {
                    for m in FunnelMeasure.allCases {
                        expectProtected(row[m], truth: expected[row.proxy]?[m] ?? 0, "\(cohort) \(row.proxy) \(m.rawValue)")
                    }
                }
                YieldReportReader.expectNotRecoverable(report.proxy)
                let csv = try String(contentsOf: out.appendingPathComponent("proxy.csv"), encoding: .utf8)
                #expect(csv.split(separator: "\n").count == 1 + report.proxy.rows.count)
                #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["proxy.csv"])
            }

            // The yield report carries the same table, and shows it in its page.
            let yields = dir.appendingPathComponent("yields")
            _ = try cli(["report", "yields", "--cohort", cohorts[1], "--out", yields.path])
            let html = try String(contentsOf: yields.appendingPathComponent("report.html"), encoding: .utf8)
            #expect(html.contains("id=\"proxy-table\"") && html.contains("Current sickness spell"))
            let proxyCSV = try String(contentsOf: yields.appendingPathComponent("proxy.csv"), encoding: .utf8)
            #expect(proxyCSV == (try String(contentsOf: dir.appendingPathComponent("proxy-\(cohorts[1])/proxy.csv"), encoding: .utf8)))

            // A criterion no run has is refused, and nothing is written.
            let refused = try RecruitCLI.run(["report", "proxy", "--cohort", cohorts[0], "--criterion", "no_such", "--out", dir.appendingPathComponent("none").path],
                                             schema: db.schema, currentDirectory: Self.root)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("has the criterion 'no_such'"))
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("none/proxy.csv").path))
        }
    }

    struct ProxyJSON: Decodable {
        var suppression: YieldReport.Suppression
        var proxy: YieldReport.ProxySection
    }
}
