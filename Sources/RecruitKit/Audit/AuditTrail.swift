import Foundation
import Logging
import Postgres

/// Reading the audit trail of a database: verify the chain, list entries, export it.
public struct AuditTrail {
    /// Rows read per round trip when streaming the chain.
    static let batchSize = 5000

    let database: Database
    let logger: Logger

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Which entries `show` lists.
    public struct Filter: Sendable {
        /// Entries whose subjects name this run (`run_id`, `supersedes_run_id`, … or a `run_ids` list).
        public var runId: Int?
        /// Entries recorded on or after this day (UTC).
        public var since: LocalDate?
        /// An action, or an action family: `feedback` matches `feedback.import` and `feedback.import.refused`.
        public var action: String?
        /// Only the last N matching entries.
        public var limit: Int?

        public init(runId: Int? = nil, since: LocalDate? = nil, action: String? = nil, limit: Int? = nil) {
            self.runId = runId
            self.since = since
            self.action = action
            self.limit = limit
        }
    }

    static let columns: SQL = """
        entry_id, prev_hash, entry_hash, entry_text,
        to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS recorded_at,
        recorded_at <> date_trunc('milliseconds', recorded_at) AS recorded_at_submillis,
        os_user, db_user, action, subjects::text AS subjects, payload::text AS payload
        """

    /// Calls `body` with every entry in id order, reading in batches inside
    /// one REPEATABLE READ transaction (a consistent chain while others append).
    func forEachEntry(_ body: (AuditEntry, QueryResult.Row) throws -> Void) throws {
        let conn = database.connection
        try conn.transaction(isolation: .repeatableRead, readOnly: true) {
            var after = Int.min
            while true {
                let rows = try conn.query("SELECT \(Self.columns) FROM audit_log WHERE entry_id > \(after) ORDER BY entry_id LIMIT \(Self.batchSize)")
                for row in rows {
                    let entry = AuditEntry(entryId: row.int("entry_id") ?? 0, prevHash: row.string("prev_hash"),
                                           entryHash: row.string("entry_hash"), entryText: row.string("entry_text"))
                    try body(entry, row)
                    after = entry.entryId
                }
                if rows.count < Self.batchSize { break }
            }
        }
    }

    /// Recomputes the whole chain of this database.
    ///
    /// - Parameter anchor: an earlier export the chain must still contain unchanged.
    /// - Returns: the verification; its first problem is the first broken or missing link.
    /// - Throws: ``RecruitError`` (refused) when the anchor cannot be read or does not verify.
    public func verify(anchor: URL? = nil) throws -> AuditVerification {
        var verifier = AuditVerifier(source: "schema \(database.schema)", anchor: try anchor.map(AuditExportFile.anchorHashes))
        try forEachEntry { entry, row in
            let columns = AuditEntryColumns(recordedAt: row.string("recorded_at"),
                                            recordedAtHasSubMilliseconds: row.bool("recorded_at_submillis") ?? false,
                                            osUser: row.string("os_user"), dbUser: row.string("db_user"),
                                            action: row.string("action"), subjects: row.string("subjects"),
                                            payload: row.string("payload"))
            verifier.check(entry, columns: columns)
        }
        let result = verifier.finish()
        logger.info("audit chain checked", metadata: [
            "entries": "\(result.entries)", "problems": "\(result.problemCount)",
            "first_problem_entry": "\(result.firstProblem?.entryId.map(String.init) ?? "none")",
        ])
        return result
    }

    /// The entries matching `filter`, in id order.
    public func entries(_ filter: Filter) throws -> [AuditRecord] {
        var conditions: [SQL] = ["true"]
        if let runId = filter.runId {
            conditions.append("""
                EXISTS (SELECT 1 FROM jsonb_each(subjects) s
                        WHERE (s.key = 'run_id' OR s.key LIKE '%\\_run\\_id') AND s.value #>> '{}' = \(String(runId))
                           OR (s.key = 'run_ids' OR s.key LIKE '%\\_run\\_ids') AND jsonb_typeof(s.value) = 'array'
                              AND s.value @> jsonb_build_array(\(runId)))
                """)
        }
        if let since = filter.since {
            conditions.append("recorded_at >= (\(since)::timestamp AT TIME ZONE 'UTC')")
        }
        if let action = filter.action {
            conditions.append("(action = \(action) OR left(action, length(\(action)) + 1) = \(action) || '.')")
        }
        let whereClause = SQL(joining: conditions, separator: " AND ")
        let query: SQL
        if let limit = filter.limit {
            query = """
                SELECT * FROM (SELECT \(Self.columns) FROM audit_log WHERE \(whereClause)
                               ORDER BY entry_id DESC LIMIT \(limit)) last ORDER BY entry_id
                """
        } else {
            query = "SELECT \(Self.columns) FROM audit_log WHERE \(whereClause) ORDER BY entry_id"
        }
        return try database.connection.query(query).map(AuditRecord.init(row:))
    }
}
