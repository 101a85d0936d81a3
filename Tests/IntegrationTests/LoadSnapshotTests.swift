import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Loading and replacing snapshots: the happy path, monthly replaces, partial
/// extracts, idempotent re-loads, dry runs, locks, concurrent readers, a killed loader.
@Suite("Load: snapshots", .enabled(if: TestDatabase.isAvailable), .serialized)
struct LoadSnapshotTests {
    @Test("a canonical extract loads: typed rows, Read v2 term ids split off, a loads record, an audit entry, a summary")
    func loads() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make()
            defer { fixture.remove() }
            let result = try LoadTests.load(fixture, db, ["--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let summary = LoadTests.json(result.stdout)
            #expect(summary["status"] as? String == "loaded")
            #expect(summary["rows_read"] as? Int == 14)
            let files = summary["files"] as? [[String: Any]] ?? []
            #expect(files.map { $0["name"] as? String } == ["patients.csv", "events.csv", "prescriptions.csv"])
            #expect(files.allSatisfy { ($0["sha256"] as? String)?.count == 64 })
            let practices = summary["practices"] as? [[String: Any]] ?? []
            #expect(practices.map { $0["practice_id"] as? String } == ["A001", "B002"])

            let n245 = try db.connection.query("SELECT code, term_id FROM current_events WHERE patient_id = 'a1' ORDER BY event_date")
            #expect(n245.map { [$0["code"], $0["term_id"]] } == [["N245.", "00"], ["N245.", nil]])
            let rx = try db.connection.query("SELECT code FROM current_prescriptions WHERE patient_id = 'a2'")
            #expect(rx.first?.string("code") == "bd3j.")
            let typed = try db.connection.query("""
                SELECT p.year_of_birth, p.month_of_birth, p.sex::text AS sex, p.registration_start::text AS rs,
                       e.value::text AS value
                FROM current_patients p JOIN current_events e USING (practice_id, patient_id)
                WHERE p.patient_id = 'a3'
                """)
            #expect(typed.first.map { [$0["year_of_birth"], $0["month_of_birth"], $0["sex"], $0["rs"], $0["value"]] }
                    == ["1990", "12", "U", "2015-01-01", "-0.05"])
            #expect(try LoadTests.counts(db) == ["A001": [3, 4, 2], "B002": [2, 2, 1]])
            let load = try db.connection.query("SELECT load_id, status, profile_name, files, practices, finished_at IS NOT NULL AS done FROM loads")[0]
            #expect(load.string("status") == "loaded" && load.string("profile_name") == "canonical" && load.bool("done") == true)
            #expect(load.string("practices").contains("\"A001\": {\"events\": 4"))
            let audit = try db.connection.query("SELECT action, subjects::text AS s FROM audit_log")
            #expect(audit.map { $0.string("action") } == ["load"])
            // Only the indexes the cohort engine needs.
            let indexes = try db.connection.query("""
                SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = current_schema() AND c.relname ~ '_l[0-9]+(_[0-9]+)?$' ORDER BY 1
                """).map { $0.string("def") }
            // Events are split by patient id into two tables (two COPY streams), each with its index.
            #expect(indexes.count == 4)
            #expect(indexes.contains { $0.contains("UNIQUE") && $0.contains("(practice_id, patient_id)") })
            #expect(indexes.contains { $0.contains("(code, event_date)") })
            #expect(indexes.contains { $0.contains("(code, issue_date)") })
        }
    }

    @Test("two monthly extracts: the second replaces the first; the first's tables are dropped")
    func monthlyReplace() throws {
        try TestDatabase.withSchema { db in
            let october = try ExtractFiles.make()
            defer { october.remove() }
            #expect(try LoadTests.load(october, db).status == 0)
            let first = try LoadTests.lastLoad(db).id
            let november = try ExtractFiles.make(extractDate: "2026-11-30")
            defer { november.remove() }
            try november.append("patients.csv", "a4,A001,2000,,F,2026-11-01,,")
            try november.append("events.csv", "a4,2026-11-15,N245.,read2,")
            let result = try LoadTests.load(november, db)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("3 → 4"), "\(result.stdout)")
            let second = try LoadTests.lastLoad(db).id
            #expect(try LoadTests.counts(db) == ["A001": [4, 5, 2], "B002": [2, 2, 1]])
            let pointers = try db.connection.query("SELECT DISTINCT load_id, extract_date::text AS d FROM practice_snapshots")
            #expect(pointers.map { [$0.int("load_id"), $0.string("d") == "2026-11-30" ? 1 : 0] } == [[second, 1]])
            #expect(try LoadTests.tables(db, load: first).isEmpty)
            #expect(try LoadTests.tables(db, load: second) == ["events_l\(second)", "events_l\(second)_1", "events_l\(second)_2",
                                                                "patients_l\(second)", "prescriptions_l\(second)"])
        }
    }

    @Test("an extract holding one of two practices replaces that one and leaves the other as it was")
    func partialExtract() throws {
        try TestDatabase.withSchema { db in
            let both = try ExtractFiles.make()
            defer { both.remove() }
            #expect(try LoadTests.load(both, db).status == 0)
            let first = try LoadTests.lastLoad(db).id
            let onlyB = try ExtractFiles.make(
                patients: "patient_id,practice_id,year_of_birth,month_of_birth,sex,registration_start,registration_end,death_date\nb1,B002,1960,1,F,1999-09-09,,\nb2,B002,2001,6,M,2019-01-01,,2025-01-01\n",
                events: "patient_id,event_date,code,code_system,value\nb1,2026-11-01,N245.,read2,\n",
                prescriptions: "patient_id,issue_date,code,code_system,quantity,duration_days,issue_type\nb1,2026-11-01,bd3j.,read2,,,acute\n",
                extractDate: "2026-11-30")
            defer { onlyB.remove() }
            let result = try LoadTests.load(onlyB, db)
            #expect(result.status == 0, "\(result.stderr)")
            let second = try LoadTests.lastLoad(db).id
            #expect(try LoadTests.counts(db) == ["A001": [3, 4, 2], "B002": [2, 1, 1]])
            let pointers = try db.connection.query("SELECT practice_id, load_id FROM practice_snapshots ORDER BY 1")
            #expect(pointers.map { $0.int("load_id") } == [first, second])
            // The first load's tables stay while A001 points at them.
            #expect(try LoadTests.tables(db, load: first).count == 5)
        }
    }

    @Test("db status lists the practices' current snapshots and loads that failed or never finished")
    func databaseStatus() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make()
            defer { fixture.remove() }
            #expect(try LoadTests.load(fixture, db).status == 0)
            // A load whose session is gone: never finished.
            let dead = try db.connection.query("""
                INSERT INTO loads (os_user, tool_version, profile_name, profile_sha256, backend_pid, source_dir)
                VALUES ('someone', 'test', 'canonical', 'x', 2147483000, '/data/oct') RETURNING load_id
                """)[0].int("load_id")!
            let json = try RecruitCLI.run(["db", "status", "--json"], schema: db.schema)
            #expect(json.status == 0, "\(json.stderr)")
            let snapshots = LoadTests.json(json.stdout)["snapshots"] as? [String: Any]
            let practices = snapshots?["practices"] as? [[String: Any]] ?? []
            #expect(practices.map { $0["practice_id"] as? String } == ["A001", "B002"])
            #expect(practices.first?["events"] as? Int == 4)
            let problems = snapshots?["problem_loads"] as? [[String: Any]] ?? []
            #expect(problems.map { $0["load_id"] as? Int } == [dead])
            let text = try RecruitCLI.run(["db", "status"], schema: db.schema)
            #expect(text.stdout.contains("Practices:  2 with a current snapshot"))
            #expect(text.stdout.contains("Load \(dead) never finished"), "\(text.stdout)")
            // The next load marks it failed.
            try fixture.append("events.csv", "b1,2026-10-30,N245.,read2,")
            #expect(try LoadTests.load(fixture, db).status == 0)
            let after = try RecruitCLI.run(["db", "status"], schema: db.schema)
            #expect(after.stdout.contains("Load \(dead) failed"), "\(after.stdout)")
        }
    }

    @Test("re-loading the same files is a no-op that says so; --force reloads")
    func idempotent() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make()
            defer { fixture.remove() }
            #expect(try LoadTests.load(fixture, db).status == 0)
            let first = try LoadTests.lastLoad(db).id
            let before = try LoadTests.state(db)
            let again = try LoadTests.load(fixture, db, ["--json"])
            #expect(again.status == 0)
            let summary = LoadTests.json(again.stdout)
            #expect(summary["status"] as? String == "unchanged")
            #expect((summary["reason"] as? String)?.contains("already loaded for the same practices by load \(first)") == true)
            #expect(try LoadTests.state(db) == before)
            #expect(try LoadTests.lastLoad(db).status == "unchanged")
            let forced = try LoadTests.load(fixture, db, ["--force"])
            #expect(forced.status == 0, "\(forced.stderr)")
            let third = try LoadTests.lastLoad(db)
            #expect(third.status == "loaded")
            #expect(try db.connection.query("SELECT DISTINCT load_id FROM practice_snapshots").map { $0.int("load_id") } == [third.id])
            #expect(try LoadTests.tables(db, load: first).isEmpty)
            let actions = try db.connection.query("SELECT action FROM audit_log ORDER BY entry_id").map { $0.string("action") }
            #expect(actions == ["load", "load.unchanged", "load"])
            // A changed file is loaded again.
            try fixture.append("events.csv", "b1,2026-10-30,N245.,read2,")
            let changed = try LoadTests.load(fixture, db)
            #expect(changed.status == 0)
            #expect(try LoadTests.lastLoad(db).status == "loaded")
        }
    }

    @Test("a dry run reports before → after and changes nothing")
    func dryRun() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make()
            defer { fixture.remove() }
            #expect(try LoadTests.load(fixture, db).status == 0)
            let before = try LoadTests.state(db)
            let next = try ExtractFiles.make(extractDate: "2026-11-30")
            defer { next.remove() }
            try next.append("patients.csv", "a4,A001,2000,,F,2026-11-01,,")
            let result = try LoadTests.load(next, db, ["--dry-run", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let summary = LoadTests.json(result.stdout)
            #expect(summary["status"] as? String == "dry_run")
            let a = (summary["practices"] as? [[String: Any]])?.first
            #expect((a?["before"] as? [String: Any])?["patients"] as? Int == 3)
            #expect((a?["after"] as? [String: Any])?["patients"] as? Int == 4)
            #expect(try LoadTests.state(db) == before)
            let last = try LoadTests.lastLoad(db)
            #expect(last.status == "dry_run")
            #expect(try LoadTests.tables(db, load: last.id).isEmpty)
        }
    }

    @Test("a dry run counts the rejected rows of each practice, and those that belong to none")
    func dryRunRejectsPerPractice() throws {
        try TestDatabase.withSchema { db in
            let next = try ExtractFiles.make()
            defer { next.remove() }
            try next.append("patients.csv", "a5,A001,1970,13,F,2001-01-01,,")    // A001: invalid month (its events too)
            try next.append("events.csv", "a5,2020-01-01,N245.,read2,")           // A001: patient rejected
            try next.append("events.csv", "b1,2020-01-01,N245.,icd10,")           // B002: invalid code_system
            try next.append("prescriptions.csv", "b2,2026-01-01,4201x,dmd,,,")   // B002: invalid dmd code
            try next.append("events.csv", "zz,2020-01-01,N245.,read2,")           // nobody's: unknown patient
            let result = try LoadTests.load(next, db, ["--dry-run", "--json", "--max-reject-rate", "0.5"])
            #expect(result.status == 0, "\(result.stderr)")
            let summary = LoadTests.json(result.stdout)
            let practices = (summary["practices"] as? [[String: Any]]) ?? []
            #expect(practices.map { $0["practice_id"] as? String } == ["A001", "B002"])
            #expect(practices.map { $0["rejected"] as? Int } == [2, 2])
            #expect(summary["rows_rejected_without_practice"] as? Int == 1)
            let text = try LoadTests.load(next, db, ["--dry-run", "--max-reject-rate", "0.5"])
            #expect(text.stdout.contains("1 rejected row(s) belong to no practice loaded here"), "\(text.stdout)")
        }
    }

    @Test("a load for a practice another load holds exits naming the holder; --wait waits for it")
    func practiceLock() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make()
            defer { fixture.remove() }
            // Another load in progress: a running loads row of this session, holding B002's lock.
            let other = try db.connection.query("""
                INSERT INTO loads (os_user, tool_version, profile_name, profile_sha256) VALUES ('someone', 'test', 'canonical', 'x')
                RETURNING load_id
                """)[0].int("load_id")!
            let key = db.lockKey("practice:B002")
            try db.connection.advisoryLock(key)
            let busy = try LoadTests.load(fixture, db)
            #expect(busy.status == 2)
            #expect(busy.stderr.contains("practice B002 is busy: load \(other) started by someone"), "\(busy.stderr)")
            #expect(try LoadTests.counts(db).isEmpty)

            let release = UncheckedSendableConnection(db.connection, key: key)
            DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) { release.unlock() }
            let started = Date()
            let waited = try LoadTests.load(fixture, db, ["--wait"])
            #expect(waited.status == 0, "\(waited.stderr)")
            #expect(Date().timeIntervalSince(started) >= 1.4)
            #expect(try LoadTests.counts(db)["B002"] == [2, 2, 1])
        }
    }

    @Test("a load for a practice a run holds exits naming the run")
    func practiceHeldByRun() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make()
            defer { fixture.remove() }
            let locks = PracticeLocks(database: db, logger: TestDatabase.quietLogger)
            try locks.acquire(["A001"], wait: false, holder: "recruit run chronic-pain-out-of-work")
            let busy = try LoadTests.load(fixture, db)
            #expect(busy.status == 2)
            #expect(busy.stderr.contains("practice A001 is busy: recruit run chronic-pain-out-of-work by "), "\(busy.stderr)")
            #expect(busy.stderr.contains("nothing was changed"))
            #expect(try LoadTests.counts(db).isEmpty)
            try locks.release()
            #expect(try LoadTests.load(fixture, db).status == 0)
        }
    }

    @Test("a query running while a practice is replaced sees the old or the new snapshot, never a mix, and is not blocked")
    func concurrentReader() throws {
        try TestDatabase.withSchema { db in
            let old = try ExtractFiles.large(patients: 2000, practices: 2, eventsPerPatient: 30, tag: "o")
            defer { old.remove() }
            #expect(try LoadTests.load(old, db).status == 0)
            let oldCounts = try LoadTests.counts(db)
            let new = try ExtractFiles.large(patients: 3000, practices: 2, eventsPerPatient: 40, tag: "n")
            defer { new.remove() }
            let reader = try db.newConnection()
            defer { reader.close() }
            // A long search: one REPEATABLE READ transaction across the whole load.
            try reader.executeScript(unsafeSQL: "BEGIN ISOLATION LEVEL REPEATABLE READ")
            func observe(_ c: Connection) throws -> [String: [Int]] {
                let rows = try c.query("""
                    SELECT s.practice_id,
                      (SELECT count(*) FROM current_patients p WHERE p.practice_id = s.practice_id) AS p,
                      (SELECT count(*) FROM current_events e WHERE e.practice_id = s.practice_id) AS e,
                      (SELECT count(*) FROM current_prescriptions r WHERE r.practice_id = s.practice_id) AS r
                    FROM practice_snapshots s
                    """)
                var out: [String: [Int]] = [:]
                for r in rows { out[r.string("practice_id")] = [r.int("p")!, r.int("e")!, r.int("r")!] }
                return out
            }
            #expect(try observe(reader) == oldCounts)
            let done = LockedFlag()
            let loadResult = LockedBox<RecruitCLI.Result?>(nil)
            let schema = db.schema
            let newPath = new.path
            Thread.detachNewThread {
                loadResult.set(try? RecruitCLI.run(["load", newPath], schema: schema))
                done.set()
            }
            // Fresh single-statement readers meanwhile: each sees all-old or all-new, quickly.
            let poller = try db.newConnection()
            defer { poller.close() }
            var sawOld = 0, sawNew = 0, slowest = 0.0
            var newCounts: [String: [Int]]? = nil
            while !done.isSet {
                let t = Date()
                let seen = try observe(poller)
                slowest = max(slowest, Date().timeIntervalSince(t))
                if seen == oldCounts { sawOld += 1 } else {
                    if newCounts == nil { newCounts = seen }
                    #expect(seen == newCounts, "a mix of snapshots: \(seen)")
                    sawNew += 1
                }
                Thread.sleep(forTimeInterval: 0.02)
            }
            #expect(loadResult.value?.status == 0, "\(loadResult.value?.stderr ?? "")")
            let final = try observe(poller)
            #expect(final == ["P0": [1500, 60000, 4500], "P1": [1500, 60000, 4500]])
            if let newCounts { #expect(newCounts == final) }
            #expect(sawOld > 0)
            #expect(slowest < 2.0, "a reader waited \(slowest) s")
            // The long transaction still sees the old snapshot, whole.
            #expect(try observe(reader) == oldCounts)
            try reader.executeScript(unsafeSQL: "COMMIT")
            #expect(try observe(reader) == final)
            _ = sawNew
        }
    }

    @Test("SIGKILL mid-COPY leaves the previous snapshot intact; the next load marks it failed, cleans up and succeeds")
    func killedMidCopy() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make()
            defer { fixture.remove() }
            #expect(try LoadTests.load(fixture, db).status == 0)
            let before = try LoadTests.state(db)
            let big = try ExtractFiles.large(patients: 8000, practices: 2, eventsPerPatient: 50, tag: "k")
            defer { big.remove() }
            let process = Process()
            process.executableURL = RecruitCLI.executable
            process.arguments = ["load", big.path, "-q"]
            var environment = ProcessInfo.processInfo.environment
            environment["RECRUIT_SCHEMA"] = db.schema
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Wait until a COPY into this load's events table is under way.
            let deadline = Date().addingTimeInterval(60)
            var copying = false
            while Date() < deadline && process.isRunning {
                // The load's streams connect as "recruit load ID"; its tables are not visible before they commit.
                let rows = try db.connection.query("""
                    SELECT p.tuples_processed FROM pg_stat_progress_copy p JOIN pg_stat_activity a ON a.pid = p.pid
                    JOIN loads l ON a.application_name = 'recruit load ' || l.load_id
                    WHERE l.status = 'running' AND a.query LIKE 'COPY "events_l%' AND p.tuples_processed > 0
                    """)
                if !rows.isEmpty { copying = true; break }
                Thread.sleep(forTimeInterval: 0.01)
            }
            #expect(copying, "the load never reached its COPY")
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            let killed = try LoadTests.lastLoad(db)
            #expect(killed.status == "running")
            #expect(try LoadTests.state(db) == before)
            // The server notices the dead client; wait for its session to end.
            let gone = Date().addingTimeInterval(20)
            while Date() < gone {
                let n = try db.connection.query("""
                    SELECT count(*) AS n FROM pg_stat_activity a JOIN loads l ON l.backend_pid = a.pid WHERE l.load_id = \(killed.id)
                    """)[0].int("n")
                if n == 0 { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            let next = try LoadTests.load(big, db)
            #expect(next.status == 0, "\(next.stderr)")
            let status = try db.connection.query("SELECT status, reason FROM loads WHERE load_id = \(killed.id)")[0]
            #expect(status.string("status") == "failed")
            #expect(try LoadTests.tables(db, load: killed.id).isEmpty)
            #expect(try LoadTests.counts(db)["P0"] == [4000, 200_000, 12000])
            #expect(try db.connection.query("SELECT action FROM audit_log WHERE action = 'load.failed'").count == 1)
        }
    }
}

/// Test helpers for crossing threads.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return flag }
    func set() { lock.lock(); flag = true; lock.unlock() }
}

final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T { lock.lock(); defer { lock.unlock() }; return stored }
    func set(_ value: T) { lock.lock(); stored = value; lock.unlock() }
}

/// Releases an advisory lock from another thread (the test's connection is idle meanwhile).
final class UncheckedSendableConnection: @unchecked Sendable {
    let connection: Connection
    let key: String
    init(_ connection: Connection, key: String) { self.connection = connection; self.key = key }
    func unlock() { try? connection.advisoryUnlock(key) }
}
