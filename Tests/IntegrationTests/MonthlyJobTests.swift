import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// `recruit monthly`: one idempotent command for cron.
@Suite("Monthly job", .enabled(if: TestDatabase.isAvailable), .serialized)
struct MonthlyJobTests {
    typealias S = RunScenario
    static let cohort = TestDatabase.repositoryRoot.appendingPathComponent("cohorts/chronic-pain-out-of-work.yaml").path

    /// `recruit monthly DIR` with the reference cohort and the fixture code lists, into `out`.
    static func monthly(_ dir: String, out: URL, _ db: Database, _ extra: [String] = ["--max-extract-age-days", "100000"]) throws -> RecruitCLI.Result {
        try RecruitCLI.run(["monthly", dir, "--cohort", cohort, "--codelists", try CodeListFixture.referenceDirectory().path,
                            "--out", out.path] + extra, schema: db.schema)
    }

    @Test("twice on one extract: the first loads and runs, the second does nothing new and says so")
    func twice() throws {
        try TestDatabase.withSchema { db in
            let files = try RetainedSnapshotTests.extract(S.d).files()
            let out = try TestDatabase.temporaryDirectory("monthly")
            defer { files.remove() }
            let first = try Self.monthly(files.path, out: out, db)
            #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
            #expect(first.stdout.hasPrefix("Monthly job done: "), "\(first.stdout)")
            #expect(first.stdout.contains("chronic-pain-out-of-work: run 1, draft, 4 invited"), "\(first.stdout)")
            #expect(first.stdout.contains("review the lists, then issue: recruit runs issue 1"), "\(first.stdout)")
            let runDir = out.appendingPathComponent("chronic-pain-out-of-work/2026-07-01")
            #expect(FileManager.default.fileExists(atPath: runDir.appendingPathComponent("invitations.csv").path))
            #expect(FileManager.default.fileExists(atPath: runDir.appendingPathComponent("report/report.html").path))
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("last-summary.json").path))
            let loads = try S.count(db, "loads"), runs = try S.count(db, "runs")

            let second = try Self.monthly(files.path, out: out, db, ["--max-extract-age-days", "100000", "--json"])
            #expect(second.status == 0, "\(second.stderr)")
            let summary = LoadTests.json(second.stdout)
            #expect(summary["status"] as? String == "nothing_new", "\(second.stdout)")
            #expect(summary["load_status"] as? String == "unchanged")
            let entries = summary["runs"] as? [[String: Any]] ?? []
            #expect(entries.first?["note"] as? String == "already run on these snapshots: run 1")
            #expect(try S.count(db, "runs") == runs)
            #expect(try S.count(db, "loads") == loads + 1)  // the unchanged attempt is recorded, nothing loaded
            #expect(try S.auditActions(db).suffix(2) == ["load.unchanged", "monthly"])
        }
    }

    @Test("a second copy while one runs exits 2 at once and does nothing; once the first is gone (even killed), the next starts cleanly")
    func oneAtATime() throws {
        try TestDatabase.withSchema { db in
            let files = try RetainedSnapshotTests.extract(S.d).files()
            let out = try TestDatabase.temporaryDirectory("monthly")
            defer { files.remove() }
            // Another job holds the lock (as a running copy does, on a connection of its own).
            let other = try db.newConnection()
            #expect(try other.tryAdvisoryLock(db.lockKey("monthly")))
            let started = Date()
            let busy = try Self.monthly(files.path, out: out, db)
            #expect(busy.status == 2, "\(busy.stdout)\n\(busy.stderr)")
            #expect(busy.stderr.contains("another recruit monthly is running"), "\(busy.stderr)")
            #expect(Date().timeIntervalSince(started) < 10)
            #expect(try S.count(db, "loads") == 0 && S.count(db, "runs") == 0)
            // The holder dies (its connection goes, as with SIGKILL): the lock goes with it.
            other.close()
            let next = try Self.monthly(files.path, out: out, db)
            #expect(next.status == 0, "\(next.stdout)\n\(next.stderr)")
        }
    }

    @Test("an extract older than the limit counted back from today is refused: nothing loaded, nothing run, recorded")
    func tooOld() throws {
        try TestDatabase.withSchema { db in
            let files = try RetainedSnapshotTests.extract(S.d).files()
            let out = try TestDatabase.temporaryDirectory("monthly")
            defer { files.remove() }
            let result = try Self.monthly(files.path, out: out, db, ["--max-extract-age-days", "45"])
            #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stdout.contains("Monthly job REFUSED, nothing was run"), "\(result.stdout)")
            #expect(result.stdout.contains("the extract is dated 2026-07-01,") && result.stdout.contains("the monthly job takes extracts at most 45 days old"),
                    "\(result.stdout)")
            #expect(try S.count(db, "loads") == 0 && S.count(db, "runs") == 0)
            #expect(try S.auditActions(db) == ["monthly.refused"])
            // A plain run on an old extract only warns (as in tests and demos): the gate is the monthly job's.
            #expect(try RecruitCLI.run(["load", files.path], schema: db.schema).status == 0)
            let plain = try RecruitCLI.run(["run", Self.cohort, "--codelists", try CodeListFixture.referenceDirectory().path,
                                            "--out", out.appendingPathComponent("plain").path, "--dry-run"], schema: db.schema)
            #expect(plain.status == 0, "\(plain.stderr)")
            #expect(plain.stderr.contains("the oldest snapshot run, extract date 2026-07-01, is") && plain.stderr.contains("recruit monthly would refuse it"),
                    "\(plain.stderr)")
        }
    }

    @Test("--drop takes the newest extract of a drop folder; a held-back practice makes the job need attention (exit 1)")
    func dropFolder() throws {
        try TestDatabase.withSchema { db in
            let drop = try TestDatabase.temporaryDirectory("drop")
            let july = try RetainedSnapshotTests.extract(S.d).files()
            let august = try RetainedSnapshotTests.extract(S.d.adding(days: 31)).files()
            defer { july.remove(); august.remove() }
            try FileManager.default.moveItem(at: july.directory, to: drop.appendingPathComponent("2026-07"))
            let out = try TestDatabase.temporaryDirectory("monthly")
            let first = try Self.monthly(drop.path, out: out, db, ["--drop", "--max-extract-age-days", "100000"])
            #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
            #expect(first.stdout.contains("(extract date 2026-07-01)"), "\(first.stdout)")
            try FileManager.default.moveItem(at: august.directory, to: drop.appendingPathComponent("2026-08"))
            let second = try Self.monthly(drop.path, out: out, db, ["--drop", "--max-extract-age-days", "100000"])
            #expect(second.status == 0, "\(second.stdout)\n\(second.stderr)")
            #expect(second.stdout.contains("(extract date 2026-08-01)"), "\(second.stdout)")
            #expect(second.stdout.contains("run 2, draft"), "\(second.stdout)")

            // September: practice B82002's extract has shrunk to one patient of three.
            var september = RetainedSnapshotTests.extract(S.d.adding(days: 62))
            september.patients.removeAll { $0.practiceID == "B82002" && $0.patientID != "b1" }
            september.events.removeAll { $0.practiceID == "B82002" && $0.patientID != "b1" }
            september.prescriptions.removeAll { $0.practiceID == "B82002" && $0.patientID != "b1" }
            let files = try september.files()
            try FileManager.default.moveItem(at: files.directory, to: drop.appendingPathComponent("2026-09"))
            let third = try Self.monthly(drop.path, out: out, db, ["--drop", "--max-extract-age-days", "100000"])
            #expect(third.status == 1, "\(third.stdout)\n\(third.stderr)")
            #expect(third.stdout.contains("Monthly job done, NEEDS ATTENTION"), "\(third.stdout)")
            #expect(third.stdout.contains("HELD BACK B82002 (their earlier snapshots stay)"), "\(third.stdout)")
            // The run covers only the practice that was replaced.
            let practices = try db.connection.query("SELECT practice_id FROM run_practices WHERE run_id = (SELECT max(run_id) FROM runs)")
            #expect(practices.map { $0.string("practice_id") } == ["A81001"])
        }
    }
}
