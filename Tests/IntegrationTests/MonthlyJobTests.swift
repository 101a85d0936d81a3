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

    /// A pack's files for the two practices of the extract, relative to its folder.
    static let packFiles = ["A81001", "B82002"].flatMap { practice in PackWriter.files.map { "\(practice)/\($0)" } } + ["README.txt"]

    /// The job's last-summary.json.
    static func lastSummary(_ out: URL) throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("last-summary.json"))) as? [String: Any]) ?? [:]
    }

    @Test("an issued run's screening pack is written beside its outputs and reported; run again it is left as it is, a pack cut short is written again")
    func issuedRunPack() throws {
        try TestDatabase.withSchema { db in
            let files = try RetainedSnapshotTests.extract(S.d).files()
            let out = try TestDatabase.temporaryDirectory("monthly")
            defer { files.remove() }
            let first = try Self.monthly(files.path, out: out, db, ["--max-extract-age-days", "100000", "--issue"])
            #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
            let pack = out.appendingPathComponent("chronic-pain-out-of-work/2026-07-01/pack")
            #expect(first.stdout.contains("chronic-pain-out-of-work: run 1, issued, 4 invited (4 newly eligible)"), "\(first.stdout)")
            #expect(first.stdout.contains("  pack:    \(pack.path) (2 practice(s), 4 invitee(s))"), "\(first.stdout)")
            for file in Self.packFiles {
                #expect(FileManager.default.fileExists(atPath: pack.appendingPathComponent(file).path), "\(file)")
            }
            // The feedback file is the run's, pre-filled with its invitees; the letter names the study (the cohort, by default).
            let feedback = try String(contentsOf: pack.appendingPathComponent("A81001/feedback.csv"), encoding: .utf8)
            #expect(feedback == "practice_id,patient_id,run_id,outcome,date,reason_code,reason,channel\nA81001,a1,1,,,,,\nA81001,a2,1,,,,,\n")
            let letter = try String(contentsOf: pack.appendingPathComponent("A81001/letter.html"), encoding: .utf8)
            #expect(letter.contains("chronic-pain-out-of-work") && letter.contains(MonthlyJob.Packs.contactPlaceholder))
            #expect(first.stdout.contains("warning: monthly.pack.contact is not set"), "\(first.stdout)")
            let summary = try Self.lastSummary(out)
            #expect(summary["packs"] as? Bool == true)
            let entry = (summary["runs"] as? [[String: Any]])?.first ?? [:]
            #expect(entry["newly_eligible"] as? Int == 4)
            let written = entry["pack"] as? [String: Any] ?? [:]
            #expect(written["status"] as? String == "written" && written["directory"] as? String == pack.path, "\(written)")
            #expect(written["practices"] as? Int == 2 && written["invitees"] as? Int == 4)
            #expect(try S.auditActions(db).filter { $0 == "pack" }.count == 1)
            let sheet = try Data(contentsOf: pack.appendingPathComponent("B82002/screening.html"))

            // Again on the same extract: nothing new, the pack left as it is.
            let second = try Self.monthly(files.path, out: out, db, ["--max-extract-age-days", "100000", "--issue", "--json"])
            #expect(second.status == 0, "\(second.stderr)")
            let again = LoadTests.json(second.stdout)
            #expect(again["status"] as? String == "nothing_new", "\(second.stdout)")
            let left = ((again["runs"] as? [[String: Any]])?.first?["pack"] as? [String: Any]) ?? [:]
            #expect(left["status"] as? String == "already_written", "\(left)")
            #expect(try S.auditActions(db).filter { $0 == "pack" }.count == 1)
            #expect(try Data(contentsOf: pack.appendingPathComponent("B82002/screening.html")) == sheet)

            // A pack cut short (the job stopped before its README.txt): the next job writes it again, whole.
            try FileManager.default.removeItem(at: pack.appendingPathComponent("README.txt"))
            try FileManager.default.removeItem(at: pack.appendingPathComponent("B82002/letter.html"))
            let third = try Self.monthly(files.path, out: out, db, ["--max-extract-age-days", "100000", "--issue", "--json"])
            #expect(third.status == 0, "\(third.stderr)")
            let rewritten = LoadTests.json(third.stdout)
            #expect(rewritten["status"] as? String == "done", "\(third.stdout)")
            #expect(((rewritten["runs"] as? [[String: Any]])?.first?["pack"] as? [String: Any])?["status"] as? String == "written")
            for file in Self.packFiles {
                #expect(FileManager.default.fileExists(atPath: pack.appendingPathComponent(file).path), "\(file)")
            }
            #expect(try S.auditActions(db).filter { $0 == "pack" }.count == 2)
        }
    }

    @Test("a draft's pack waits for the issue: the summary gives the command, which writes it once the run is issued; the next job leaves it")
    func draftRunPack() throws {
        try TestDatabase.withSchema { db in
            let files = try RetainedSnapshotTests.extract(S.d).files()
            let out = try TestDatabase.temporaryDirectory("monthly")
            defer { files.remove() }
            let first = try Self.monthly(files.path, out: out, db, ["--max-extract-age-days", "100000", "--json"])
            #expect(first.status == 0, "\(first.stderr)")
            let pack = out.appendingPathComponent("chronic-pain-out-of-work/2026-07-01/pack")
            let waiting = ((LoadTests.json(first.stdout)["runs"] as? [[String: Any]])?.first?["pack"] as? [String: Any]) ?? [:]
            #expect(waiting["status"] as? String == "awaiting_issue", "\(waiting)")
            let command = try #require(waiting["command"] as? String)
            #expect(command.hasPrefix("recruit pack 1 --out \(pack.path) --study chronic-pain-out-of-work --contact '«study contact»' --template "), "\(command)")
            #expect(!FileManager.default.fileExists(atPath: pack.path))
            #expect((try Self.lastSummary(out)["runs"] as? [[String: Any]])?.first?["pack"] as? [String: Any] != nil)
            let text = try Self.monthly(files.path, out: out, db)
            #expect(text.stdout.contains("  pack:    written once the run is issued (a pack needs an issued run): after recruit runs issue 1, "
                                         + "the next recruit monthly on this extract writes it to \(pack.path), or now: \(command)"), "\(text.stdout)")

            // Issued, the command writes it (as a shell runs it, with this build's recruit).
            #expect(try RecruitCLI.run(["runs", "issue", "1"], schema: db.schema).status == 0)
            var environment = ProcessInfo.processInfo.environment
            environment["RECRUIT_SCHEMA"] = db.schema
            let shell = try ProcessRunner.run("/bin/sh", ["-c", RecruitCLI.executable.path + command.dropFirst("recruit".count)], environment: environment)
            #expect(shell.status == 0, "\(shell.stdout)\n\(shell.stderr)")
            for file in Self.packFiles {
                #expect(FileManager.default.fileExists(atPath: pack.appendingPathComponent(file).path), "\(file)")
            }
            let next = try Self.monthly(files.path, out: out, db, ["--max-extract-age-days", "100000", "--json"])
            let left = ((LoadTests.json(next.stdout)["runs"] as? [[String: Any]])?.first?["pack"] as? [String: Any]) ?? [:]
            #expect(left["status"] as? String == "already_written", "\(next.stdout)")
        }
    }

    @Test("monthly.packs: false writes no pack and says so; a letter template naming an unknown field refuses the job before it loads")
    func packsOff() throws {
        try TestDatabase.withSchema { db in
            let files = try RetainedSnapshotTests.extract(S.d).files()
            let out = try TestDatabase.temporaryDirectory("monthly")
            defer { files.remove() }
            let settings = out.appendingPathComponent("recruit.yaml")
            let template = out.appendingPathComponent("letter.md")
            try Data("# {{study_name}}\n\nDear {{patient_name}},\n".utf8).write(to: template)
            try Data("monthly:\n  packs: true\n  pack:\n    template: letter.md\n".utf8).write(to: settings)
            let refused = try Self.monthly(files.path, out: out, db, ["--max-extract-age-days", "100000", "--issue", "--settings", settings.path])
            #expect(refused.status == 1, "\(refused.stdout)\n\(refused.stderr)")
            #expect(refused.stderr.contains("\(template.path):3: unknown field 'patient_name'"), "\(refused.stderr)")
            #expect(try S.count(db, "loads") == 0 && S.count(db, "runs") == 0)

            try Data("monthly:\n  packs: false\n".utf8).write(to: settings)
            let off = try Self.monthly(files.path, out: out, db, ["--max-extract-age-days", "100000", "--issue", "--settings", settings.path])
            #expect(off.status == 0, "\(off.stdout)\n\(off.stderr)")
            #expect(off.stdout.contains("packs: not written (monthly.packs: false)"), "\(off.stdout)")
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("chronic-pain-out-of-work/2026-07-01/pack").path))
            let summary = try Self.lastSummary(out)
            #expect(summary["packs"] as? Bool == false)
            #expect((summary["runs"] as? [[String: Any]])?.first?["pack"] == nil)
            #expect(try S.auditActions(db).filter { $0 == "pack" }.isEmpty)
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
