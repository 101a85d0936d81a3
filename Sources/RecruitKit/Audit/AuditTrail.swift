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
        os_user, db_user, action, subjects::text AS subjects, payload::text AS payload
        """

    /// Each entry's own findings, computed by the server: whether its hash is
    /// right, whether entry_text is its facts, and which columns disagree with
    /// entry_text (compared as jsonb, so key order and spacing do not matter).
    /// The batch is chosen in the inner query, whose LIMIT keeps it from being
    /// flattened: entry_text is parsed once per row, not once per reference.
    static func findings(after: Int, limit: Int) -> SQL { """
        SELECT entry_id, prev_hash, entry_hash, entry_text,
          encode(sha256(convert_to(prev_hash || entry_text, 'UTF8')), 'hex') = entry_hash AS hash_ok,
          CASE WHEN f IS NULL OR jsonb_typeof(f) <> 'object' THEN 'not_object'
               WHEN f -> 'entry_id' IS DISTINCT FROM to_jsonb(entry_id) THEN 'other_id'
               WHEN NOT f ?& ARRAY['entry_id', 'recorded_at', 'os_user', 'db_user', 'action', 'subjects', 'payload']
                 OR (SELECT count(*) FROM jsonb_object_keys(f)) <> 7 THEN 'fields'
          END AS text_problem,
          CASE WHEN jsonb_typeof(f) = 'object' THEN concat_ws(',',
            CASE WHEN f ->> 'recorded_at' IS DISTINCT FROM to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                   OR recorded_at <> date_trunc('milliseconds', recorded_at) THEN 'recorded_at' END,
            CASE WHEN f -> 'os_user' IS DISTINCT FROM to_jsonb(os_user) THEN 'os_user' END,
            CASE WHEN f -> 'db_user' IS DISTINCT FROM to_jsonb(db_user) THEN 'db_user' END,
            CASE WHEN f -> 'action' IS DISTINCT FROM to_jsonb(action) THEN 'action' END,
            CASE WHEN f -> 'subjects' IS DISTINCT FROM subjects THEN 'subjects' END,
            CASE WHEN f -> 'payload' IS DISTINCT FROM payload THEN 'payload' END) ELSE '' END AS differing
        FROM (SELECT a.*, audit_entry_facts(a.entry_text) AS f FROM audit_log a
              WHERE entry_id > \(after) ORDER BY entry_id LIMIT \(limit)) e
        ORDER BY entry_id
        """
    }

    /// Calls `body` with every entry in id order and its findings, reading in
    /// batches inside one REPEATABLE READ transaction (a consistent chain while others append).
    func forEachEntry(_ body: (AuditEntry, AuditVerifier.Findings) throws -> Void) throws {
        let conn = database.connection
        try conn.transaction(isolation: .repeatableRead, readOnly: true) {
            var after = Int.min
            while true {
                let rows = try conn.query(Self.findings(after: after, limit: Self.batchSize))
                for row in rows {
                    let entry = AuditEntry(entryId: row.int("entry_id") ?? 0, prevHash: row.string("prev_hash"),
                                           entryHash: row.string("entry_hash"), entryText: row.string("entry_text"))
                    let textProblem: String?
                    switch row["text_problem"] {
                    case nil: textProblem = nil
                    case "other_id"?: textProblem = AuditVerifier.Findings.otherId
                    case "fields"?: textProblem = AuditVerifier.Findings.wrongFields
                    default: textProblem = AuditVerifier.Findings.notAnObject
                    }
                    let differing = row.string("differing").split(separator: ",").map(String.init)
                    try body(entry, AuditVerifier.Findings(textProblem: textProblem, hashMatches: row.bool("hash_ok") ?? false,
                                                           differingColumns: differing))
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
        try forEachEntry { entry, findings in verifier.check(entry, findings: findings) }
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
