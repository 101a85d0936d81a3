import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Answers that outlive the next load: the snapshots issued runs used are kept
/// (moved to the retained tables) when later loads replace them, so `runs why`
/// and `--reproduce` keep answering; only `recruit db prune` drops them, never
/// within the retention period. Draft runs keep nothing.
@Suite("Runs: snapshots issued runs used outlive later loads", .enabled(if: TestDatabase.isAvailable), .serialized)
struct RetainedSnapshotTests {
    typealias S = RunScenario

    /// Two practices, each with two eligible people and one who is not (no fit note), at `date`.
    static func extract(_ date: LocalDate) -> ExtractFixture {
        var x = ExtractFixture(practices: [.init("A81001", extractDate: date), .init("B82002", extractDate: date)])
        for (practice, ids) in [("A81001", ["a1", "a2"]), ("B82002", ["b1", "b2"])] {
            for id in ids { S.eligible(&x, practice, id, d: date) }
            x.add(.init(practiceID: practice, patientID: ids[0] + "x", yearOfBirth: 1975, monthOfBirth: 1, registrationStart: date.adding(days: -3000)))
            x.event(practice, ids[0] + "x", date.adding(days: -20), "N245.")
        }
        return x
    }

    static func load(_ x: ExtractFixture, _ db: Database, _ extra: [String] = []) throws {
        let files = try x.files()
        defer { files.remove() }
        let result = try RecruitCLI.run(["load", files.path] + extra, schema: db.schema)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
    }

    static let patients = [("A81001", "a1"), ("A81001", "a2"), ("A81001", "a1x"), ("B82002", "b1"), ("B82002", "b2"), ("B82002", "b1x")]

    /// Every patient's explanation of the run, as comparable text.
    static func explanations(_ db: Database, run: Int) throws -> [String] {
        let explainer = PatientExplainer(database: db, logger: TestDatabase.quietLogger)
        return try patients.map { practice, patient in
            let e = try explainer.explain(runID: run, patientID: patient, practiceID: practice)
            return "\(practice)/\(patient) load=\(e.loadID) listed=\(e.onRecordedList) left=\(e.leftAt) engine=\(e.engineLeftAt) "
                + e.criteria.map { "\($0)" }.joined(separator: "|")
        }
    }

    @Test("an issued run answers runs why for every patient and --reproduce gives the same hashes after two later loads replace all its practices")
    func outlivesLoads() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try Self.load(Self.extract(S.d), db)
            let outcome = try S.run(db, cohort, mode: .issue)
            let runID = try #require(outcome.runID)
            #expect(try S.invited(outcome) == ["A81001/a1", "A81001/a2", "B82002/b1", "B82002/b2"])
            let before = try Self.explanations(db, run: runID)
            #expect(before.filter { $0.contains("listed=true") }.count == 4)
            let runLoad = try db.connection.query("SELECT DISTINCT load_id FROM run_practices WHERE run_id = \(runID)").map { $0.int("load_id")! }
            #expect(runLoad.count == 1)

            // Two later monthly loads replace both practices.
            try Self.load(Self.extract(S.d.adding(days: 30)), db)
            try Self.load(Self.extract(S.d.adding(days: 60)), db)
            #expect(try db.connection.query("SELECT DISTINCT load_id FROM practice_snapshots").map { $0.int("load_id")! } != runLoad)
            // The run's load left the current tables (the searches do not read it) but is kept.
            let parents = try db.connection.query("""
                SELECT p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
                WHERE c.relnamespace = current_schema()::regnamespace
                  AND c.relname ~ \("^(patients|events|prescriptions)_l\(runLoad[0])$") ORDER BY 1
                """).map { $0.string("relname") }
            #expect(parents == ["retained_events", "retained_patients", "retained_prescriptions"])
            let status = try SnapshotStatus.read(db.connection)
            #expect(status.retainedSnapshots.map(\.loadID) == runLoad)
            #expect(status.retainedSnapshots.first.map { $0.bytes > 0 && $0.runs == 1 } == true)
            // The second month's load, which no issued run used, was dropped.
            #expect(try LoadTests.tables(db, load: runLoad[0] + 1).isEmpty)

            #expect(try Self.explanations(db, run: runID) == before)
            let reproduced = try RunReproducer(database: db, logger: TestDatabase.quietLogger).reproduce(runID, into: nil, wait: false)
            #expect(reproduced.result == .identical, "\(reproduced.differing)")
            #expect(reproduced.invited == 4 && reproduced.compared == reproduced.invited)
            // The CLI too.
            let why = try RecruitCLI.run(["runs", "why", "\(runID)", "b2", "--practice", "B82002", "--json"], schema: db.schema)
            #expect(why.status == 0, "\(why.stderr)")
            let again = try RecruitCLI.run(["run", "--reproduce", "\(runID)"], schema: db.schema)
            #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
        }
    }

    @Test("a draft run keeps nothing: after a load replaces its practices, the refusal says only issued runs keep their snapshots")
    func draftLosesIt() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try Self.load(Self.extract(S.d), db)
            let runID = try #require(try S.run(db, cohort, mode: .draft).runID)
            try Self.load(Self.extract(S.d.adding(days: 30)), db)
            let gone = try #require(throws: RecruitError.self) {
                try PatientExplainer(database: db, logger: TestDatabase.quietLogger).explain(runID: runID, patientID: "a1", practiceID: nil)
            }
            #expect(gone.message.contains("has been dropped"), "\(gone.message)")
            #expect(gone.message.hasSuffix("(only issued runs keep the snapshots they used; this run is a draft)"), "\(gone.message)")
            #expect(try SnapshotStatus.read(db.connection).retainedSnapshots.isEmpty)
        }
    }

    @Test("db prune drops only what runs issued before the retention period used, records it, and then those runs cannot be reproduced")
    func prune() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try Self.load(Self.extract(S.d), db)
            let old = try #require(try S.run(db, cohort, mode: .issue).runID)
            try Self.load(Self.extract(S.d.adding(days: 30)), db)
            let recent = try #require(try S.run(db, cohort, mode: .issue, indexDate: S.d.adding(days: 30)).runID)
            try Self.load(Self.extract(S.d.adding(days: 60)), db)
            #expect(try SnapshotStatus.read(db.connection).retainedSnapshots.count == 2)
            // The old run was issued 400 days ago.
            try db.connection.execute("ALTER TABLE runs DISABLE TRIGGER USER")
            try db.connection.execute("UPDATE runs SET issued_at = now() - interval '400 days' WHERE run_id = \(old)")
            try db.connection.execute("ALTER TABLE runs ENABLE TRIGGER USER")

            // Within the retention period, nothing goes; the database function refuses too.
            let keep = try RecruitCLI.run(["db", "prune", "--json"], schema: db.schema)
            #expect(keep.status == 0, "\(keep.stderr)")
            #expect((LoadTests.json(keep.stdout)["pruned"] as? [Any])?.isEmpty == true, "\(keep.stdout)")
            let loads = try SnapshotStatus.read(db.connection).retainedSnapshots.map(\.loadID)
            #expect(throws: PostgresError.self) {
                try db.connection.execute("SELECT drop_load_tables(\(loads)::bigint[])")
            }

            let dry = try RecruitCLI.run(["db", "prune", "--retention-days", "365", "--dry-run"], schema: db.schema)
            #expect(dry.status == 0 && dry.stdout.contains("Prune would drop 1 snapshot(s)"), "\(dry.stdout)\(dry.stderr)")
            #expect(try SnapshotStatus.read(db.connection).retainedSnapshots.count == 2)

            let pruned = try RecruitCLI.run(["db", "prune", "--retention-days", "365"], schema: db.schema)
            #expect(pruned.status == 0, "\(pruned.stderr)")
            #expect(pruned.stdout.contains("Prune dropped 1 snapshot(s)") && pruned.stdout.contains("load \(loads[0])"), "\(pruned.stdout)")
            #expect(pruned.stdout.contains("Kept 1 snapshot(s)"), "\(pruned.stdout)")
            #expect(try SnapshotStatus.read(db.connection).retainedSnapshots.map(\.loadID) == [loads[1]])
            #expect(try LoadTests.tables(db, load: loads[0]).isEmpty)
            #expect(try S.auditActions(db).last == "db.prune")

            let reproducer = RunReproducer(database: db, logger: TestDatabase.quietLogger)
            #expect(throws: RecruitError.self) { try reproducer.reproduce(old, into: nil, wait: false) }
            #expect(try reproducer.reproduce(recent, into: nil, wait: false).result == .identical)
        }
    }
}
