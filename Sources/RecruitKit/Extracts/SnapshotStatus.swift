import Foundation
import Postgres

/// What `recruit db status` shows about loaded data: each practice's current
/// snapshot, loads that failed or never finished, and unused snapshots not yet dropped.
public struct SnapshotStatus: Codable, Sendable {
    public struct Practice: Codable, Sendable {
        public var practiceID: String
        public var loadID: Int
        public var extractDate: String
        public var replacedAt: String
        public var patients: Int
        public var events: Int
        public var prescriptions: Int
    }

    public struct Load: Codable, Sendable {
        public var loadID: Int
        /// failed, or running (a running load whose session is gone never finished).
        public var status: String
        public var startedAt: String
        public var osUser: String
        public var sourceDir: String
        public var reason: String?
        /// For running loads: whether its session is still connected.
        public var alive: Bool
    }

    public var practices: [Practice] = []
    /// Loads that failed, or are running with no session (never finished), most recent first.
    public var problemLoads: [Load] = []
    /// Loads in progress right now.
    public var runningLoads: [Load] = []
    /// Loads whose tables no practice points at any more (dropped by the next load).
    public var unusedSnapshots: [Int] = []

    /// Reads the status.
    public static func read(_ connection: Connection) throws -> SnapshotStatus {
        var s = SnapshotStatus()
        s.practices = try connection.query("""
            SELECT practice_id, load_id, extract_date::text AS d, to_char(replaced_at, 'YYYY-MM-DD HH24:MI') AS at,
                   patients, events, prescriptions
            FROM practice_snapshots ORDER BY practice_id COLLATE "C"
            """).map {
            Practice(practiceID: $0.string("practice_id"), loadID: $0.int("load_id") ?? 0, extractDate: $0.string("d"),
                     replacedAt: $0.string("at"), patients: $0.int("patients") ?? 0, events: $0.int("events") ?? 0,
                     prescriptions: $0.int("prescriptions") ?? 0)
        }
        let loads = try connection.query("""
            SELECT l.load_id, l.status, to_char(l.started_at, 'YYYY-MM-DD HH24:MI:SS') AS started, l.os_user,
                   coalesce(l.source_dir, '') AS dir, l.reason,
                   EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.backend_pid) AS alive
            FROM loads l
            WHERE l.status = 'running' OR (l.status = 'failed' AND l.started_at > now() - interval '90 days')
            ORDER BY l.load_id DESC LIMIT 50
            """)
        for r in loads {
            let load = Load(loadID: r.int("load_id") ?? 0, status: r.string("status"), startedAt: r.string("started"),
                            osUser: r.string("os_user"), sourceDir: r.string("dir"), reason: r["reason"],
                            alive: r.bool("alive") ?? false)
            if load.status == "running" && load.alive { s.runningLoads.append(load) } else { s.problemLoads.append(load) }
        }
        s.unusedSnapshots = try unreferencedLoadIDs(connection)
        return s
    }

    /// The loads whose per-load tables are still in the schema though no
    /// snapshot refers to them and no load is making them: what a load drops
    /// when it can, and what `db status` lists until then.
    static func unreferencedLoadIDs(_ connection: Connection) throws -> [Int] {
        try connection.query("""
            SELECT DISTINCT substring(c.relname from '_l([0-9]+)')::bigint AS load_id
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
              AND c.relname ~ '^(patients|events|prescriptions)_l[0-9]+(_[0-9]+)?$'
              AND substring(c.relname from '_l([0-9]+)')::bigint NOT IN (SELECT load_id FROM practice_snapshots)
              AND substring(c.relname from '_l([0-9]+)')::bigint NOT IN (SELECT load_id FROM loads WHERE status = 'running')
            ORDER BY 1
            """).compactMap { $0.int("load_id") }
    }
}
