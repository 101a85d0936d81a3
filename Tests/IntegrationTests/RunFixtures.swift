import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport

/// Rows the cohort engine would write (a load, a cohort definition, runs with
/// their practices and invitation lists), inserted directly so that feedback
/// and history imports can be tested on their own.
enum RunFixtures {
    static let cohort = "chronic-pain-out-of-work"

    /// Inserts one run covering `lists` (practice → patients on its list).
    ///
    /// - Returns: the run id.
    @discardableResult
    static func insertRun(_ db: Database, cohort: String = RunFixtures.cohort, status: String = "issued",
                          indexDate: String = "2026-01-31", startedAt: String = "2026-02-01 09:00:00+00",
                          lists: [String: [String]]) throws -> Int {
        let conn = db.connection
        let loadId = try conn.query("""
            INSERT INTO loads (status, os_user, tool_version, profile_name, profile_sha256, extract_date)
            VALUES ('loaded', 'test', 'test', 'canonical', repeat('a', 64), \(indexDate)::date) RETURNING load_id
            """)[0].int("load_id")!
        let sha = Hashing.sha256Hex("cohort \(cohort)")
        try conn.execute("""
            INSERT INTO cohort_definitions (cohort_sha256, name, version, definition)
            VALUES (\(sha), \(cohort), '1', 'name: x') ON CONFLICT DO NOTHING
            """)
        let runId = try conn.query("""
            INSERT INTO runs (cohort_name, cohort_version, cohort_sha256, index_date, status, history_as_of, os_user,
                              tool_version, started_at, issued_at)
            VALUES (\(cohort), '1', \(sha), \(indexDate)::date, \(status == "issued" ? "draft" : status), \(startedAt)::timestamptz,
                    'test', 'test', \(startedAt)::timestamptz, NULL)
            RETURNING run_id
            """)[0].int("run_id")!
        for (practice, patients) in lists {
            try conn.execute("""
                INSERT INTO run_practices (run_id, practice_id, load_id, extract_date) VALUES (\(runId), \(practice), \(loadId), \(indexDate)::date)
                """)
            for patient in patients {
                try conn.execute("INSERT INTO run_invitations (run_id, practice_id, patient_id) VALUES (\(runId), \(practice), \(patient))")
            }
        }
        // An issued run is frozen (sql/0011): fill it as a draft, then issue it.
        if status == "issued" {
            try conn.execute("UPDATE runs SET status = 'issued', issued_at = \(startedAt)::timestamptz WHERE run_id = \(runId)")
        }
        return runId
    }

    /// Writes `text` to a new file named `name` in a temporary folder.
    static func file(_ name: String, _ text: String) throws -> URL {
        let url = try TestDatabase.temporaryDirectory("contact").appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// A count from `sql` (a query returning one row with column n).
    static func count(_ db: Database, _ sql: SQL) throws -> Int {
        try db.connection.query(sql)[0].int("n") ?? -1
    }

    /// Rows in the tables an import writes, to check that a refusal wrote nothing.
    static func contactRows(_ db: Database) throws -> [Int] {
        try ["contact_imports", "contact_outcomes", "history_invitations"].map {
            try count(db, "SELECT count(*) AS n FROM \(identifier: $0)")
        }
    }

    /// The actions of the audit trail, in order.
    static func auditActions(_ db: Database) throws -> [String] {
        try db.connection.query("SELECT action FROM audit_log ORDER BY entry_id").map { $0.string("action") }
    }
}
