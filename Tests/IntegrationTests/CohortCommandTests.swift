import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// `recruit cohort check|sql|explain` and `recruit run`, as a user or a script runs them.
@Suite("Cohort commands", .enabled(if: TestDatabase.isAvailable))
struct CohortCommandTests {
    static let reference = TestDatabase.repositoryRoot.appendingPathComponent("cohorts/chronic-pain-out-of-work.yaml").path
    static let d = LocalDate(year: 2026, month: 7, day: 1)!

    /// Two practices; in A81001 two invitees (one with a comma in a term), one person removed at step 6.
    static var extract: ExtractFixture {
        var x = ExtractFixture(practices: [.init("A81001", extractDate: d), .init("B82002", extractDate: d)])
        func person(_ practice: String, _ patient: String) {
            x.add(.init(practiceID: practice, patientID: patient, yearOfBirth: 1980, monthOfBirth: 5, registrationStart: d.adding(days: -4000)))
        }
        person("A81001", "p2")
        x.event("A81001", "p2", d.adding(days: -100), "1M10.")
        x.event("A81001", "p2", d.adding(days: -20), "9D1B.")
        x.prescription("A81001", "p2", d.adding(days: -300), "321985006")
        x.prescription("A81001", "p2", d.adding(days: -200), "322236009")
        x.prescription("A81001", "p2", d.adding(days: -10), "322236009")
        person("A81001", "P1")
        x.event("A81001", "P1", d.adding(days: -500), "N245.00")
        x.event("A81001", "P1", d.adding(days: -500), "1M10.")
        x.event("A81001", "P1", d.adding(days: -40), "9D11.")
        x.event("A81001", "P1", d.adding(days: -700), "13J3.")
        for offset in [-100, -50, -10, -10] { x.prescription("A81001", "P1", d.adding(days: offset), "322236009") }
        person("A81001", "p3")
        x.event("A81001", "p3", d.adding(days: -10), "N245.")
        x.prescription("A81001", "p3", d.adding(days: -10), "322236009")
        person("B82002", "x1")
        return x
    }

    func run(_ arguments: [String], schema: String) throws -> RecruitCLI.Result {
        try RecruitCLI.run(arguments, schema: schema)
    }

    @Test("run writes invitations.csv and yield.csv exactly as specified, and one audit entry")
    func runWritesOutputs() throws {
        let lists = try CodeListFixture.referenceDirectory()
        let out = try TestDatabase.temporaryDirectory("run-out").appendingPathComponent("dry")
        try TestDatabase.withSchema { db in
            try Self.extract.write(to: db)
            let result = try run(["run", Self.reference, "--out", out.path, "--codelists", lists.path, "--dry-run", "--json"], schema: db.schema)
            #expect(result.status == 0, "\(result.stderr)")
            let invitations = try String(contentsOf: out.appendingPathComponent("invitations.csv"), encoding: .utf8)
            #expect(invitations == #"""
                practice_id,patient_id,first_listed,chronic_pain_code,chronic_pain_term,chronic_pain_date,pain_medication_code,pain_medication_term,pain_medication_date,pain_medication_count,pain_medication_first,pain_medication_last,out_of_work_code,out_of_work_term,out_of_work_date
                A81001,P1,true,1M10.,Chronic pain,2025-02-16,322236009,Codeine phosphate 30mg tablets,2026-06-21,4,2026-03-23,2026-06-21,9D11.,"Fit note issued, ""not fit for work""",2026-05-22
                A81001,p2,true,1M10.,Chronic pain,2026-03-23,322236009,Codeine phosphate 30mg tablets,2026-06-21,3,2025-09-04,2026-06-21,9D1B.,Med3 issued,2026-06-11

                """#)
            let yield = try String(contentsOf: out.appendingPathComponent("yield.csv"), encoding: .utf8)
            let criteria = ["", "registered", "registered_min_days", "alive", "age", "chronic_pain", "pain_medication", "out_of_work",
                            "cancer", "palliative_care", "research_dissent", "recently_invited", "contact_ended"]
            let a = [3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2], b = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
            var expected = "practice_id,step,criterion,remaining\n"
            for (practice, counts) in [("A81001", a), ("B82002", b), ("__total__", zip(a, b).map { $0 + $1 })] {
                for step in 0...12 { expected += "\(practice),\(step),\(criteria[step]),\(counts[step])\n" }
            }
            #expect(yield == expected)

            let summary = try JSONDecoder().decode(CohortRun.Summary.self, from: Data(result.stdout.utf8))
            #expect(summary.status == .dryRun && summary.invited == 2 && summary.indexDate == "2026-07-01")
            // A dry run flags as a recorded run would: nobody was listed before.
            #expect(summary.newlyEligible == 2)
            #expect(summary.byPractice == [.init(practiceID: "A81001", invited: 2, newlyEligible: 2), .init(practiceID: "B82002", invited: 0, newlyEligible: 0)])
            #expect(summary.steps.map(\.remaining) == [4, 4, 4, 4, 4, 3, 2, 2, 2, 2, 2, 2, 2])
            #expect(summary.steps[6].label == "Persistent pain medication")
            #expect(summary.outputSHA256["yield.csv"] == Hashing.sha256Hex(expected))
            #expect(summary.codeLists.count == 9)
            // One audit entry; it names no patient.
            let audit = try db.connection.query("SELECT action, payload::text AS payload FROM audit_log")
            #expect(audit.map { $0.string("action") } == ["run.dry_run"])
            for id in ["P1", "p2", "p3", "x1"] {
                #expect(!audit[0].string("payload").contains("\"\(id)\""))
                #expect(!result.allOutput.contains(id))
            }
            // A dry run records no run.
            #expect(try db.connection.query("SELECT count(*) AS n FROM runs")[0].int("n") == 0)

            // Human output: the yield in total and where the files are.
            let human = try run(["run", Self.reference, "--out", out.path, "--codelists", lists.path, "--practice", "B82002"], schema: db.schema)
            #expect(human.status == 0)
            #expect(human.stdout.contains("invited: 0"))
            #expect(human.stdout.contains("newly eligible (listed for the first time by this cohort): 0"))
            #expect(human.stdout.contains("  B82002  0 invited, 0 newly eligible"))
            #expect(human.stdout.contains("  5  0  Chronic pain condition"))
            #expect(try String(contentsOf: out.appendingPathComponent("invitations.csv"), encoding: .utf8).split(separator: "\n").count == 1)
        }
    }

    @Test("a refused run writes nothing and records nothing: exit 1 with the reason")
    func refusedRun() throws {
        let lists = try CodeListFixture.referenceDirectory()
        let out = try TestDatabase.temporaryDirectory("run-out").appendingPathComponent("refused")
        var x = Self.extract
        x.practices[1].extractDate = Self.d.adding(days: 1)
        try TestDatabase.withSchema { db in
            try x.write(to: db)
            let differ = try run(["run", Self.reference, "--out", out.path, "--codelists", lists.path], schema: db.schema)
            #expect(differ.status == 1)
            #expect(differ.stderr.contains("the practices' extract dates differ: 2026-07-01 (A81001); 2026-07-02 (B82002); give the index date with --index-date"))
            let unknown = try run(["run", Self.reference, "--out", out.path, "--codelists", lists.path, "--practice", "C99"], schema: db.schema)
            #expect(unknown.status == 1 && unknown.stderr.contains("no loaded snapshot for practice C99"))
            let noList = try run(["run", Self.reference, "--out", out.path, "--codelists", lists.appendingPathComponent("none").path,
                                  "--index-date", "2026-07-01"], schema: db.schema)
            #expect(noList.status == 1 && noList.stderr.contains("chronic-pain-out-of-work.yaml:84:21: unknown code list 'chronic-pain'"))
            #expect(!FileManager.default.fileExists(atPath: out.path))
            #expect(try db.connection.query("SELECT count(*) AS n FROM audit_log")[0].int("n") == 0)
            let badDate = try run(["run", Self.reference, "--out", out.path, "--index-date", "2026-13-01"], schema: db.schema)
            #expect(badDate.status == 2 && badDate.stderr.contains("--index-date 2026-13-01: expected a date as YYYY-MM-DD"))
            let badParam = try run(["run", Self.reference, "--out", out.path, "--param", "min_age"], schema: db.schema)
            #expect(badParam.status == 2)
            // With the date given the same data runs.
            let given = try run(["run", Self.reference, "--out", out.path, "--codelists", lists.path, "--index-date", "2026-07-01"], schema: db.schema)
            #expect(given.status == 0)
        }
    }

    @Test("cohort check: exit 0 on the shipped file, exit 1 with located problems, --json either way")
    func check() throws {
        let lists = try CodeListFixture.referenceDirectory()
        let ok = try RecruitCLI.run(["cohort", "check", Self.reference, "--codelists", lists.path])
        #expect(ok.status == 0 && ok.stdout.contains("chronic-pain-out-of-work 1.0.0: 12 criteria, 11 parameters, 9 code lists: OK"))
        let dir = try TestDatabase.temporaryDirectory("cohort-check")
        let bad = dir.appendingPathComponent("bad.yaml")
        try Data("name: bad\nversion: '1'\ncriteria:\n  - id: a\n    label: A\n    include: {has_events: {codelists: [chronic-pain], window: {to: D + 1}}}\n    size: 3\n".utf8).write(to: bad)
        let failed = try RecruitCLI.run(["cohort", "check", bad.path, "--codelists", lists.path])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("\(bad.path):7:5: criterion 1: unknown key 'size'"))
        let json = try RecruitCLI.run(["cohort", "check", bad.path, "--codelists", lists.path, "--json"])
        #expect(json.status == 1)
        let object = try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))
        #expect(object["ok"] == false)
        #expect(object["problems"]?[0]?["line"] == 7)
        let fixed = dir.appendingPathComponent("fixed.yaml")
        try Data("name: bad\nversion: '1'\ncriteria:\n  - id: a\n    label: A\n    include: {has_events: {codelists: [chronic-pain], window: {to: D + 1}}}\n".utf8).write(to: fixed)
        let after = try RecruitCLI.run(["cohort", "check", fixed.path, "--codelists", lists.path])
        #expect(after.status == 1 && after.stderr.contains("\(fixed.path):6:68: window ends after D (D + 1)"))
        let missing = try RecruitCLI.run(["cohort", "check", dir.appendingPathComponent("none.yaml").path])
        #expect(missing.status == 1 && missing.stderr.contains("cannot read the cohort file"))
    }

    @Test("cohort sql prints one statement with $n placeholders and every value as a listed parameter")
    func sql() throws {
        let lists = try CodeListFixture.referenceDirectory()
        let result = try RecruitCLI.run(["cohort", "sql", Self.reference, "--codelists", lists.path, "--index-date", "2026-07-01", "--practice", "A81001"])
        #expect(result.status == 0)
        let statement = result.stdout.components(separatedBy: "-- parameters")[0]
        #expect(statement.contains("WITH cle AS") && statement.contains("FROM current_events") && statement.contains("practice_snapshots"))
        #expect(!statement.contains("2026-07-01") && !statement.contains("A81001") && !statement.contains("N245."))
        #expect(result.stdout.contains("date = 2026-07-01  -- D: the index date"))
        #expect(result.stdout.contains("= 730  -- condition 1: window starts D minus: 730 (chronic_pain_lookback_days)"))
        let json = try RecruitCLI.run(["cohort", "sql", Self.reference, "--codelists", lists.path, "--json"])
        let object = try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))
        guard case .array(let parameters)? = object["parameters"] else { Issue.record("no parameters"); return }
        #expect(parameters.count > 50)
        // No --index-date: D is the extract date at run time.
        let d = parameters.first { if case .string(let note)? = $0["note"] { return note.hasPrefix("D:") } else { return false } }
        #expect(d?["value"] == .null)
    }

    @Test("cohort explain prints the numbered protocol")
    func explain() throws {
        let result = try RecruitCLI.run(["cohort", "explain", Self.reference, "--param", "max_age=60"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("4. Aged 18 to 60 at D [age]: Include if aged 18 to 60 at D, both included."))
        #expect(result.stdout.contains("- max_age = 60 (default 64)"))
        let json = try RecruitCLI.run(["cohort", "explain", Self.reference, "--json"])
        let object = try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))
        #expect(object["criteria"]?[11]?["label"] == "Contact ended")
    }
}

private extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        if case .array(let a) = self, index < a.count { return a[index] }
        return nil
    }
}
