import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Extracts that look wrong are held back, per practice, before its snapshot is
/// replaced: a registered population that shrank by more than the limit, a
/// newest event older than the limit before the extract date, a file emptied.
@Suite("Load: extracts that look wrong are held back", .enabled(if: TestDatabase.isAvailable), .serialized)
struct LoadHeldBackTests {
    /// Two practices of `patients` patients each, every patient with an event
    /// `lag` days before the extract date and one prescription.
    static func extract(_ date: String, a: Int = 10, b: Int = 10, lagA: Int = 3, prescriptionsA: Bool = true) throws -> ExtractFiles {
        let day = LocalDate(iso: date)!
        var patients = "patient_id,practice_id,year_of_birth,month_of_birth,sex,registration_start,registration_end,death_date\n"
        var events = "patient_id,event_date,code,code_system,value\n"
        var prescriptions = "patient_id,issue_date,code,code_system,quantity,duration_days,issue_type\n"
        for (practice, n, lag, rx) in [("A001", a, lagA, prescriptionsA), ("B002", b, 3, true)] {
            for i in 0..<n {
                let id = "\(practice.prefix(1).lowercased())\(i)"
                patients += "\(id),\(practice),1970,,F,2001-01-01,,\n"
                events += "\(id),\(LocalDate(dayNumber: day.dayNumber - lag - i % 2)),N245.,read2,\n"
                if rx { prescriptions += "\(id),\(LocalDate(dayNumber: day.dayNumber - 10)),bd3j.,read2,56,28,repeat\n" }
            }
        }
        return try ExtractFiles.make(patients: patients, events: events, prescriptions: prescriptions, extractDate: date)
    }

    /// One practice's line of ``LoadTests/state(_:)``: its snapshot pointer and its rows' hashes.
    static func state(_ db: Database, _ practice: String) throws -> String {
        try LoadTests.state(db).split(separator: "\n").first { $0.hasPrefix(practice + " ") }.map(String.init) ?? "missing"
    }

    /// The practices of the load's audit entry (action `load`), by id.
    static func audited(_ db: Database, load: Int) throws -> [String: [String: Any]] {
        let rows = try db.connection.query("""
            SELECT payload::text AS p FROM audit_log WHERE action = 'load' AND (subjects->>'load_id')::bigint = \(load)
            """)
        let practices = LoadTests.json(rows.first?.string("p") ?? "{}")["practices"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: practices.map { ($0["practice_id"] as? String ?? "", $0) })
    }

    /// Loads October, then `november`: A001 held back for `check`, B002 replaced.
    func heldBack(_ november: ExtractFiles, check: String, message: String) throws {
        try TestDatabase.withSchema { db in
            let october = try Self.extract("2026-10-31")
            defer { october.remove(); november.remove() }
            #expect(try LoadTests.load(october, db).status == 0)
            let first = try LoadTests.lastLoad(db).id
            let before = try Self.state(db, "A001")

            let result = try LoadTests.load(november, db)
            #expect(result.status == 3, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stdout.contains("loaded 1 practice(s), HELD BACK 1"), "\(result.stdout)")
            #expect(result.stdout.contains("practice A001 held back, its earlier snapshot stays: \(message)"), "\(result.stdout)")
            #expect(result.stderr.contains("loaded in part: 1 practice(s) held back (A001)"), "\(result.stderr)")
            #expect(result.stderr.contains("--accept-shrink"), "\(result.stderr)")
            let second = try LoadTests.lastLoad(db)
            #expect(second.status == "loaded")
            // A001 keeps its October snapshot, row for row; B002 moved on.
            #expect(try Self.state(db, "A001") == before)
            let pointers = try db.connection.query("SELECT practice_id, load_id FROM practice_snapshots ORDER BY 1")
            #expect(pointers.map { $0.int("load_id") } == [first, second.id])
            #expect(try LoadTests.tables(db, load: first).count == 5)
            // The audit trail says why.
            let audited = try Self.audited(db, load: second.id)
            #expect(audited["A001"]?["held_back"] as? Bool == true)
            let findings = audited["A001"]?["findings"] as? [[String: Any]] ?? []
            #expect(findings.map { $0["check"] as? String } == [check], "\(findings)")
            #expect(audited["B002"]?["held_back"] as? Bool == false)
            #expect((audited["B002"]?["findings"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("a practice whose registered patients fell by more than 20% is held back; the other practice loads")
    func shrank() throws {
        try heldBack(try Self.extract("2026-11-30", a: 7), check: "shrank",
                     message: "registered patients fell from 10 to 7 (30.00%, more than the 20.00% allowed)")
    }

    @Test("a practice whose newest event is more than 60 days before the extract date is held back")
    func staleEvents() throws {
        try heldBack(try Self.extract("2026-11-30", lagA: 61), check: "stale_events",
                     message: "the newest event, 2026-09-30, is 61 days before the extract date (more than 60 allowed)")
    }

    @Test("a practice whose prescriptions file had rows and now has none is held back")
    func emptied() throws {
        try heldBack(try Self.extract("2026-11-30", prescriptionsA: false), check: "emptied",
                     message: "prescriptions has no rows for the practice; its last load had 10")
    }

    @Test("at the limits (a fall of exactly 20%, the newest event exactly 60 days back) the practice loads")
    func limits() throws {
        try TestDatabase.withSchema { db in
            let october = try Self.extract("2026-10-31")
            let november = try Self.extract("2026-11-30", a: 8, lagA: 60)
            defer { october.remove(); november.remove() }
            #expect(try LoadTests.load(october, db).status == 0)
            let result = try LoadTests.load(november, db)
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(try LoadTests.counts(db)["A001"] == [8, 8, 8])
            // Tighter limits from the command line hold it back.
            let december = try Self.extract("2026-12-31", a: 7, lagA: 3)
            defer { december.remove() }
            let strict = try LoadTests.load(december, db, ["--max-shrink", "0.1", "--json"])
            #expect(strict.status == 3, "\(strict.stderr)")
            #expect(LoadTests.json(strict.stdout)["status"] as? String == "loaded")
            let practices = LoadTests.json(strict.stdout)["practices"] as? [[String: Any]] ?? []
            #expect(practices.map { $0["held_back"] as? Bool } == [true, false])
        }
    }

    @Test("--accept-shrink lets a held-back practice through, and the audit trail records it")
    func accepted() throws {
        try TestDatabase.withSchema { db in
            let october = try Self.extract("2026-10-31")
            let november = try Self.extract("2026-11-30", a: 5)
            defer { october.remove(); november.remove() }
            #expect(try LoadTests.load(october, db).status == 0)
            #expect(try LoadTests.load(november, db).status == 3)
            // The same files again, accepted: loaded (not "nothing to do", since A001 was never replaced).
            let result = try LoadTests.load(november, db, ["--accept-shrink", "A001", "--accept-shrink", "Z999"])
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stdout.contains("warning: practice A001 accepted although registered patients fell from 10 to 5"), "\(result.stdout)")
            #expect(result.stdout.contains("warning: accepted practice(s) not in this extract: Z999"), "\(result.stdout)")
            #expect(try LoadTests.counts(db)["A001"] == [5, 5, 5])
            let load = try LoadTests.lastLoad(db).id
            let audited = try Self.audited(db, load: load)
            #expect(audited["A001"]?["accepted"] as? Bool == true)
            #expect(audited["A001"]?["held_back"] as? Bool == false)
            #expect((audited["A001"]?["findings"] as? [[String: Any]])?.first?["check"] as? String == "shrank")
        }
    }

    @Test("every practice held back: the load is refused, nothing changed, and the refusal names the remedy")
    func allHeldBack() throws {
        try TestDatabase.withSchema { db in
            let october = try Self.extract("2026-10-31")
            let november = try Self.extract("2026-11-30", a: 2, b: 2)
            defer { october.remove(); november.remove() }
            #expect(try LoadTests.load(october, db).status == 0)
            let before = try LoadTests.state(db)
            let result = try LoadTests.load(november, db)
            #expect(result.status == 1, "\(result.stderr)")
            #expect(result.stderr.contains("every practice in the extract looks wrong and is held back (A001, B002); nothing was changed"),
                    "\(result.stderr)")
            #expect(result.stderr.contains("--accept-shrink"), "\(result.stderr)")
            #expect(try LoadTests.state(db) == before)
            #expect(try LoadTests.lastLoad(db).status == "refused")
            let refusal = try db.connection.query("SELECT payload::text AS p FROM audit_log WHERE action = 'load.refused'")
            #expect(refusal.count == 1)
            #expect(refusal.first?.string("p").contains("held back") == true)
        }
    }

    @Test("a practice new to the database loads with a warning although its events are old: it has no snapshot to keep")
    func newPractice() throws {
        try TestDatabase.withSchema { db in
            let stale = try Self.extract("2026-11-30", lagA: 400)
            defer { stale.remove() }
            let result = try LoadTests.load(stale, db)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("warning: practice A001 is new here and loaded although the newest event"), "\(result.stdout)")
            #expect(try LoadTests.counts(db)["A001"] == [10, 10, 10])
        }
    }

    @Test("a dry run reports the practices it would hold back and changes nothing")
    func dryRun() throws {
        try TestDatabase.withSchema { db in
            let october = try Self.extract("2026-10-31")
            let november = try Self.extract("2026-11-30", a: 7)
            defer { october.remove(); november.remove() }
            #expect(try LoadTests.load(october, db).status == 0)
            let before = try LoadTests.state(db)
            let result = try LoadTests.load(november, db, ["--dry-run"])
            #expect(result.status == 3, "\(result.stderr)")
            #expect(result.stdout.contains("1 practice(s) would be replaced, 1 held back"), "\(result.stdout)")
            #expect(try LoadTests.state(db) == before)
        }
    }
}
