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
    /// Loads no practice points at that are kept because issued runs used them
    /// (`runs why`, `--reproduce`); only `recruit db prune` drops them.
    public var retainedSnapshots: [Retained] = []

    public struct Retained: Codable, Sendable, Equatable {
        public var loadID: Int
        public var extractDate: String?
        /// The issued runs that used the load, and when the last was issued.
        public var runs: Int
        public var lastIssuedAt: String
        /// Disk used by its tables and indexes.
        public var bytes: Int
    }

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
                   coalesce(l.source_dir, '') AS dir, l.reason, l.backend_pid
            FROM loads l
            WHERE l.status = 'running' OR (l.status = 'failed' AND l.started_at > now() - interval '90 days')
            ORDER BY l.load_id DESC LIMIT 50
            """)
        let alive = try connection.liveBackends(loads.compactMap { $0.int("backend_pid") })
        for r in loads {
            let load = Load(loadID: r.int("load_id") ?? 0, status: r.string("status"), startedAt: r.string("started"),
                            osUser: r.string("os_user"), sourceDir: r.string("dir"), reason: r["reason"],
                            alive: r.int("backend_pid").map(alive.contains) ?? false)
            if load.status == "running" && load.alive { s.runningLoads.append(load) } else { s.problemLoads.append(load) }
        }
        s.unusedSnapshots = try unreferencedLoadIDs(connection)
        s.retainedSnapshots = try retained(connection)
        return s
    }

    /// The retained loads (those no practice points at, kept for issued runs), oldest first.
    public static func retained(_ connection: Connection) throws -> [Retained] {
        // On Citus a distributed table's rows are in its shards on the workers:
        // the coordinator's own table is an empty shell.
        let size = try Distribution.isDistributed(connection) ? "citus_total_relation_size" : "pg_total_relation_size"
        return try connection.query("""
            SELECT u.load_id, l.extract_date::text AS d, u.runs, to_char(u.last_issued_at, 'YYYY-MM-DD HH24:MI:SS') AS at,
                   (SELECT coalesce(sum(\(unsafeRaw: size)(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
                      AND c.relname ~ ('^(patients|events|prescriptions)_l' || u.load_id || '(_[12])?$'))::bigint AS bytes
            FROM issued_loads() u JOIN loads l ON l.load_id = u.load_id
            WHERE u.load_id NOT IN (SELECT load_id FROM practice_snapshots)
              AND to_regclass(quote_ident(current_schema()) || '.' || quote_ident('patients_l' || u.load_id)) IS NOT NULL
            ORDER BY u.load_id
            """).map {
            Retained(loadID: $0.int("load_id") ?? 0, extractDate: $0["d"], runs: $0.int("runs") ?? 0,
                     lastIssuedAt: $0.string("at"), bytes: $0.int("bytes") ?? 0)
        }
    }

    /// Loads still attached to the current partitioned tables that no practice
    /// points at and an issued run used: what a load moves to the retained tables.
    static func toRetainLoadIDs(_ connection: Connection) throws -> [Int] {
        try connection.query("""
            SELECT DISTINCT substring(c.relname from '_l([0-9]+)')::bigint AS load_id
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_inherits i ON i.inhrelid = c.oid
            WHERE n.nspname = current_schema() AND c.relname ~ '^(patients|events|prescriptions)_l[0-9]+$'
              AND i.inhparent IN (to_regclass(quote_ident(current_schema()) || '.patients'),
                                  to_regclass(quote_ident(current_schema()) || '.events'),
                                  to_regclass(quote_ident(current_schema()) || '.prescriptions'))
              AND substring(c.relname from '_l([0-9]+)')::bigint NOT IN (SELECT load_id FROM practice_snapshots)
              AND substring(c.relname from '_l([0-9]+)')::bigint IN (SELECT load_id FROM issued_loads())
            ORDER BY 1
            """).compactMap { $0.int("load_id") }
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
              AND substring(c.relname from '_l([0-9]+)')::bigint NOT IN (SELECT load_id FROM issued_loads())
            ORDER BY 1
            """).compactMap { $0.int("load_id") }
    }
}
