import Foundation
import Logging
import Postgres

/// What the contact-history importers share: the lock that orders them with
/// runs, and how they record what they imported.
public enum ContactHistory {
    /// The advisory lock name that serialises feedback and history imports
    /// with the moment a run fixes its `history_as_of`.
    public static func lockKey(_ database: Database) -> String { database.lockKey("contact-history") }

    /// Takes the contact-history lock until the end of the current transaction.
    ///
    /// Importers take it, then stamp their rows `recorded_at = clock_timestamp()`
    /// and commit while holding it. A run that takes it before setting
    /// `history_as_of = clock_timestamp()` therefore sees every import stamped
    /// before that instant and none after, so criteria 11 and 12 evaluate the
    /// same way when the run is reproduced.
    ///
    /// - Important: call inside a transaction (`Connection.transaction`).
    public static func lock(_ database: Database) throws {
        try database.connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(\(lockKey(database)), 0))")
    }

    /// The instant a new run's history is fixed at: taken under the
    /// contact-history lock, in its own short transaction, so every import
    /// stamped before it has committed (imports stamp and commit while holding
    /// the lock) and the run's snapshot, taken afterwards, sees all of them and
    /// a reproduction sees exactly the same. The cohort engines take it as
    /// their `historyAsOf`.
    public static func instant(_ database: Database) throws -> String {
        try database.connection.transaction {
            try lock(database)
            return try now(database)
        }
    }

    /// An earlier import of the same file (same kind, cohort when given, and SHA-256).
    static func previousImport(_ database: Database, kind: String, cohort: String?, sha256: String) throws -> ContactImportReport.Previous? {
        let rows = try database.connection.query("""
            SELECT import_id, cohort_name, rows, to_char(imported_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS imported_at
            FROM contact_imports
            WHERE kind = \(kind) AND file_sha256 = \(sha256) AND (\(cohort)::text IS NULL OR cohort_name = \(cohort))
            ORDER BY import_id LIMIT 1
            """)
        return rows.first.map {
            ContactImportReport.Previous(importId: $0.int("import_id") ?? 0, cohort: $0.string("cohort_name"),
                                         rows: $0.int("rows") ?? 0, importedAt: $0.string("imported_at"))
        }
    }

    /// The instant imported rows are stamped with (call after ``lock(_:)``), as text at full precision.
    static func now(_ database: Database) throws -> String {
        try database.connection.query("SELECT clock_timestamp()::text AS at")[0].string("at")
    }

    /// Records a refused import in the audit trail (its own transaction: the
    /// import itself was rolled back). Problems are summarised by line only.
    /// When it cannot be recorded, the refusal says so (``ImportRefused/auditFailure``).
    static func auditRefusal(_ database: Database, logger: Logger, action: String, refusal: inout ImportRefused,
                             sha256: String, extra: [String: JSONValue]) {
        var payload = extra
        payload["file"] = .string(refusal.file)
        payload["sha256"] = .string(sha256)
        payload["problems"] = .int(refusal.problemCount)
        payload["problem_lines"] = .array(refusal.problems.prefix(20).compactMap { $0.line.map(JSONValue.int) })
        do {
            try database.connection.transaction {
                try AuditLog.append(on: database.connection, action: action, payload: .object(payload))
            }
        } catch {
            logger.info("could not record the refused import in the audit trail", metadata: ["error": "\(error)"])
            refusal.auditFailure = "\(error)"
        }
    }

    /// A field for COPY text format (values are validated, so this is belt and braces).
    static func copyField(_ value: String?) -> String {
        guard let value else { return "\\N" }
        var out = ""
        for ch in value.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}
