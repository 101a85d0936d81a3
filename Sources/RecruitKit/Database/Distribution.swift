import Foundation
import Logging
import Postgres

/// The distributed layout on a Citus cluster (issue 18, docs/scaling.md).
///
/// `recruit db distribute`, run once on the coordinator after `recruit db
/// migrate` and before the first load, makes the extract tables, the runs'
/// invitees and the contact history distributed tables sharded by
/// `practice_id` (co-located: a practice's patients, events, prescriptions,
/// invitations and outcomes are on one worker, so every join of the run's
/// statement is a join within a shard), and the tables they read beside them
/// (snapshots, loads, runs, contact imports) reference tables (a copy on
/// every node). The audit trail, the code lists and the schema's own records
/// stay ordinary tables on the coordinator: nothing on a worker reads them,
/// and their triggers and the audit chain's advisory lock stay where they are.
///
/// Without it the schema is the single-node one, unchanged.
public struct Distribution {
    /// The extract tables, partitioned by load (one level: Citus does not
    /// distribute multi-level partitioned tables), distributed by practice_id.
    /// The first is the co-location anchor.
    public static let distributedTables = [
        "patients", "events", "prescriptions",
        "retained_patients", "retained_events", "retained_prescriptions",
    ]
    /// Reference tables, in the order they are made so (a table after those its
    /// foreign keys point at).
    public static let referenceTables = [
        "loads", "load_rejects", "practice_snapshots",
        "cohort_definitions", "runs", "run_practices", "run_yields", "contact_imports",
    ]
    /// The run's patient rows and the contact history: distributed by
    /// practice_id, co-located with the extract tables (sql/0031), after the
    /// reference tables their foreign keys point at (runs, contact_imports).
    public static let distributedContactTables = ["run_invitations", "history_invitations", "contact_outcomes"]
    /// The column every distributed table is sharded by.
    public static let distributionColumn = "practice_id"

    /// What `distribute` found or did.
    public struct Report: Sendable, Equatable {
        /// The tables distributed by practice_id by this call.
        public var distributed: [String] = []
        /// The tables made reference tables by this call.
        public var reference: [String] = []
        /// The schema was distributed already: nothing was done.
        public var alreadyDistributed = false
        /// The shard count of the distributed tables.
        public var shardCount: Int = 0
        /// The active workers.
        public var workers: [String] = []
    }

    /// Why the schema cannot be distributed. Nothing was changed.
    public struct Unavailable: Error, Sendable, Equatable {
        public enum Reason: Sendable, Equatable {
            /// The server has no Citus extension installed at all.
            case extensionNotInstalled
            /// Installed on the server, not created in this database.
            case extensionNotCreated(availableVersion: String)
            /// Citus is there, but not preloaded (shared_preload_libraries).
            case notPreloaded
            /// The coordinator has no active worker.
            case noWorkers
            /// Migrations are pending: distribute after `db migrate`.
            case migrationsPending(count: Int)
            /// Extracts were loaded already (distribute an empty database).
            case notEmpty(loads: Int)
        }
        public var reason: Reason
        /// The server asked (Connection.target).
        public var server: String
    }

    let database: Database
    let logger: Logger

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Whether this schema's extract tables are distributed (false without Citus).
    public static func isDistributed(_ connection: Connection) throws -> Bool {
        let rows = try connection.query("SELECT tables_distributed() AS d")
        return rows.first?.bool("d") == true
    }

    /// The state of Citus on the server, checked before anything changes.
    /// - Throws: ``Unavailable``.
    func check() throws -> [String] {
        let c = database.connection
        let ext = try c.query("""
            SELECT (SELECT extversion FROM pg_extension WHERE extname = 'citus') AS created,
                   (SELECT default_version FROM pg_available_extensions WHERE name = 'citus') AS available
            """)
        let created = ext.first?["created"]
        let available = ext.first?["available"]
        guard created != nil else {
            if let available { throw Unavailable(reason: .extensionNotCreated(availableVersion: available), server: c.target) }
            throw Unavailable(reason: .extensionNotInstalled, server: c.target)
        }
        let preload = try c.query("SELECT current_setting('shared_preload_libraries') AS libs")
        let libs = (preload.first?.string("libs") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard libs.contains("citus") else { throw Unavailable(reason: .notPreloaded, server: c.target) }
        let workers = try c.query("SELECT node_name || ':' || node_port AS w FROM citus_get_active_worker_nodes() ORDER BY 1")
            .map { $0.string("w") }
        guard !workers.isEmpty else { throw Unavailable(reason: .noWorkers, server: c.target) }
        return workers
    }

    /// Distributes the schema (see the type's notes), in one transaction.
    /// A no-op when it is distributed already.
    ///
    /// - Parameter shardCount: shards per distributed table (nil: Citus's
    ///   `citus.shard_count`, 32 by default).
    /// - Throws: ``Unavailable`` (nothing changed) when the server has no
    ///   usable Citus, migrations are pending, or extracts were loaded.
    @discardableResult
    public func distribute(shardCount: Int? = nil) throws -> Report {
        var report = Report()
        let c = database.connection
        let pending = try Migrator(database: database).status().pending
        guard pending.isEmpty else { throw Unavailable(reason: .migrationsPending(count: pending.count), server: c.target) }
        report.workers = try check()
        if try Self.isDistributed(c) {
            report.alreadyDistributed = true
            report.shardCount = try currentShardCount()
            return report
        }
        let loads = try c.query("SELECT count(*)::int8 AS n FROM loads WHERE status <> 'dry_run'")[0].int("n") ?? 0
        guard loads == 0 else { throw Unavailable(reason: .notEmpty(loads: loads), server: c.target) }
        try database.connection.advisoryLock(database.lockKey("migrate"))
        defer { try? database.connection.advisoryUnlock(database.lockKey("migrate")) }
        try c.transaction {
            // Reference tables with foreign keys are written over one
            // connection per node: the whole transaction must be sequential.
            try c.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
            // The run tables' triggers (sql/0011: an issued run is frozen) and
            // the code lists' are kept; on a reference table they fire on
            // every placement, which is what they need (they only refuse).
            try c.execute("SET LOCAL citus.enable_unsafe_triggers TO on")
            let anchor = try qualified(Self.distributedTables[0])
            // The contact tables' foreign keys point at tables made reference
            // tables below, and Citus turns a local table referencing a
            // reference table into a "Citus local" table, which cannot then be
            // distributed (it has an identity column). So their foreign keys
            // are dropped first and made again once every table is in place.
            let contactTables = try Self.distributedContactTables.map(qualified)
            let foreignKeys = try c.query("""
                SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
                WHERE contype = 'f' AND conrelid = ANY(\(contactTables)::regclass[]) ORDER BY conrelid, conname
                """).map { (table: $0.string("tbl"), name: $0.string("conname"), definition: $0.string("def")) }
            for key in foreignKeys {
                try c.execute("ALTER TABLE \(unsafeRaw: key.table) DROP CONSTRAINT \(identifier: key.name)")
            }
            for table in Self.distributedTables {
                let name = try qualified(table)
                if table == Self.distributedTables[0] {
                    if let shardCount {
                        try c.execute("SELECT create_distributed_table(\(name)::regclass, \(Self.distributionColumn), shard_count => \(Int32(shardCount)))")
                    } else {
                        try c.execute("SELECT create_distributed_table(\(name)::regclass, \(Self.distributionColumn))")
                    }
                } else {
                    try c.execute("SELECT create_distributed_table(\(name)::regclass, \(Self.distributionColumn), colocate_with => \(anchor))")
                }
                report.distributed.append(table)
            }
            for table in Self.referenceTables {
                try c.execute("SELECT create_reference_table(\(try qualified(table))::regclass)")
                report.reference.append(table)
            }
            for (table, name) in zip(Self.distributedContactTables, contactTables) {
                try c.execute("SELECT create_distributed_table(\(name)::regclass, \(Self.distributionColumn), colocate_with => \(anchor))")
                report.distributed.append(table)
            }
            for key in foreignKeys {
                // The definition as the server printed it (sql/ wrote it), with its tables quoted.
                try c.execute("ALTER TABLE \(unsafeRaw: key.table) ADD CONSTRAINT \(identifier: key.name) \(unsafeRaw: key.definition)")
            }
        }
        report.shardCount = try currentShardCount()
        logger.info("schema distributed", metadata: ["schema": "\(database.schema)", "shards": "\(report.shardCount)",
                                                      "workers": "\(report.workers.count)"])
        return report
    }

    /// On a distributed schema, makes the caller's transaction send its
    /// multi-shard commands over one connection per node. A transaction that
    /// reads or writes the distributed contact tables and writes the reference
    /// tables their foreign keys point at (runs, contact_imports) needs it:
    /// Citus refuses a reference table's write after a parallel multi-shard
    /// access to a table that references it. A no-op on one node.
    /// - Important: call first in the transaction (`Connection.transaction`).
    public static func sequentialIfDistributed(_ connection: Connection) throws {
        guard try isDistributed(connection) else { return }
        try connection.executeScript(unsafeSQL: "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
    }

    func qualified(_ table: String) throws -> String {
        database.connection.quoteIdentifier(database.schema) + "." + database.connection.quoteIdentifier(table)
    }

    func currentShardCount() throws -> Int {
        let rows = try database.connection.query("""
            SELECT count(*)::int8 AS n FROM pg_dist_shard WHERE logicalrelid = \(try qualified(Self.distributedTables[0]))::regclass
            """)
        return rows.first?.int("n") ?? 0
    }
}
