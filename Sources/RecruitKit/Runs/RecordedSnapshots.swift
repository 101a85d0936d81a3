import Foundation
import Postgres

/// Makes a session read a recorded run's snapshots instead of the current ones.
///
/// The cohort engine reads `practice_snapshots` and the `current_patients`,
/// `current_events` and `current_prescriptions` views, unqualified. PostgreSQL
/// searches the session's temporary schema before the search path for tables
/// and views, so a temporary `practice_snapshots` holding the run's (practice,
/// load) pairs and temporary `current_*` views over it make the same compiled
/// statement read exactly the loads the run used. They are dropped afterwards.
public enum RecordedSnapshots {
    /// A practice whose recorded snapshot can no longer be read.
    public struct Missing: Sendable, Hashable {
        public var practiceID: String
        public var loadID: Int
        public var extractDate: LocalDate
        /// What the practice points at now, if anything.
        public var currentLoadID: Int?
        public var currentExtractDate: LocalDate?
        public var replacedAt: String?

        public var description: String {
            var text = "practice \(practiceID)'s snapshot of the run (load \(loadID), extract date \(extractDate)) has been dropped"
            if let currentLoadID, let currentExtractDate {
                text += currentLoadID == loadID ? "" : "; it was replaced by load \(currentLoadID) (extract date \(currentExtractDate))"
                if let replacedAt, currentLoadID != loadID { text += " at \(replacedAt)" }
            } else {
                text += "; the practice has no snapshot now"
            }
            return text
        }
    }

    /// A practice whose current snapshot is no longer the one the run used
    /// (the run's load is still there, so it can still be read).
    public struct Replaced: Sendable, Hashable, Codable {
        public var practiceID: String
        public var runLoadID: Int
        public var currentLoadID: Int?

        enum CodingKeys: String, CodingKey {
            case practiceID = "practice_id", runLoadID = "run_load_id", currentLoadID = "current_load_id"
        }
    }

    /// The snapshots gone, in words; for a run that was not issued, that only issued runs keep theirs.
    static func gone(_ missing: [Missing], of run: RunRecord) -> String {
        missing.map(\.description).joined(separator: "; ")
            + (run.status == .issued ? "" : " (only issued runs keep the snapshots they used; this run is a \(run.status.rawValue.replacingOccurrences(of: "_", with: " ")))")
    }

    /// Which of the run's snapshots are gone, and which were replaced but remain.
    public static func check(_ run: RunRecord, on database: Database) throws -> (missing: [Missing], replaced: [Replaced]) {
        let c = database.connection
        var missing: [Missing] = []
        var replaced: [Replaced] = []
        for p in run.practices {
            let row = try c.query("""
                SELECT (SELECT count(*) FROM pg_inherits i JOIN pg_class k ON k.oid = i.inhrelid
                        WHERE i.inhparent IN (to_regclass(\(database.quoteQualified("patients"))),
                                              to_regclass(\(database.quoteQualified("events"))),
                                              to_regclass(\(database.quoteQualified("prescriptions"))),
                                              to_regclass(\(database.quoteQualified("retained_patients"))),
                                              to_regclass(\(database.quoteQualified("retained_events"))),
                                              to_regclass(\(database.quoteQualified("retained_prescriptions"))))
                          AND pg_get_expr(k.relpartbound, k.oid) = \("FOR VALUES IN ('\(p.loadID)')")) AS partitions,
                       s.load_id AS current_load_id, s.extract_date::text AS current_extract_date,
                       \(unsafeRaw: RunRecord.ts("s.replaced_at")) AS replaced_at
                FROM (SELECT 1) one LEFT JOIN practice_snapshots s ON s.practice_id = \(p.practiceID)
                """)[0]
            let current = row.int("current_load_id")
            if (row.int("partitions") ?? 0) < 3 {
                missing.append(Missing(practiceID: p.practiceID, loadID: p.loadID, extractDate: p.extractDate, currentLoadID: current,
                                       currentExtractDate: row.date("current_extract_date"), replacedAt: row["replaced_at"]))
            } else if current != p.loadID {
                replaced.append(Replaced(practiceID: p.practiceID, runLoadID: p.loadID, currentLoadID: current))
            }
        }
        return (missing, replaced)
    }

    /// Runs `body` with the session reading `run`'s snapshots.
    ///
    /// Must not be called inside a transaction (the temporary objects are made
    /// before `body` opens its own).
    ///
    /// - Throws: ``RecruitError`` (refused) when a snapshot the run used has
    ///   been dropped: the run cannot be evaluated again.
    public static func reading<T>(_ run: RunRecord, on database: Database, _ body: () throws -> T) throws -> T {
        let (missing, _) = try check(run, on: database)
        if !missing.isEmpty {
            throw RecruitError.refused("run \(run.runID) cannot be evaluated again on the data it used: " + gone(missing, of: run))
        }
        let c = database.connection
        let schema = database.schema
        try drop(c)
        defer { try? drop(c) }
        try c.execute("CREATE TEMPORARY TABLE practice_snapshots (LIKE \(identifier: schema).practice_snapshots INCLUDING DEFAULTS)")
        try c.execute("""
            INSERT INTO pg_temp.practice_snapshots (practice_id, load_id, extract_date, replaced_at)
            SELECT practice_id, load_id, extract_date, now() FROM \(identifier: schema).run_practices WHERE run_id = \(run.runID)
            """)
        try c.execute("ANALYZE pg_temp.practice_snapshots")
        // The run's loads, current or retained (sql/0016), named in the view so
        // that the planner reads only their partitions, and each practice's
        // load from the run's own record: run_practices, not the temporary
        // table, which is local to this session (on Citus a join of the
        // distributed tables with it pulls the practice's records to the
        // coordinator; with run_practices, a reference table, the statement
        // is routed to the practice's shard). Integers from the run record.
        let loads = Set(run.practices.map(\.loadID)).sorted().map(String.init).joined(separator: ", ")
        for (view, table) in [("current_patients", "patients"), ("current_events", "events"), ("current_prescriptions", "prescriptions")] {
            try c.execute("""
                CREATE TEMPORARY VIEW \(identifier: view) AS
                  SELECT x.* FROM (SELECT * FROM \(identifier: schema).\(identifier: table) WHERE load_id IN (\(unsafeRaw: loads))
                                   UNION ALL
                                   SELECT * FROM \(identifier: schema).\(identifier: "retained_" + table) WHERE load_id IN (\(unsafeRaw: loads))) x
                  JOIN \(identifier: schema).run_practices s USING (load_id, practice_id)
                  WHERE s.run_id = \(unsafeRaw: String(run.runID))
                """)
        }
        return try body()
    }

    static func drop(_ c: Connection) throws {
        try c.execute("DROP VIEW IF EXISTS pg_temp.current_patients, pg_temp.current_events, pg_temp.current_prescriptions")
        try c.execute("DROP TABLE IF EXISTS pg_temp.practice_snapshots")
    }
}

extension Database {
    /// `schema.name`, quoted, as text for `to_regclass`.
    func quoteQualified(_ name: String) -> String {
        connection.quoteIdentifier(schema) + "." + connection.quoteIdentifier(name)
    }
}
