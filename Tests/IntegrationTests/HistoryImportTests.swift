import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// `recruit history import`: earlier invitations and screened-out patients, before the first run.
@Suite("History import", .enabled(if: TestDatabase.isAvailable))
struct HistoryImportTests {
    static let marker = "PSECRET"
    static let cohort = RunFixtures.cohort

    static func importer(_ db: Database) -> HistoryImporter {
        HistoryImporter(database: db, logger: TestDatabase.quietLogger)
    }

    @Test("invitations: patients need not be loaded; one patient with several index dates is history, not a duplicate")
    func invitations() throws {
        try TestDatabase.withSchema { db in
            let url = try RunFixtures.file("invited-2025.csv", """
                practice_id,patient_id,index_date
                A81001,PSECRET1,2025-03-31
                A81001,PSECRET1,2025-09-30
                A81001,PSECRET2,2025-03-31
                B82002,PSECRET1,2025-03-31

                """)
            let report = try Self.importer(db).importFile(url, kind: .invitations, cohort: Self.cohort)
            #expect(report.status == .imported)
            #expect(report.rows == 4)
            #expect(report.practices == 2)
            #expect(report.firstIndexDate == "2025-03-31")
            #expect(report.lastIndexDate == "2025-09-30")
            #expect(report.warnings.isEmpty)  // no cohort is known yet: no name check to fail
            let rows = try db.connection.query("""
                SELECT h.cohort_name, h.practice_id, h.patient_id, h.index_date::text AS d, h.source_line, i.kind,
                       h.recorded_at = i.imported_at AS stamped
                FROM history_invitations h JOIN contact_imports i USING (import_id) ORDER BY h.source_line
                """)
            #expect(rows.map { $0.int("source_line") } == [2, 3, 4, 5])
            #expect(rows.allSatisfy { $0.string("cohort_name") == Self.cohort && $0.string("kind") == "history_invitations" && $0.bool("stamped") == true })
            #expect(rows.map { $0.string("d") } == ["2025-03-31", "2025-09-30", "2025-03-31", "2025-03-31"])
            let entry = try db.connection.query("SELECT action, payload FROM audit_log ORDER BY entry_id DESC LIMIT 1")[0]
            #expect(entry.string("action") == "history.import")
            #expect(!entry.string("payload").contains(Self.marker))
        }
    }

    @Test("screened out: outcome defaults to screened_out, date is optional; recorded without a run")
    func screenedOut() throws {
        try TestDatabase.withSchema { db in
            let url = try RunFixtures.file("no-contact.csv", """
                practice_id,patient_id,outcome,date
                A81001,PSECRET1,,
                A81001,PSECRET2,declined,2024-05-01
                A81001,PSECRET3,opted_out,
                A81001,PSECRET1,declined,

                """)
            let report = try Self.importer(db).importFile(url, kind: .screenedOut, cohort: Self.cohort)
            #expect(report.outcomes == ["screened_out": 1, "declined": 2, "opted_out": 1])
            let rows = try db.connection.query("""
                SELECT outcome, outcome_date::text AS d, run_id, reason FROM contact_outcomes ORDER BY source_line
                """)
            #expect(rows.map { $0.string("outcome") } == ["screened_out", "declined", "opted_out", "declined"])
            #expect(rows.map { $0["d"] } == [nil, "2024-05-01", nil, nil])
            #expect(rows.allSatisfy { $0["run_id"] == nil && $0["reason"] == nil })

            // Only the two columns are required.
            let minimal = try RunFixtures.file("minimal.csv", "practice_id,patient_id\nA81001,PSECRET7\n")
            #expect(try Self.importer(db).importFile(minimal, kind: .screenedOut, cohort: Self.cohort).outcomes == ["screened_out": 1])
        }
    }

    @Test("a file already imported is a no-op that says so; for another cohort it is imported")
    func sameFile() throws {
        try TestDatabase.withSchema { db in
            let url = try RunFixtures.file("invited.csv", "practice_id,patient_id,index_date\nA81001,PSECRET1,2025-03-31\n")
            let first = try Self.importer(db).importFile(url, kind: .invitations, cohort: Self.cohort)
            let actions = try RunFixtures.auditActions(db)
            let again = try Self.importer(db).importFile(url, kind: .invitations, cohort: Self.cohort)
            #expect(again.status == .alreadyImported)
            #expect(again.previous?.importId == first.importId)
            #expect(again.summaryLines.joined().contains("already imported (import #\(first.importId!)"))
            #expect(try RunFixtures.auditActions(db) == actions)
            #expect(try RunFixtures.count(db, "SELECT count(*) AS n FROM history_invitations") == 1)
            let other = try Self.importer(db).importFile(url, kind: .invitations, cohort: "another-study")
            #expect(other.status == .imported)
            #expect(other.warnings.contains { $0.contains("no run or import of cohort another-study") })
        }
    }

    struct BadFile: Sendable, CustomStringConvertible {
        var name: String
        var kind: HistoryImporter.Kind
        var text: String
        var line: Int?
        var message: String
        var description: String { name }
    }

    static let badFiles: [BadFile] = [
        BadFile(name: "identical invitation twice", kind: .invitations,
                text: "practice_id,patient_id,index_date\nA81001,PSECRET1,2025-03-31\nA81001,PSECRET2,2025-03-31\nA81001,PSECRET1,2025-03-31\n",
                line: 4, message: "the same row as line 2"),
        BadFile(name: "identical screened-out row twice", kind: .screenedOut,
                text: "practice_id,patient_id,outcome\nA81001,PSECRET1,declined\nA81001,PSECRET1,declined\n",
                line: 3, message: "the same row as line 2"),
        BadFile(name: "default outcome equals explicit screened_out", kind: .screenedOut,
                text: "practice_id,patient_id,outcome\nA81001,PSECRET1,\nA81001,PSECRET1,screened_out\n",
                line: 3, message: "the same row as line 2"),
        BadFile(name: "bad practice id", kind: .invitations,
                text: "practice_id,patient_id,index_date\nA81001XXXXXXXXXXXXXXX,PSECRET1,2025-03-31\n", line: 2, message: "not a practice code"),
        BadFile(name: "bad patient id", kind: .invitations,
                text: "practice_id,patient_id,index_date\nA81001,PSECRET1/x,2025-03-31\n", line: 2, message: "not a pseudonymised patient id"),
        BadFile(name: "empty patient id", kind: .screenedOut,
                text: "practice_id,patient_id\nA81001,\n", line: 2, message: "not a pseudonymised patient id"),
        BadFile(name: "bad index date", kind: .invitations,
                text: "practice_id,patient_id,index_date\nA81001,PSECRET1,2025-3-31\n", line: 2, message: "not a date (YYYY-MM-DD)"),
        BadFile(name: "missing index date", kind: .invitations,
                text: "practice_id,patient_id,index_date\nA81001,PSECRET1,\n", line: 2, message: "not a date"),
        BadFile(name: "index date in the future", kind: .invitations,
                text: "practice_id,patient_id,index_date\nA81001,PSECRET1,2999-12-31\n", line: 2, message: "the date is in the future"),
        BadFile(name: "bad outcome date", kind: .screenedOut,
                text: "practice_id,patient_id,outcome,date\nA81001,PSECRET1,declined,31/12/2024\n", line: 2, message: "not a date"),
        BadFile(name: "outcome not allowed in history", kind: .screenedOut,
                text: "practice_id,patient_id,outcome\nA81001,PSECRET1,invited\n", line: 2,
                message: "not one of screened_out, declined, opted_out"),
        BadFile(name: "missing column", kind: .invitations,
                text: "practice_id,patient_id\nA81001,PSECRET1\n", line: 1, message: "the header lacks this column"),
        BadFile(name: "direct identifier column", kind: .screenedOut,
                text: "practice_id,patient_id,date_of_birth\nA81001,PSECRET1,1970-01-01\n", line: 1, message: "names a direct identifier"),
        BadFile(name: "wrong number of fields", kind: .invitations,
                text: "practice_id,patient_id,index_date\nA81001,PSECRET1,2025-03-31,extra\n", line: 2, message: "expected 3 fields"),
        BadFile(name: "header only", kind: .invitations, text: "practice_id,patient_id,index_date\n", line: nil, message: "no data rows"),
    ]

    @Test("bad rows refuse the whole file with their lines; nothing recorded but the refusal", arguments: badFiles)
    func rejected(_ bad: BadFile) throws {
        try TestDatabase.withSchema { db in
            // A good row after the header would shift lines: the bad files carry their own good rows where relevant.
            let url = try RunFixtures.file("history.csv", bad.text)
            let refusal = #expect(throws: ImportRefused.self) {
                try Self.importer(db).importFile(url, kind: bad.kind, cohort: Self.cohort)
            }
            guard let refusal else { return }
            #expect(refusal.problems.contains { $0.line == bad.line && $0.message.contains(bad.message) },
                    "expected line \(bad.line.map(String.init) ?? "none"): \(bad.message); got \(refusal.problems)")
            #expect(!refusal.description.contains(Self.marker))
            #expect(try RunFixtures.contactRows(db) == [0, 0, 0])
            #expect(try RunFixtures.auditActions(db) == ["history.import.refused"])
        }
    }

    @Test("rows already recorded by an earlier file are refused with their lines")
    func alreadyRecorded() throws {
        try TestDatabase.withSchema { db in
            _ = try Self.importer(db).importFile(RunFixtures.file("a.csv", "practice_id,patient_id,index_date\nA81001,PSECRET1,2025-03-31\n"),
                                                 kind: .invitations, cohort: Self.cohort)
            let overlapping = try RunFixtures.file("b.csv", "practice_id,patient_id,index_date\nA81001,PSECRET2,2025-03-31\nA81001,PSECRET1,2025-03-31\n")
            let refusal = #expect(throws: ImportRefused.self) {
                try Self.importer(db).importFile(overlapping, kind: .invitations, cohort: Self.cohort)
            }
            #expect(refusal?.problems.map(\.line) == [3])
            #expect(refusal?.problems.first?.message.contains("already recorded for cohort \(Self.cohort) (import #1)") == true)

            _ = try Self.importer(db).importFile(RunFixtures.file("c.csv", "practice_id,patient_id,outcome\nA81001,PSECRET1,declined\n"),
                                                 kind: .screenedOut, cohort: Self.cohort)
            let again = try RunFixtures.file("d.csv", "practice_id,patient_id,outcome,date\nA81001,PSECRET1,declined,\n")
            let second = #expect(throws: ImportRefused.self) { try Self.importer(db).importFile(again, kind: .screenedOut, cohort: Self.cohort) }
            #expect(second?.problems.map(\.line) == [2])
            // The same person with a dated outcome is another fact.
            let dated = try RunFixtures.file("e.csv", "practice_id,patient_id,outcome,date\nA81001,PSECRET1,declined,2025-01-01\n")
            #expect(try Self.importer(db).importFile(dated, kind: .screenedOut, cohort: Self.cohort).status == .imported)
        }
    }

    @Test("a bad cohort name is refused")
    func badCohort() throws {
        try TestDatabase.withSchema { db in
            let url = try RunFixtures.file("a.csv", "practice_id,patient_id,index_date\nA81001,PSECRET1,2025-03-31\n")
            let error = #expect(throws: RecruitError.self) { try Self.importer(db).importFile(url, kind: .invitations, cohort: "bad name;") }
            #expect(error?.kind == .refused)
            #expect(try RunFixtures.contactRows(db) == [0, 0, 0])
        }
    }

    @Test("a handover's two files in one call: both recorded in one transaction, or neither when one is refused")
    func bothFiles() throws {
        try TestDatabase.withSchema { db in
            let invited = try RunFixtures.file("invited.csv", "practice_id,patient_id,index_date\nA81001,PSECRET1,2025-03-31\n")
            let badScreened = try RunFixtures.file("screened.csv", "practice_id,patient_id,outcome\nA81001,PSECRET2,declined\nA81001,PSECRET3,maybe\n")
            let refusal = #expect(throws: ImportRefused.self) {
                try Self.importer(db).importFiles([(invited, .invitations), (badScreened, .screenedOut)], cohort: Self.cohort)
            }
            #expect(refusal?.file == "screened.csv")
            #expect(refusal?.problems.map(\.line) == [3])
            #expect(try RunFixtures.contactRows(db) == [0, 0, 0])  // the good invitations file is not half kept
            #expect(try RunFixtures.auditActions(db) == ["history.import.refused"])
            let refusedPayload = try JSONValue.decode(try db.connection.query("SELECT payload FROM audit_log")[0].string("payload"))
            #expect(refusedPayload["kind"] == "history_screened_out")
            #expect(refusedPayload["with_files"] == .array(["invited.csv"]))

            let screened = try RunFixtures.file("screened-fixed.csv", "practice_id,patient_id,outcome\nA81001,PSECRET2,declined\n")
            let reports = try Self.importer(db).importFiles([(invited, .invitations), (screened, .screenedOut)], cohort: Self.cohort)
            #expect(reports.map(\.status) == [.imported, .imported])
            #expect(reports.map(\.kind) == ["history_invitations", "history_screened_out"])
            #expect(try RunFixtures.contactRows(db) == [2, 1, 1])
            let stamps = try db.connection.query("SELECT count(DISTINCT imported_at) AS n FROM contact_imports")[0].int("n")
            #expect(stamps == 2)
            // The same pair again is a no-op for both; one new file beside an old one goes in alone.
            let again = try Self.importer(db).importFiles([(invited, .invitations), (screened, .screenedOut)], cohort: Self.cohort)
            #expect(again.map(\.status) == [.alreadyImported, .alreadyImported])
            let more = try RunFixtures.file("more.csv", "practice_id,patient_id\nA81001,PSECRET4\n")
            let mixed = try Self.importer(db).importFiles([(invited, .invitations), (more, .screenedOut)], cohort: Self.cohort)
            #expect(mixed.map(\.status) == [.alreadyImported, .imported])
            #expect(try RunFixtures.contactRows(db) == [3, 2, 1])
        }
    }

    @Test("the command line: one or both file options; --json; refusal exits 1 without patient ids")
    func commandLine() throws {
        try TestDatabase.withSchema { db in
            let url = try RunFixtures.file("a.csv", "practice_id,patient_id,index_date\nA81001,PSECRET1,2025-03-31\n")
            let neither = try RecruitCLI.run(["history", "import", "--cohort", Self.cohort], schema: db.schema)
            #expect(neither.status == 2)
            #expect(neither.stderr.contains("give --invitations FILE, --screened-out FILE, or both"))
            let screened = try RunFixtures.file("s.csv", "practice_id,patient_id\nA81001,PSECRET1\n")
            let both = try RecruitCLI.run(["history", "import", "--cohort", Self.cohort, "--invitations", url.path,
                                           "--screened-out", screened.path, "--json"], schema: db.schema)
            #expect(both.status == 0)
            guard case .array(let pair) = try JSONValue.decode(both.stdout), pair.count == 2 else {
                Issue.record("not an array of two reports: \(both.stdout)"); return
            }
            #expect(pair[0]["kind"] == "history_invitations" && pair[1]["kind"] == "history_screened_out")
            #expect(pair[0]["status"] == "imported" && pair[1]["status"] == "imported")

            let later = try RunFixtures.file("later.csv", "practice_id,patient_id,index_date\nA81001,PSECRET1,2025-09-30\n")
            let ok = try RecruitCLI.run(["history", "import", "--cohort", Self.cohort, "--invitations", later.path, "--json"], schema: db.schema)
            #expect(ok.status == 0)
            let report = try JSONValue.decode(ok.stdout)
            #expect(report["status"] == "imported")
            #expect(report["rows"] == 1)
            #expect(report["kind"] == "history_invitations")

            let bad = try RunFixtures.file("b.csv", "practice_id,patient_id\nA81001,PSECRET1\nA81001,PSECRET1\n")
            let refused = try RecruitCLI.run(["history", "import", "--cohort", Self.cohort, "--screened-out", bad.path, "-v"], schema: db.schema)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("b.csv line 3: the same row as line 2"))
            #expect(!(ok.allOutput + refused.allOutput).contains(Self.marker))
        }
    }
}
