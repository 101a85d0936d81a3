import Foundation
import Logging
import Postgres
import RecruitKit

/// The test database, from the standard libpq environment.
///
/// `make test` starts a throwaway cluster, exports `PGHOST`/`PGPORT`/`PGUSER`/
/// `PGDATABASE` and sets `RECRUIT_REQUIRE_DB=1`, so a missing database fails
/// the tests. A bare `swift test` without a database skips the database tests
/// (their suites are `.enabled(if: TestDatabase.isAvailable)`) and says so.
public enum TestDatabase {
    /// Whether a database is configured, or required.
    public static let isAvailable: Bool = {
        let env = ProcessInfo.processInfo.environment
        if env["RECRUIT_REQUIRE_DB"] == "1" { return true }
        guard env["PGHOST"] != nil || env["DATABASE_URL"] != nil else {
            print("note: no PGHOST or DATABASE_URL: database tests are skipped (make test provides a database)")
            return false
        }
        return true
    }()

    public static var conninfo: String { ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "" }

    /// A logger that discards everything.
    public static let quietLogger: Logger = {
        var l = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        l.logLevel = .critical
        return l
    }()

    /// A fresh connection (no schema set).
    public static func connect() throws -> Connection {
        try Connection(conninfo: conninfo)
    }

    /// Runs `body` with a database in a new schema of its own, migrated, and
    /// drops the schema afterwards (even when `body` throws).
    public static func withSchema<T>(migrate: Bool = true, logger: Logger = quietLogger,
                                     _ body: (Database) throws -> T) throws -> T {
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        let db = try Database.connect(conninfo: conninfo, schema: schema, logger: logger)
        defer {
            _ = try? db.connection.execute("DROP SCHEMA IF EXISTS \(identifier: schema) CASCADE")
            db.close()
        }
        if migrate { try Migrator(database: db).migrate() }
        return try body(db)
    }

    /// The repository's root folder.
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// A new empty temporary folder.
    public static func temporaryDirectory(_ prefix: String = "recruit-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
