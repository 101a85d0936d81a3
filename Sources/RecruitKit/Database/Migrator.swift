import Foundation
import Logging
import Postgres

/// Applies the numbered SQL files of `sql/` to the project schema.
///
/// Each file (`0001_init.sql`, …) runs in its own transaction and is recorded
/// in `schema_migrations` with its SHA-256. Applying is a no-op when up to
/// date; a file whose checksum changed after it was applied is refused, named.
public struct Migrator {
    public struct Migration: Sendable, Equatable {
        public var version: Int
        public var name: String
        public var sql: String
        public var sha256: String
    }

    public struct Status: Sendable {
        public var applied: [(version: Int, name: String, appliedAt: String)]
        public var pending: [Migration]
    }

    let database: Database
    let directory: URL

    public init(database: Database, directory: URL? = nil) throws {
        self.database = database
        self.directory = try directory ?? ResourceLocator.directory("sql", containing: "0001_init.sql")
    }

    /// The migration files on disk, in order.
    public func migrations() throws -> [Migration] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }.sorted()
        return try names.map { name in
            guard let version = Int(name.prefix { $0.isNumber }) else {
                throw RecruitError.environment("\(directory.path)/\(name): a migration's name must start with its number (0001_name.sql)")
            }
            let url = directory.appendingPathComponent(name)
            let data = try Data(contentsOf: url)
            return Migration(version: version, name: name, sql: String(decoding: data, as: UTF8.self), sha256: Hashing.sha256Hex(data))
        }
    }

    private func ensureTable() throws {
        // CREATE TABLE IF NOT EXISTS needs the CREATE privilege on the schema
        // even when the table exists, which the least-privilege roles lack.
        let exists = try database.connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        if exists.first?.bool("present") == true { return }
        try database.connection.execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
              version int PRIMARY KEY,
              name text NOT NULL,
              sha256 text NOT NULL,
              applied_at timestamptz NOT NULL DEFAULT now(),
              applied_by text NOT NULL DEFAULT current_user
            )
            """)
    }

    /// Applied and pending migrations.
    /// - Throws: ``RecruitError`` (refused) when an applied file changed.
    public func status() throws -> Status {
        try ensureTable()
        let rows = try database.connection.query("SELECT version, name, sha256, applied_at::text AS applied_at FROM schema_migrations ORDER BY version")
        let files = try migrations()
        var pending: [Migration] = []
        for m in files {
            if let row = rows.first(where: { $0.int("version") == m.version }) {
                if row.string("sha256") != m.sha256 {
                    throw RecruitError.refused("""
                        migration \(m.name) was changed after it was applied (recorded SHA-256 \(row.string("sha256").prefix(12))…, \
                        file \(m.sha256.prefix(12))…). Applied migrations must not be edited: restore the file and add a new migration.
                        """)
                }
            } else {
                pending.append(m)
            }
        }
        return Status(applied: rows.map { ($0.int("version") ?? 0, $0.string("name"), $0.string("applied_at")) }, pending: pending)
    }

    /// Applies the pending migrations, each in its own transaction.
    /// - Returns: the migrations applied (empty when up to date).
    @discardableResult
    public func migrate() throws -> [Migration] {
        let conn = database.connection
        // One migrator at a time per schema.
        try conn.advisoryLock(database.lockKey("migrate"))
        defer { try? conn.advisoryUnlock(database.lockKey("migrate")) }
        let pending = try status().pending
        if !pending.isEmpty {
            try requireSchemaOwner(pending)
        }
        for m in pending {
            database.logger.info("applying migration", metadata: ["migration": "\(m.name)"])
            do {
                try conn.transaction {
                    try conn.executeScript(unsafeSQL: m.sql)
                    try conn.execute("INSERT INTO schema_migrations (version, name, sha256) VALUES (\(m.version), \(m.name), \(m.sha256))")
                }
            } catch let error as PostgresError {
                throw RecruitError.environment("migration \(m.name) failed: \(error)", underlying: error)
            }
        }
        return pending
    }
}

extension Migrator {
    /// Refuses to apply migrations as a role that does not own the schema (a
    /// member of recruit_loader, recruit_practice or recruit_research): they
    /// would fail on the first CREATE with "permission denied".
    func requireSchemaOwner(_ pending: [Migration]) throws {
        let row = try database.connection.query("""
            SELECT pg_has_role(current_user, n.nspowner, 'USAGE') OR r.rolsuper AS may, pg_get_userbyid(n.nspowner) AS owner
            FROM pg_namespace n, pg_roles r
            WHERE n.nspname = \(database.schema) AND r.rolname = current_user
            """)
        guard let first = row.first, first.bool("may") != true else { return }
        throw RecruitError.environment("""
            \(pending.count) schema migration(s) of \(database.schema) are pending (\(pending[0].name)…), and this database user \
            does not own the schema: ask its owner (\(first.string("owner"))) to run 'recruit db migrate'
            """)
    }
}

/// Finds the project's data folders (`sql/`, built-in profiles) at run time.
///
/// Looks in `$RECRUIT_HOME`, then upwards from the executable (a build under
/// `.build/` finds the checkout it was built from), then the current folder.
public enum ResourceLocator {
    public static func directory(_ name: String, containing marker: String) throws -> URL {
        var candidates: [URL] = []
        if let home = ProcessInfo.processInfo.environment["RECRUIT_HOME"], !home.isEmpty {
            candidates.append(URL(fileURLWithPath: home))
        }
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        }
        for _ in 0..<6 {
            candidates.append(dir)
            dir = dir.deletingLastPathComponent()
        }
        candidates.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        // Source checkout (tests run from .build/…/xctest bundles).
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent())
        for c in candidates {
            let url = c.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: url.appendingPathComponent(marker).path) { return url }
        }
        throw RecruitError.environment("cannot find recruit's \(name)/ folder: run recruit from its checkout, or set RECRUIT_HOME to it")
    }
}
