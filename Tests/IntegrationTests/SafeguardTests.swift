import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Safeguards no cohort definition can drop (issue 20): research dissent,
/// contact ended and the minimum re-invitation interval come from the
/// deployment and are applied after every cohort's own criteria; a cohort may
/// make them stricter, never weaker.
@Suite("Cohorts: safeguards no definition can drop", .enabled(if: TestDatabase.isAvailable), .serialized)
struct SafeguardTests {
    typealias B = CohortBoundaryTests
    static let referenceText = try! String(contentsOf: TestDatabase.repositoryRoot.appendingPathComponent("cohorts/chronic-pain-out-of-work.yaml"),
                                           encoding: .utf8)

    /// The reference cohort's text without the criteria `ids`.
    static func without(_ ids: [String]) -> String {
        var out: [Substring] = []
        var skipping = false
        for line in referenceText.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  - id: ") { skipping = ids.contains(String(line.dropFirst("  - id: ".count))) }
            if !skipping { out.append(line) }
        }
        return out.joined(separator: "\n")
    }

    static func resolve(_ text: String, safeguards: Safeguards = .defaults, overrides: [String: Int] = [:]) throws -> ResolvedCohort {
        let definition = try CohortParser.parse(data: Data(text.utf8), file: "variant.yaml")
        return try CohortValidator.resolve(definition, overrides: overrides,
                                           codeLists: DirectoryCodeListSource(directory: try CodeListFixture.referenceDirectory()),
                                           safeguards: safeguards)
    }

    /// The boundary cases' invitees and yields under `cohort`, by the SQL engine and the in-memory one.
    static func evaluate(_ cohort: ResolvedCohort, _ db: Database) throws -> (invited: [String], yields: [String], memory: [String]) {
        let evaluation = try SQLEngine(cohort: cohort, logger: TestDatabase.quietLogger)
            .evaluate(on: db, indexDate: B.d, practices: nil, historyAsOf: HistoryFixture.timestamp(B.asOf), ignoredRunIDs: [107])
        let oracle = CohortOracle(cohort: cohort, extract: B.extract, history: B.history, indexDate: B.d, historyAsOf: B.asOf, ignoredRunIDs: [107])
        let memory = oracle.invitations().map(\.practiceID).sorted()
        return (evaluation.invitations.map(\.practiceID).sorted(),
                evaluation.yields.map { "\($0.practiceID) \($0.step) \($0.remaining)" }, memory)
    }

    @Test("a cohort that leaves out research_dissent, contact_ended, or all three still excludes every dissenter, closed contact and recent invitee")
    func leftOut() throws {
        try TestDatabase.withSchema { db in
            let loadID = try B.extract.write(to: db)
            try B.history.write(to: db, loadID: loadID)
            let reference = try Self.evaluate(try B.referenceCohort(codeLists: try CodeListFixture.referenceDirectory()), db)
            #expect(reference.invited == reference.memory)
            for ids in [["research_dissent"], ["contact_ended"], ["recently_invited"], ["research_dissent", "recently_invited", "contact_ended"]] {
                let cohort = try Self.resolve(Self.without(ids))
                #expect(cohort.criteria.suffix(3).allSatisfy { $0.safeguard }, "\(ids)")
                #expect(Set(cohort.criteria.suffix(3).map(\.id)) == ["research_dissent", "recently_invited", "contact_ended"], "\(ids)")
                #expect(cohort.criteria.filter(\.safeguard).count == 3)
                let result = try Self.evaluate(cohort, db)
                #expect(result.invited == reference.invited, "\(ids)")
                #expect(result.memory == reference.invited, "in memory, \(ids)")
            }
            // All three left out: appended in the reference's order, so even the yield table is the same.
            let bare = try Self.resolve(Self.without(["research_dissent", "recently_invited", "contact_ended"]))
            #expect(bare.criteria.suffix(3).map(\.step) == [10, 11, 12])
            #expect(try Self.evaluate(bare, db).yields == reference.yields)
        }
    }

    @Test("a definition that weakens a safeguard is refused with its line; a stricter one is accepted")
    func weakening() throws {
        func refused(_ text: String, overrides: [String: Int] = [:], _ message: String) {
            do {
                _ = try Self.resolve(text, overrides: overrides)
                Issue.record("accepted: \(message)")
            } catch let error as CohortDefinitionError {
                #expect(error.description.contains(message), "\(error)")
            } catch {
                Issue.record("\(error)")
            }
        }
        let line = { (id: String) -> Int in
            Self.referenceText.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0 == "  - id: \(id)" }! + 1
        }
        // A parameter (its default, or an override) that shortens the interval.
        let zero = Self.referenceText.replacingOccurrences(of: "  reinvite_interval_days:\n    default: 365", with: "  reinvite_interval_days:\n    default: 0")
        #expect(zero != Self.referenceText)
        refused(zero, "variant.yaml:\(line("recently_invited")):")
        refused(zero, "criterion 'recently_invited' is a safeguard the deployment always applies (recruit.yaml); a cohort may make it stricter, never weaker: an interval of 0 (reinvite_interval_days) days is shorter than the deployment's minimum of 365")
        refused(Self.referenceText, overrides: ["reinvite_interval_days": 30], "an interval of 30 (reinvite_interval_days) days is shorter")
        // Fewer closing outcomes.
        let fewer = Self.referenceText.replacingOccurrences(of: "outcomes: [screened_out, declined, opted_out, ineligible, consented, withdrawn]",
                                                            with: "outcomes: [screened_out, declined]")
        refused(fewer, "variant.yaml:\(line("contact_ended")):")
        refused(fewer, "it leaves out outcome(s) the deployment says end contact: opted_out, ineligible, consented, withdrawn")
        // Dissent over other lists, or with the withdrawal winning on the same day.
        refused(Self.referenceText.replacingOccurrences(of: "on_same_date: is_in_wins", with: "on_same_date: others_win"),
                "variant.yaml:\(line("research_dissent")):")
        // Turned into an include, or moved before the cohort's own criteria.
        refused(Self.referenceText.replacingOccurrences(of: "    exclude:\n      contact_ended:", with: "    include:\n      contact_ended:"),
                "criterion 'contact_ended' is a safeguard and must exclude")
        let dissent = Self.referenceText.components(separatedBy: "  - id: research_dissent\n")[1].components(separatedBy: "  - id: recently_invited")[0]
        let moved = Self.without(["research_dissent"]).replacingOccurrences(of: "  - id: cancer\n", with: "  - id: research_dissent\n" + dissent + "  - id: cancer\n")
        refused(moved, "criterion 'research_dissent' is a safeguard, applied after the cohort's own criteria: move it after 'palliative_care'")

        // Stricter: a longer interval, every outcome.
        let longer = try Self.resolve(Self.referenceText, overrides: ["reinvite_interval_days": 730])
        #expect(longer.criteria.filter(\.safeguard).map(\.step) == [10, 11, 12])
        // The deployment's minimum binds: a deployment asking 400 days refuses the reference cohort's 365.
        var strict = Safeguards.defaults
        strict.minReinviteIntervalDays = 400
        #expect(throws: CohortDefinitionError.self) { try Self.resolve(Self.referenceText, safeguards: strict) }
    }

    @Test("recruit.yaml sets the safeguards; cohort explain shows them as their own section; a bad file is refused")
    func deploymentFile() throws {
        let dir = try TestDatabase.temporaryDirectory("deployment")
        let cohort = dir.appendingPathComponent("bare.yaml")
        try Data(Self.without(["research_dissent", "recently_invited", "contact_ended"]).utf8).write(to: cohort)
        let settings = dir.appendingPathComponent("recruit.yaml")
        try Data("safeguards:\n  min_reinvite_interval_days: 500\n".utf8).write(to: settings)
        let explained = try RecruitCLI.run(["cohort", "explain", cohort.path, "--settings", settings.path], schema: "public")
        #expect(explained.status == 0, "\(explained.stderr)")
        #expect(explained.stdout.contains("Safeguards, always applied (set by the deployment, recruit.yaml; a cohort may make them stricter, never weaker)"),
                "\(explained.stdout)")
        #expect(explained.stdout.contains("11. Recently invited [recently_invited]: Exclude if"), "\(explained.stdout)")
        #expect(explained.stdout.contains("500 days"), "\(explained.stdout)")
        // The reference cohort's 365 days are weaker than this deployment's 500.
        let reference = TestDatabase.repositoryRoot.appendingPathComponent("cohorts/chronic-pain-out-of-work.yaml").path
        let weaker = try RecruitCLI.run(["cohort", "explain", reference, "--settings", settings.path], schema: "public")
        #expect(weaker.status == 1 && weaker.stderr.contains("shorter than the deployment's minimum of 500"), "\(weaker.stderr)")
        try Data("safeguards:\n  min_reinvite_days: 500\n".utf8).write(to: settings)
        let bad = try RecruitCLI.run(["cohort", "explain", cohort.path, "--settings", settings.path], schema: "public")
        #expect(bad.status == 1 && bad.stderr.contains("safeguards: unknown key 'min_reinvite_days'"), "\(bad.stderr)")
    }

    @Test("the run's summary, its record, runs why and the report's yield rows mark the safeguards")
    func shown() throws {
        let lists = try CodeListFixture.referenceDirectory()
        try TestDatabase.withSchema { db in
            try RunScenario.extract(["A81001"], ["p1", "p2"]).write(to: db)
            let out = try TestDatabase.temporaryDirectory("safeguards-run")
            let cohort = TestDatabase.repositoryRoot.appendingPathComponent("cohorts/chronic-pain-out-of-work.yaml").path
            let json = try RecruitCLI.run(["run", cohort, "--codelists", lists.path, "--out", out.path, "--json"], schema: db.schema)
            #expect(json.status == 0, "\(json.stderr)")
            let summary = LoadTests.json(json.stdout)
            #expect(summary["safeguard_steps"] as? [Int] == [10, 11, 12])
            let runID = try #require(summary["run_id"] as? Int)
            let yields = try db.connection.query("SELECT step, safeguard FROM run_yields WHERE run_id = \(runID) AND practice_id = '__total__' ORDER BY step")
            #expect(yields.map { $0.bool("safeguard") } == Array(repeating: false, count: 10) + [true, true, true])
            let record = try RunRecord.load(runID, on: db.connection)
            #expect(record.safeguards == .defaults)
            let show = try RecruitCLI.run(["runs", "show", "\(runID)"], schema: db.schema)
            #expect(show.stdout.contains("Safeguards:   always applied, at least: research dissent over research-opt-out, research-opt-out-withdrawn"),
                    "\(show.stdout)")
            #expect(show.stdout.contains("contact_ended: Contact ended (safeguard)"), "\(show.stdout)")
            #expect(!show.stdout.contains("cancer: Cancer (safeguard)"))
            let why = try RecruitCLI.run(["runs", "why", "\(runID)", "p1"], schema: db.schema)
            #expect(why.status == 0, "\(why.stderr)")
            let lines = why.stdout.split(separator: "\n").map(String.init)
            let header = try #require(lines.firstIndex { $0.hasPrefix("Safeguards, always applied") }, "\(why.stdout)")
            #expect(lines[header + 1].hasPrefix("10. Research dissent [research_dissent, exclude]"), "\(why.stdout)")
            let text = try RecruitCLI.run(["run", cohort, "--codelists", lists.path, "--out", out.path + "-2", "--dry-run"], schema: db.schema)
            #expect(text.stdout.contains("     Safeguards, always applied:\n 10  "), "\(text.stdout)")
        }
    }

    @Test("cross-study: a person issued in cohort A is not listed by cohort B within the window, and is after it; both engines agree")
    func crossStudy() throws {
        let a = try Self.resolve(Self.referenceText)
        var deployment = Safeguards.defaults
        deployment.otherCohorts = [a.name]
        deployment.crossStudyWindowDays = 20
        let textB = Self.referenceText.replacingOccurrences(of: "name: chronic-pain-out-of-work\n", with: "name: study-b\n")
        let b = try Self.resolve(textB, safeguards: deployment)
        #expect(b.criteria.count == 13 && b.criteria.last?.id == "invited_to_other_study" && b.criteria.last?.safeguard == true)
        #expect(try Self.resolve(textB).criteria.count == 12, "no other cohorts named: no step")
        try TestDatabase.withSchema { db in
            try RetainedSnapshotTests.extract(RunScenario.d).write(to: db)
            let issued = try RunScenario.run(db, a, mode: .issue)
            #expect(try RunScenario.invited(issued).count == 4)
            // Ten days on: within the window, B lists none of A's invitees; the explanation agrees.
            let within = try RunScenario.run(db, b, indexDate: RunScenario.d.adding(days: 10), allowStale: true)
            #expect(try RunScenario.invited(within).isEmpty)
            let yields = within.summary.steps.map(\.remaining)
            #expect(yields.suffix(2) == [4, 0], "\(yields)")
            let why = try PatientExplainer(database: db, logger: TestDatabase.quietLogger)
                .explain(runID: try #require(within.runID), patientID: "a1", practiceID: "A81001")
            #expect(why.leftAt == 13 && why.engineLeftAt == 13)
            #expect(why.criteria.last?.records.first?.lists == [a.name])
            // Thirty days on: A's invitation (index date D) is outside B's 20-day window.
            let after = try RunScenario.run(db, b, indexDate: RunScenario.d.adding(days: 30), allowStale: true)
            #expect(try RunScenario.invited(after).count == 4)
        }
    }
}
