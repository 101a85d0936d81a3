import Foundation
import InMemoryLogging
import Logging
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// `recruit feedback import`: every rule of the issue's feedback section, on a real database.
@Suite("Feedback import", .enabled(if: TestDatabase.isAvailable))
struct FeedbackImportTests {
    /// Patient ids carry a marker, so any leak into a message or a log line is found.
    static let marker = "PSECRET"
    static let header = "practice_id,patient_id,run_id,outcome,date,reason\n"
    static let channelHeader = "practice_id,patient_id,run_id,outcome,date,reason,channel\n"

    /// Two practices; run 1 issued (A81001: PSECRET1..4, B82002: PSECRET5), made on 2026-02-01.
    static func setUp(_ db: Database) throws -> Int {
        try RunFixtures.insertRun(db, lists: ["A81001": ["PSECRET1", "PSECRET2", "PSECRET3", "PSECRET4"], "B82002": ["PSECRET5"]])
    }

    static func importer(_ db: Database, logger: Logger = TestDatabase.quietLogger) -> FeedbackImporter {
        FeedbackImporter(database: db, logger: logger)
    }

    @Test("a good file is recorded with every outcome, the ineligible reasons, and one audit entry")
    func imports() throws {
        try TestDatabase.withSchema { db in
            let run = try Self.setUp(db)
            let url = try RunFixtures.file("feedback.csv", Self.header + """
                A81001,PSECRET1,\(run),invited,2026-02-10,
                A81001,PSECRET1,\(run),responded,2026-02-20,
                A81001,PSECRET1,\(run),ineligible,2026-02-21,off_sick_with_job
                A81001,PSECRET2,\(run),screened_out,2026-02-05,"Known to practice, see notes of Mrs Example"
                A81001,PSECRET3,\(run),invited,2026-02-10,
                A81001,PSECRET3,\(run),ineligible,2026-02-25,
                B82002,PSECRET5,\(run),not_invited,2026-02-11,

                """)
            let report = try Self.importer(db).importFile(url)
            #expect(report.status == .imported)
            #expect(report.rows == 7)
            #expect(report.cohort == RunFixtures.cohort)
            #expect(report.runIds == [run])
            #expect(report.practices == 2)
            #expect(report.outcomes == ["invited": 2, "responded": 1, "ineligible": 2, "screened_out": 1, "not_invited": 1])
            #expect(report.ineligibleReasons == ["off_sick_with_job": 1, "not_recorded": 1])
            #expect(report.screenedOutReasonsNotStored == 1)
            #expect(report.warnings.contains { $0.contains("without a reason") })

            let rows = try db.connection.query("""
                SELECT practice_id, patient_id, run_id, outcome, reason, outcome_date::text AS d, source_line, cohort_name,
                       recorded_at = (SELECT imported_at FROM contact_imports) AS stamped
                FROM contact_outcomes ORDER BY source_line
                """)
            #expect(rows.count == 7)
            #expect(rows.map { $0.int("source_line") } == [2, 3, 4, 5, 6, 7, 8])
            #expect(rows[2].string("reason") == "off_sick_with_job")
            #expect(rows[3].string("outcome") == "screened_out")
            #expect(rows[3]["reason"] == nil)  // free text stays at the practice
            #expect(rows.allSatisfy { $0.bool("stamped") == true && $0.string("cohort_name") == RunFixtures.cohort })
            #expect(rows[0].string("d") == "2026-02-10")

            // The free text is stored nowhere, not even in the audit trail.
            let anywhere = try RunFixtures.count(db, """
                SELECT (SELECT count(*) FROM contact_outcomes WHERE reason LIKE '%Example%')
                     + (SELECT count(*) FROM audit_log WHERE entry_text LIKE '%Example%') AS n
                """)
            #expect(anywhere == 0)

            let entry = try db.connection.query("SELECT action, subjects::text AS s, payload FROM audit_log ORDER BY entry_id DESC LIMIT 1")[0]
            #expect(entry.string("action") == "feedback.import")
            #expect(entry.string("s") == "{\"run_ids\": [\(run)], \"import_id\": \(report.importId!)}")
            #expect(!entry.string("payload").contains(Self.marker))
            #expect(report.auditEntryId != nil)
        }
    }

    @Test("referrals: a listed person, someone on another list of the practice, and people not in the extract (no id) are recorded by channel")
    func referrals() throws {
        try TestDatabase.withSchema { db in
            let run = try Self.setUp(db)
            _ = try RunFixtures.insertRun(db, lists: ["B82002": ["PSECRET7"]])  // so PSECRET7 is known to B82002
            let url = try RunFixtures.file("feedback.csv", Self.channelHeader + """
                A81001,PSECRET1,\(run),invited,2026-02-10,,
                A81001,PSECRET2,\(run),screened_out,2026-02-05,,
                A81001,PSECRET2,\(run),responded,2026-02-20,,self_referral
                A81001,PSECRET2,\(run),consented,2026-02-21,,self_referral
                A81001,,\(run),consented,2026-02-21,,self_referral
                A81001,,\(run),consented,2026-02-21,,self_referral
                B82002,PSECRET7,\(run),ineligible,2026-02-22,in_work,gp_referral
                B82002,,\(run),declined,2026-02-22,,other

                """)
            let report = try Self.importer(db).importFile(url)
            #expect(report.rows == 8)
            #expect(report.referrals == ["self_referral": 4, "gp_referral": 1, "other": 1])
            #expect(report.summaryLines.contains("Referrals (rows by channel): gp_referral 1, other 1, self_referral 4"))
            let rows = try db.connection.query("SELECT patient_id, channel, outcome FROM contact_outcomes ORDER BY source_line")
            #expect(rows.map { $0.string("channel") } == ["letter", "letter", "self_referral", "self_referral", "self_referral", "self_referral", "gp_referral", "other"])
            #expect(rows.filter { $0["patient_id"] == nil }.count == 3)
            // The referral view: one person per id, one per row without.
            let people = try db.connection.query("""
                SELECT practice_id, coalesce(patient_id, '-') AS p, channel, listed, in_extract, stage FROM report_referrals
                ORDER BY practice_id, patient_id NULLS LAST, channel
                """).map { "\($0.string("practice_id")) \($0.string("p")) \($0.string("channel")) \($0.bool("listed")!) \($0.bool("in_extract")!) \($0.string("stage"))" }
            #expect(people == ["A81001 PSECRET2 self_referral true true consented", "A81001 - self_referral false false consented",
                               "A81001 - self_referral false false consented", "B82002 PSECRET7 gp_referral false true ineligible",
                               "B82002 - other false false declined"])
            // The letter's flow does not count the referral: PSECRET2 stays screened out.
            let letter = try db.connection.query("SELECT screened_out, responded, consented FROM report_invitee_outcomes WHERE patient_id = 'PSECRET2'")[0]
            #expect(letter.bool("screened_out") == true && letter.bool("responded") == false && letter.bool("consented") == false)
            // A letter's row without an id is refused by the database too.
            #expect(throws: (any Error).self) {
                try db.connection.execute("""
                    INSERT INTO contact_outcomes (import_id, cohort_name, practice_id, patient_id, run_id, outcome)
                    SELECT import_id, cohort_name, 'A81001', NULL, \(run), 'invited' FROM contact_imports LIMIT 1
                    """)
            }
        }
    }

    @Test("the same file twice is a no-op that says so")
    func sameFileTwice() throws {
        try TestDatabase.withSchema { db in
            let run = try Self.setUp(db)
            let url = try RunFixtures.file("feedback.csv", Self.header + "A81001,PSECRET1,\(run),invited,2026-02-10,\n")
            let first = try Self.importer(db).importFile(url)
            let before = try RunFixtures.contactRows(db)
            let actions = try RunFixtures.auditActions(db)
            let second = try Self.importer(db).importFile(url)
            #expect(second.status == .alreadyImported)
            #expect(second.previous?.importId == first.importId)
            #expect(second.summaryLines.joined().contains("already imported"))
            #expect(try RunFixtures.contactRows(db) == before)
            #expect(try RunFixtures.auditActions(db) == actions)
        }
    }

    /// One bad file per rule: the line and the message expected.
    struct BadFile: Sendable, CustomStringConvertible {
        var name: String
        /// Rows after the header; `RUN`, `DRAFT`, `DRY`, `OTHER` stand for run ids
        /// (and `{2}` in the message for line 2 of `rows`).
        var rows: String
        var header: String = FeedbackImportTests.header
        var line: Int?
        var message: String
        var description: String { name }
    }

    static let badFiles: [BadFile] = [
        BadFile(name: "unknown run", rows: "A81001,PSECRET1,999999,invited,2026-02-10,\n", line: 2, message: "unknown run 999999"),
        BadFile(name: "draft run", rows: "A81001,PSECRET1,DRAFT,invited,2026-02-10,\n", line: 2, message: "is a draft, not issued"),
        BadFile(name: "dry run", rows: "A81001,PSECRET1,DRY,invited,2026-02-10,\n", line: 2, message: "was a dry run"),
        BadFile(name: "patient not on the run's list", rows: "A81001,PSECRET9,RUN,invited,2026-02-10,\n", line: 2,
                message: "the patient is not on run RUN's list for this practice"),
        BadFile(name: "patient on the list of another practice", rows: "B82002,PSECRET1,RUN,invited,2026-02-10,\n", line: 2,
                message: "the patient is not on run RUN's list"),
        BadFile(name: "practice the run did not cover", rows: "C83003,PSECRET1,RUN,invited,2026-02-10,\n", line: 2,
                message: "the practice is not one that run RUN covered"),
        BadFile(name: "bad outcome", rows: "A81001,PSECRET1,RUN,Invited,2026-02-10,\n", line: 2, message: "not one of screened_out, invited"),
        BadFile(name: "bad ineligible reason", rows: "A81001,PSECRET1,RUN,ineligible,2026-02-10,unemployed\n", line: 2,
                message: "not a reason for ineligible (in_work, off_sick_with_job, not_chronic_pain, other)"),
        BadFile(name: "reason on another outcome", rows: "A81001,PSECRET1,RUN,declined,2026-02-10,in_work\n", line: 2,
                message: "a reason is recorded only for ineligible"),
        BadFile(name: "impossible date", rows: "A81001,PSECRET1,RUN,invited,2026-02-30,\n", line: 2, message: "not a date (YYYY-MM-DD)"),
        BadFile(name: "date in another format", rows: "A81001,PSECRET1,RUN,invited,10/02/2026,\n", line: 2, message: "not a date"),
        BadFile(name: "date before the run", rows: "A81001,PSECRET1,RUN,invited,2026-01-31,\n", line: 2,
                message: "the date is before run RUN was made (2026-02-01)"),
        BadFile(name: "date in the future", rows: "A81001,PSECRET1,RUN,invited,2999-01-01,\n", line: 2, message: "the date is in the future"),
        BadFile(name: "duplicate outcome in the file",
                rows: "A81001,PSECRET1,RUN,invited,2026-02-10,\nA81001,PSECRET2,RUN,invited,2026-02-10,\nA81001,PSECRET1,RUN,invited,2026-02-12,\n",
                line: 4, message: "duplicate of line {2}"),
        BadFile(name: "contradictory review outcomes",
                rows: "A81001,PSECRET1,RUN,screened_out,2026-02-05,\nA81001,PSECRET1,RUN,invited,2026-02-10,\n",
                line: 3, message: "contradicts line {2}"),
        BadFile(name: "bad practice id", rows: "A81-001,PSECRET1,RUN,invited,2026-02-10,\n", line: 2, message: "not a practice code"),
        BadFile(name: "bad patient id", rows: "A81001,PSECRET 1,RUN,invited,2026-02-10,\n", line: 2, message: "not a pseudonymised patient id"),
        BadFile(name: "bad run id", rows: "A81001,PSECRET1,run-1,invited,2026-02-10,\n", line: 2, message: "not a run id"),
        BadFile(name: "wrong number of fields", rows: "A81001,PSECRET1,RUN,invited\n", line: 2, message: "expected 6 fields as in the header, found 4"),
        BadFile(name: "malformed CSV", rows: "A81001,\"PSECRET1,RUN,invited,2026-02-10,\n", line: 2, message: "malformed CSV"),
        BadFile(name: "missing column", rows: "A81001,PSECRET1,RUN,invited\n", header: "practice_id,patient_id,run_id,outcome\n",
                line: 1, message: "the header lacks this column"),
        BadFile(name: "direct identifier column", rows: "A81001,PSECRET1,RUN,invited,2026-02-10,9434765919\n",
                header: "practice_id,patient_id,run_id,outcome,date,NHS Number\n", line: 1, message: "names a direct identifier"),
        BadFile(name: "header only", rows: "", line: nil, message: "the file has no data rows"),
        BadFile(name: "empty file", rows: "", header: "", line: nil, message: "the file is empty"),
        BadFile(name: "unknown channel", rows: "A81001,PSECRET4,RUN,invited,2026-02-10,,letter\nA81001,PSECRET1,RUN,responded,2026-02-10,,post\n",
                header: channelHeader, line: 3, message: "not one of letter, self_referral, gp_referral, other"),
        BadFile(name: "a referral with a review outcome", rows: "A81001,,RUN,screened_out,2026-02-10,,self_referral\n",
                header: channelHeader, line: 2, message: "a self_referral has no GP review or letter: its outcome is one of declined, opted_out, responded"),
        BadFile(name: "a referral's id not in the practice's extract", rows: "A81001,PSECRET9,RUN,responded,2026-02-10,,gp_referral\n",
                header: channelHeader, line: 2, message: "the patient is not in this practice's extract: a referral of someone not in the extract is recorded with patient_id empty"),
        BadFile(name: "a referral at a practice the run did not cover", rows: "C83003,,RUN,consented,2026-02-10,,self_referral\n",
                header: channelHeader, line: 2, message: "the practice is not one that run RUN covered"),
        BadFile(name: "a letter's row without a patient id", rows: "A81001,,RUN,invited,2026-02-10,,\n",
                header: channelHeader, line: 2, message: "not a pseudonymised patient id"),
        BadFile(name: "a letter's reply from someone screened out",
                rows: "A81001,PSECRET1,RUN,screened_out,2026-02-05,,\nA81001,PSECRET1,RUN,declined,2026-02-10,,\n",
                header: channelHeader, line: 3, message: "the patient is recorded as screened_out (line {2}), so no letter went"),
        BadFile(name: "one person's replies through two channels",
                rows: "A81001,PSECRET2,RUN,responded,2026-02-10,,letter\nA81001,PSECRET2,RUN,consented,2026-02-11,,self_referral\n",
                header: channelHeader, line: 3, message: "the patient's responses to this run came through letter (line {2}): one person comes by one channel per run"),
        BadFile(name: "runs of two cohorts", rows: "A81001,PSECRET1,RUN,invited,2026-02-10,\nA81001,PSECRET1,OTHER,invited,2026-02-10,\n",
                line: nil, message: "the file's runs belong to 2 cohorts"),
    ]

    @Test("every rejection rule refuses the whole file, with the line, and records nothing", arguments: badFiles)
    func rejected(_ bad: BadFile) throws {
        try TestDatabase.withSchema { db in
            let run = try Self.setUp(db)
            let draft = try RunFixtures.insertRun(db, status: "draft", lists: ["A81001": ["PSECRET1"]])
            let dry = try RunFixtures.insertRun(db, status: "dry_run", lists: ["A81001": ["PSECRET1"]])
            let other = try RunFixtures.insertRun(db, cohort: "another-study", lists: ["A81001": ["PSECRET1"]])
            func subst(_ s: String) -> String {
                s.replacingOccurrences(of: "DRAFT", with: String(draft)).replacingOccurrences(of: "DRY", with: String(dry))
                    .replacingOccurrences(of: "OTHER", with: String(other)).replacingOccurrences(of: "RUN", with: String(run))
            }
            // A good row first: it must not be recorded either (all-or-nothing).
            let good = bad.header == Self.header && bad.name != "header only" && bad.name != "runs of two cohorts"
                ? "A81001,PSECRET4,\(run),invited,2026-02-10,\n" : ""
            let shift = good.isEmpty ? 0 : 1
            let url = try RunFixtures.file("bad.csv", bad.header + good + subst(bad.rows))
            let actions = try RunFixtures.auditActions(db)
            let (logger, logs) = Self.capturingLogger()
            let refusal = #expect(throws: ImportRefused.self) { try Self.importer(db, logger: logger).importFile(url) }
            guard let refusal else { return }
            let expectedLine = bad.line.map { $0 == 1 ? 1 : $0 + shift }
            let message = subst(bad.message).replacingOccurrences(of: "{2}", with: String(2 + shift))
            #expect(refusal.problems.contains { $0.line == expectedLine && $0.message.contains(message) },
                    "expected line \(expectedLine.map(String.init) ?? "none"): \(message); got \(refusal.problems)")
            #expect(!refusal.description.contains(Self.marker))
            #expect(!logs.entries.contains { "\($0.message) \($0.metadata)".contains(Self.marker) })
            // Nothing recorded, but the refusal is in the audit trail (without the values).
            #expect(try RunFixtures.contactRows(db) == [0, 0, 0])
            #expect(try RunFixtures.auditActions(db) == actions + ["feedback.import.refused"])
            #expect(try RunFixtures.count(db, "SELECT count(*) AS n FROM audit_log WHERE entry_text LIKE '%PSECRET%'") == 0)
        }
    }

    @Test("every problem of a file is reported at once, in line order")
    func allProblems() throws {
        try TestDatabase.withSchema { db in
            let run = try Self.setUp(db)
            let url = try RunFixtures.file("bad.csv", Self.header + """
                A81001,PSECRET1,\(run),invited,2026-02-10,
                A81001,PSECRET9,\(run),invited,2026-02-10,
                A81001,PSECRET2,\(run),nonsense,2026-02-10,
                A81001,PSECRET3,424242,invited,2026-02-10,
                A81001,PSECRET4,\(run),invited,2026-13-01,

                """)
            let refusal = #expect(throws: ImportRefused.self) { try Self.importer(db).importFile(url) }
            #expect(refusal?.problems.map(\.line) == [3, 4, 5, 6])
            #expect(refusal?.problemCount == 4)
            #expect(refusal?.description.contains("bad.csv line 3") == true)
        }
    }

    @Test("an outcome already recorded by an earlier file is a duplicate; a contradicting one is refused")
    func acrossFiles() throws {
        try TestDatabase.withSchema { db in
            let run = try Self.setUp(db)
            _ = try Self.importer(db).importFile(RunFixtures.file("first.csv", Self.header + "A81001,PSECRET1,\(run),invited,2026-02-10,\n"))
            let again = try RunFixtures.file("second.csv", Self.header + "A81001,PSECRET1,\(run),invited,2026-02-11,\n")
            let duplicate = #expect(throws: ImportRefused.self) { try Self.importer(db).importFile(again) }
            #expect(duplicate?.problems.first?.message.contains("already recorded for this patient and run (import #1)") == true)
            let contra = try RunFixtures.file("third.csv", Self.header + "A81001,PSECRET1,\(run),screened_out,2026-02-11,\n")
            let conflict = #expect(throws: ImportRefused.self) { try Self.importer(db).importFile(contra) }
            #expect(conflict?.problems.first?.message.contains("contradicts the outcome recorded for this patient and run by import #1") == true)
            // Later outcomes for the same patient and run are fine.
            let later = try Self.importer(db).importFile(RunFixtures.file("fourth.csv", Self.header + "A81001,PSECRET1,\(run),declined,2026-02-20,\n"))
            #expect(later.status == .imported)
            #expect(try RunFixtures.count(db, "SELECT count(*) AS n FROM contact_outcomes") == 2)
        }
    }

    @Test("columns in any order and case, without reason; unknown columns are ignored and not stored")
    func headerVariants() throws {
        try TestDatabase.withSchema { db in
            let run = try Self.setUp(db)
            let url = try RunFixtures.file("f.csv", "\u{FEFF}Outcome,Date,Run_ID,Patient_ID,Practice_ID,Notes\r\ninvited,2026-02-10,\(run),PSECRET1,A81001,phoned twice\r\n")
            let report = try Self.importer(db).importFile(url)
            #expect(report.rows == 1)
            #expect(report.warnings.contains { $0.contains("ignored, not stored: notes") })
            #expect(try RunFixtures.count(db, "SELECT count(*) AS n FROM audit_log WHERE entry_text LIKE '%phoned%'") == 0)
        }
    }

    @Test("the database refuses a second identical feedback outcome even without the importer")
    func uniqueIndex() throws {
        try TestDatabase.withSchema { db in
            let run = try Self.setUp(db)
            _ = try Self.importer(db).importFile(RunFixtures.file("f.csv", Self.header + "A81001,PSECRET1,\(run),invited,2026-02-10,\n"))
            let error = #expect(throws: PostgresError.self) {
                try db.connection.execute("""
                    INSERT INTO contact_outcomes (import_id, cohort_name, practice_id, patient_id, run_id, outcome)
                    SELECT import_id, cohort_name, practice_id, patient_id, run_id, outcome FROM contact_outcomes
                    """)
            }
            #expect(error?.sqlState == "23505")
        }
    }

    @Test("the command line: refusal exits 1 with lines and no patient id; --json; success and no-op exit 0")
    func commandLine() throws {
        try TestDatabase.withSchema { db in
            let run = try Self.setUp(db)
            let bad = try RunFixtures.file("bad.csv", Self.header + "A81001,PSECRET9,\(run),invited,2026-02-10,\nA81001,PSECRET1,\(run),opted-out,2026-02-10,\n")
            let refused = try RecruitCLI.run(["feedback", "import", bad.path, "--verbose"], schema: db.schema)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("bad.csv line 2, patient_id: the patient is not on run \(run)'s list for this practice"))
            #expect(refused.stderr.contains("bad.csv line 3, outcome: not one of"))
            #expect(!refused.allOutput.contains(Self.marker))

            let refusedJSON = try RecruitCLI.run(["feedback", "import", bad.path, "--json"], schema: db.schema)
            #expect(refusedJSON.status == 1)
            let object = try JSONValue.decode(refusedJSON.stdout)
            #expect(object["status"] == "refused")
            #expect(object["problem_count"] == 2)
            #expect(!refusedJSON.allOutput.contains(Self.marker))

            let good = try RunFixtures.file("good.csv", Self.header + "A81001,PSECRET1,\(run),invited,2026-02-10,\n")
            let ok = try RecruitCLI.run(["feedback", "import", good.path, "--json"], schema: db.schema)
            #expect(ok.status == 0)
            #expect(try JSONValue.decode(ok.stdout)["status"] == "imported")
            let again = try RecruitCLI.run(["feedback", "import", good.path], schema: db.schema)
            #expect(again.status == 0)
            #expect(again.stdout.contains("already imported"))
            #expect(!(ok.allOutput + again.allOutput).contains(Self.marker))
        }
    }

    /// A logger whose lines (messages and metadata) the test can read.
    static func capturingLogger() -> (Logger, InMemoryLogHandler) {
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "test", factory: { _ in handler })
        logger.logLevel = .trace
        return (logger, handler)
    }
}
