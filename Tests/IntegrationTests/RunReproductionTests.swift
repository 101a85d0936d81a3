import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Reproducing runs, explaining one patient, stale snapshots and practice locks.
@Suite("Runs: reproduce, why, stale snapshots, locks", .enabled(if: TestDatabase.isAvailable))
struct RunReproductionTests {
    typealias S = RunScenario

    static func reproducer(_ db: Database) -> RunReproducer { RunReproducer(database: db, logger: TestDatabase.quietLogger) }

    @Test("--reproduce: identical on the recorded inputs, even after the code-list files, history and current snapshot changed")
    func reproduceIdentical() throws {
        let lists = try CodeListFixture.referenceDirectory()
        let cohort = try S.cohort(codeLists: lists)
        try TestDatabase.withSchema { db in
            try S.extract(["A81001", "B82002"], ["p1", "p2"]).write(to: db)
            let outcome = try S.run(db, cohort, mode: .issue)
            let runID = try #require(outcome.runID)
            // The code list file changes (the chronic pain code is gone); a later run issued for B; A's snapshot replaced, old load kept.
            try CodeListFixture.write(["chronic-pain": [("XE1FN", "Chronic pain", .ctv3)]], to: lists)
            let changed = try S.cohort(codeLists: lists)
            try S.run(db, changed, mode: .issue, indexDate: S.d.adding(days: 1), practices: ["B82002"])
            try S.extract(["A81001"], ["p9"]).write(to: db)
            let out = try TestDatabase.temporaryDirectory("reproduce")
            let result = try Self.reproducer(db).reproduce(runID, into: out, wait: false)
            #expect(result.result == .identical)
            #expect(result.differing.isEmpty && result.compared == 4 && result.invited == 4 && result.recordedInvited == 4)
            #expect(result.replacedSnapshots.map(\.practiceID) == ["A81001"])
            #expect(try S.invitations(in: out) == ["A81001/p1", "A81001/p2", "B82002/p1", "B82002/p2"])
            let manifest = try RunManifest.read(from: out.appendingPathComponent("run.json"))
            #expect(manifest.status == .reproduction && manifest.reproducesRunID == runID && manifest.outputs == outcome.manifest.outputs)
            let entry = try db.connection.query("SELECT payload->>'result' AS r FROM audit_log WHERE action = 'run.reproduce'")
            #expect(entry.map { $0.string("r") } == ["identical"])
            // The temporary views are gone: the session reads the current snapshots again.
            #expect(try S.count(db, "current_patients", where: "practice_id = 'A81001'") == 1)
        }
    }

    @Test("--reproduce after a snapshot replace: refused plainly when the data is gone, 'different' when a load's rows changed")
    func reproduceChanged() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            let loadID = try S.extract(["A81001", "B82002"], ["p1", "p2"]).write(to: db)
            let runID = try #require(try S.run(db, cohort).runID)
            // Rows of the run's load changed in place: p2 now has cancer.
            try db.connection.execute("""
                INSERT INTO events (load_id, practice_id, patient_id, event_date, code, code_system)
                VALUES (\(loadID), 'B82002', 'p2', \(S.d.adding(days: -5)), 'B1...', 'read2')
                """)
            let different = try Self.reproducer(db).reproduce(runID, into: nil, wait: false)
            #expect(different.result == .different)
            #expect(different.differing == ["invitations.csv", "practices/B82002/invitations.csv", "yield.csv"])
            #expect(different.invited == 3 && different.recordedInvited == 4)
            // The loader replaces B82002's snapshot and drops the old load (A81001 still points at it, so both practices move).
            try S.replaceSnapshot(db, with: S.extract(["A81001", "B82002"], ["p1"], extractDate: S.d.adding(days: 10)))
            let audit = try S.count(db, "audit_log")
            let gone = try #require(throws: RecruitError.self) { try Self.reproducer(db).reproduce(runID, into: nil, wait: false) }
            #expect(gone.kind == .refused)
            #expect(gone.message.hasPrefix("run \(runID) cannot be reproduced: the data it used is gone: practice A81001's snapshot of the run (load \(loadID), extract date 2026-07-01) has been dropped; it was replaced by load \(loadID + 1) (extract date 2026-07-11) at "))
            #expect(gone.message.contains("; practice B82002's snapshot of the run (load \(loadID), extract date 2026-07-01) has been dropped"))
            #expect(try S.count(db, "audit_log") == audit + 1)
            #expect(try db.connection.query("SELECT payload->>'result' AS r FROM audit_log ORDER BY entry_id DESC LIMIT 1")[0].string("r") == "not_reproducible")
        }
    }

    @Test("the CLI: run, runs list/show/issue, --reproduce exit codes, and no patient id on standard error")
    func commandLine() throws {
        let lists = try CodeListFixture.referenceDirectory()
        try TestDatabase.withSchema { db in
            try S.extract(["A81001"], ["secret-p1", "secret-p2"]).write(to: db)
            let out = try TestDatabase.temporaryDirectory("cli")
            let made = try RecruitCLI.run(["run", S.cohortFile.path, "--codelists", lists.path, "--out", out.path, "--json", "-v"], schema: db.schema)
            #expect(made.status == 0, "\(made.stderr)")
            let summary = try JSONDecoder().decode(JSONValue.self, from: Data(made.stdout.utf8))
            #expect(summary["status"] == "draft" && summary["invited"] == 2)
            guard case .int(let runID)? = summary["run_id"] else { Issue.record("no run id"); return }
            #expect(!made.stderr.contains("secret-"))

            let list = try RecruitCLI.run(["runs", "list"], schema: db.schema)
            #expect(list.status == 0 && list.stdout.contains("draft") && list.stdout.contains("chronic-pain-out-of-work"))
            let show = try RecruitCLI.run(["runs", "show", String(runID)], schema: db.schema)
            #expect(show.status == 0 && show.stdout.contains("Chronic pain condition") && show.stdout.contains("A81001"))
            let showJSON = try JSONDecoder().decode(JSONValue.self, from: Data(try RecruitCLI.run(["runs", "show", String(runID), "--json"], schema: db.schema).stdout.utf8))
            #expect(showJSON["run"]?["run_id"] == .int(runID))

            let issue = try RecruitCLI.run(["runs", "issue", String(runID), "--json"], schema: db.schema)
            #expect(issue.status == 0, "\(issue.stderr)")
            let again = try RecruitCLI.run(["run", S.cohortFile.path, "--codelists", lists.path, "--out", try TestDatabase.temporaryDirectory("cli2").path, "--issue"],
                                           schema: db.schema)
            #expect(again.status == 1 && again.stderr.contains("give --supersede \(runID)"))

            let same = try RecruitCLI.run(["run", "--reproduce", String(runID), "--json"], schema: db.schema)
            #expect(same.status == 0, "\(same.stderr)")
            try db.connection.execute("UPDATE patients SET death_date = \(S.d) WHERE patient_id = 'secret-p2'")
            let changed = try RecruitCLI.run(["run", "--reproduce", String(runID), "-v"], schema: db.schema)
            #expect(changed.status == 1 && changed.stdout.contains("different") && changed.stdout.contains("differs: invitations.csv"))
            #expect(!changed.stderr.contains("secret-"))

            let why = try RecruitCLI.run(["runs", "why", String(runID), "secret-p1", "-v"], schema: db.schema)
            #expect(why.status == 0 && why.stdout.contains("on the list") && !why.stderr.contains("secret-"))
            let unknown = try RecruitCLI.run(["runs", "why", String(runID), "secret-nobody"], schema: db.schema)
            #expect(unknown.status == 1 && !unknown.stderr.contains("secret-"))

            let usage = try RecruitCLI.run(["run", S.cohortFile.path, "--reproduce", "1"], schema: db.schema)
            #expect(usage.status == 2 && usage.stderr.contains("give no cohort file"))
        }
    }

    @Test("why: each criterion with the records that decided it, for an included and an excluded patient")
    func why() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        var x = S.extract(["A81001"], ["in", "out"])
        x.event("A81001", "out", S.d.adding(days: -40), "B1...")        // cancer within 1825 days: excluded at 8
        x.event("A81001", "out", S.d.adding(days: -2000), "B34..")      // outside the window: shown, not counted
        x.prescription("A81001", "in", S.d.adding(days: -400), S.codeine)  // outside the medication window
        try TestDatabase.withSchema { db in
            try x.write(to: db)
            let runID = try #require(try S.run(db, cohort).runID)
            let explainer = PatientExplainer(database: db, logger: TestDatabase.quietLogger)

            let included = try explainer.explain(runID: runID, patientID: "in", practiceID: nil)
            #expect(included.leftAt == 0 && included.engineLeftAt == 0 && included.onRecordedList)
            #expect(included.criteria.count == 12 && included.criteria.allSatisfy(\.passed))
            #expect(included.criteria.map(\.held) == [true, true, true, true, true, true, true, false, false, false, false, false])
            let meds = included.criteria[5]
            #expect(meds.id == "pain_medication")
            #expect(meds.facts == ["3 prescriptions in opioid-analgesics or gabapentinoids within [D - 365 (medication_lookback_days) (2025-07-01), D (2026-07-01)] (at least 3 (min_prescriptions) needed)",
                                   "the first (2025-12-13) and the last (2026-03-23) are 100 days apart (at least 90 (min_prescription_span_days) needed)"])
            #expect(meds.records.map(\.counted) == [false, true, true, true])
            #expect(meds.records[0].note == "outside the window" && meds.records[0].date == S.d.adding(days: -400))
            #expect(meds.records[1].term == "Codeine phosphate 30mg tablets" && meds.records[1].lists == ["opioid-analgesics"])
            #expect(included.criteria[3].facts[0] == "born 1980, month 5: date of birth 1980-05-01, aged 46 at D 2026-07-01")

            let excluded = try explainer.explain(runID: runID, patientID: "out", practiceID: "A81001")
            #expect(excluded.leftAt == 8 && excluded.engineLeftAt == 8 && !excluded.onRecordedList)
            let cancer = excluded.criteria[7]
            #expect(cancer.id == "cancer" && cancer.held && !cancer.passed && cancer.removedHere)
            #expect(cancer.records.map(\.code) == ["B34..", "B1..."] && cancer.records.map(\.counted) == [false, true])
            #expect(excluded.criteria.filter(\.removedHere).count == 1)

            let nobody = try #require(throws: RecruitError.self) { try explainer.explain(runID: runID, patientID: "ghost", practiceID: nil) }
            #expect(nobody.message == "run \(runID) has no patient with the id given in its practices (A81001)")
        }
    }

    @Test("why agrees with the SQL engine for every patient of a random extract with random history")
    func whyAgreesWithEngine() throws {
        let lists = try CodeListFixture.referenceDirectory()
        let cohort = try S.cohort(codeLists: lists)
        var random = RandomExtract(seed: 8, indexDate: S.d, edges: [0, 90, 365, 730, 1825], ages: [18, 64], codeLists: CodeListFixture.reference)
        let x = random.extract(patients: 60, extractDate: S.d)
        try TestDatabase.withSchema { db in
            try x.write(to: db)
            let first = try #require(try S.run(db, cohort, mode: .issue, indexDate: S.d.adding(days: -30)).runID)
            _ = first
            let runID = try #require(try S.run(db, cohort).runID)
            let explainer = PatientExplainer(database: db, logger: TestDatabase.quietLogger)
            let recorded = Set(try db.connection.query("SELECT practice_id || '/' || patient_id AS k FROM run_invitations WHERE run_id = \(runID)").map { $0.string("k") })
            for patient in x.patients {
                let e = try explainer.explain(runID: runID, patientID: patient.patientID, practiceID: patient.practiceID)
                #expect(e.leftAt == e.engineLeftAt, "\(patient.practiceID)/\(patient.patientID)")
                #expect((e.leftAt == 0) == recorded.contains("\(patient.practiceID)/\(patient.patientID)"))
            }
        }
    }

    @Test("a stale snapshot is refused naming the practice and both dates; --allow-stale runs it and records it")
    func stale() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        var x = S.extract(["A81001"], ["p1"], extractDate: S.d.adding(days: -46))
        x.practices.append(.init("B82002", extractDate: S.d.adding(days: -45)))
        S.eligible(&x, "B82002", "p1", d: S.d.adding(days: -45))
        try TestDatabase.withSchema { db in
            try x.write(to: db)
            let error = try #require(throws: RecruitError.self) { try S.run(db, cohort, indexDate: S.d) }
            #expect(error.kind == .refused)
            #expect(error.message.hasPrefix("stale snapshot (more than 45 days older than the index date): practice A81001: extract date 2026-05-16 is 46 days before the index date 2026-07-01. Records made after the extract are missing"))
            #expect(error.message.hasSuffix("load a newer extract"))
            #expect(error.remedy == .init(verb: .give, inputs: [.allowStale], purpose: "to run anyway (recorded with the run)"))
            #expect(try S.count(db, "runs") == 0 && S.count(db, "audit_log") == 0)
            // 45 days is not stale.
            let fresh = try S.run(db, cohort, indexDate: S.d, practices: ["B82002"])
            #expect(fresh.manifest.snapshots.map(\.stale) == [false])
            let allowed = try S.run(db, cohort, indexDate: S.d, allowStale: true)
            let run = try RunRecord.load(try #require(allowed.runID), on: db.connection)
            #expect(run.allowStale && run.practices.map(\.stale) == [true, false] && run.maxExtractAgeDays == 45)
            #expect(allowed.manifest.options.allowStale && allowed.manifest.snapshots.map(\.stale) == [true, false])
        }
    }

    @Test("one run at a time per practice: a second is refused naming the holder, or waits with --wait")
    func concurrentRuns() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try S.extract(["A81001", "B82002"], ["p1"]).write(to: db)
            // Another session (a load, say) holds B82002.
            let other = try db.newConnection()
            defer { other.close() }
            try other.execute("SELECT set_config('application_name', 'recruit load', false)")
            try other.advisoryLock(PracticeLocks.key("B82002", in: db))
            let error = try #require(throws: PracticeBusy.self) { try S.run(db, cohort) }
            #expect(error.practiceID == "B82002")
            #expect(error.holder.hasPrefix("recruit load (process \(other.backendPID), database user "))
            #expect(error.description.hasSuffix("(one run or load at a time per practice); nothing was changed"))
            #expect(try S.count(db, "runs") == 0)
            // The refused run released A81001: another session can take it.
            let probe = try db.newConnection()
            defer { probe.close() }
            #expect(try probe.tryAdvisoryLock(PracticeLocks.key("A81001", in: db)))
            try probe.advisoryUnlock(PracticeLocks.key("A81001", in: db))
            // A run for A81001 alone is not blocked.
            #expect(try S.run(db, cohort, practices: ["A81001"]).runID != nil)
            // With --wait the run waits until the holder lets go.
            let released = Date().addingTimeInterval(1)
            let key = PracticeLocks.key("B82002", in: db)
            let box = ConnectionBox(other)
            let holder = Thread {
                Thread.sleep(until: released)
                try? box.connection.advisoryUnlock(key)
            }
            holder.start()
            let waited = try S.run(db, cohort, wait: true)
            #expect(Date() >= released && waited.runID != nil)
        }
    }

    @Test("two runs started together for the same practice: one runs, the other is refused")
    func racingRuns() throws {
        let lists = try CodeListFixture.referenceDirectory()
        try TestDatabase.withSchema { db in
            try S.extract(["A81001"], ["p1"]).write(to: db)
            let outcomes = RaceResults()
            let schema = db.schema
            let threads = (0..<2).map { i in
                Thread {
                    do {
                        let mine = try Database.connect(conninfo: TestDatabase.conninfo, schema: schema, logger: TestDatabase.quietLogger)
                        defer { mine.close() }
                        let cohort = try S.cohort(codeLists: lists)
                        _ = try S.run(mine, cohort, mode: .issue)
                        outcomes.add("ok")
                    } catch let error as RecruitError {
                        outcomes.add(error.message.contains("already issued") ? "refused" : "\(i): \(error)")
                    } catch is PracticeBusy {
                        outcomes.add("refused")
                    } catch {
                        outcomes.add("\(i): \(error)")
                    }
                }
            }
            threads.forEach { $0.start() }
            while outcomes.count < 2 { Thread.sleep(forTimeInterval: 0.05) }
            #expect(outcomes.all.sorted() == ["ok", "refused"])
            #expect(try S.count(db, "runs", where: "status = 'issued'") == 1)
        }
    }
}

/// Results collected from threads.
final class RaceResults: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
    var count: Int { all.count }
}

/// Hands a connection to one other thread (the test uses it from there only).
final class ConnectionBox: @unchecked Sendable {
    let connection: Connection
    init(_ connection: Connection) { self.connection = connection }
}
