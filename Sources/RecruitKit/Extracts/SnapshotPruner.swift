import Foundation
import Postgres

/// `recruit db prune`: drops retained snapshots (sql/0016), the loads no
/// practice points at that issued runs used, whose issued runs were all issued
/// before the retention period. What an issued run within it used is never
/// dropped (the database function refuses too). Each prune that drops
/// something appends a `db.prune` audit entry.
public struct SnapshotPruner {
    public struct Result: Codable, Sendable {
        /// The first instant of the retention period (issued at or after it: kept).
        public var keepIssuedSince: String
        public var dryRun: Bool
        /// Dropped (or, in a dry run, would be).
        public var pruned: [SnapshotStatus.Retained]
        /// Kept: an issued run within the retention period used them.
        public var kept: [SnapshotStatus.Retained]
        public var bytesFreed: Int
    }

    let database: Database
    public init(database: Database) { self.database = database }

    /// Prunes what only issued runs issued more than `retentionDays` days ago used.
    public func prune(retentionDays: Int, dryRun: Bool) throws -> Result {
        let c = database.connection
        let days = Int32(clamping: retentionDays)
        let since = try c.query("""
            SELECT (now() - make_interval(days => \(days)))::text AS t,
                   to_char(now() - make_interval(days => \(days)), 'YYYY-MM-DD HH24:MI:SS') AS shown
            """)[0]
        let retained = try SnapshotStatus.retained(c)
        let cutoff = since.string("shown")
        let old = retained.filter { $0.lastIssuedAt < cutoff }
        var result = Result(keepIssuedSince: cutoff, dryRun: dryRun, pruned: old,
                            kept: retained.filter { $0.lastIssuedAt >= cutoff }, bytesFreed: old.map(\.bytes).reduce(0, +))
        guard !dryRun, !old.isEmpty else { return result }
        let ids = old.map(\.loadID)
        let dropped = try c.transaction { () -> [Int] in
            let dropped = try c.query("SELECT unnest(drop_load_tables(\(ids)::bigint[], \(since.string("t"))::timestamptz)) AS load_id")
                .compactMap { $0.int("load_id") }
            try AuditLog.append(on: c, action: "db.prune", subjects: ["load_ids": .array(dropped.map { .int($0) })],
                                payload: ["retention_days": .int(retentionDays), "keep_issued_since": .string(cutoff),
                                          "bytes_freed": .int(result.bytesFreed)])
            return dropped
        }
        result.pruned = old.filter { dropped.contains($0.loadID) }
        return result
    }
}
