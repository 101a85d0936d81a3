import Foundation
import Logging
import Postgres

/// An open project database: a connection whose `search_path` is the project schema.
///
/// All SQL in recruit names its tables unqualified, so the same statements
/// run in the `recruit` schema and in a test's throwaway schema.
public final class Database {
    public let connection: Connection
    /// The schema holding every project object.
    public let schema: String
    /// The connection string used, to open more connections (parallel COPY streams).
    let conninfo: String
    public let logger: Logger

    init(connection: Connection, conninfo: String, schema: String, logger: Logger) {
        self.connection = connection
        self.conninfo = conninfo
        self.schema = schema
        self.logger = logger
    }

    /// Opens the database the settings name: starts the embedded cluster when
    /// that is the source, connects, sets the schema, and (by default) applies
    /// pending migrations.
    ///
    /// - Throws: ``RecruitError`` (environment) when the server cannot be
    ///   reached, with libpq's reason and the host or socket tried.
    public static func open(_ settings: DatabaseSettings, logger: Logger, migrate: Bool = true) throws -> Database {
        let conninfo: String
        switch settings.source {
        case .connectionString(let s): conninfo = s
        case .environment: conninfo = ""
        case .embedded(let dir):
            let layout = try EmbeddedCluster(directory: dir, logger: logger).start()
            conninfo = EmbeddedCluster.conninfo(layout)
        }
        let db = try connect(conninfo: conninfo, schema: settings.schema, logger: logger)
        if migrate {
            try Migrator(database: db).migrate()
        }
        return db
    }

    /// Connects to `conninfo` and uses `schema` (created if missing).
    public static func connect(conninfo: String, schema: String, logger: Logger) throws -> Database {
        let connection: Connection
        do {
            connection = try Connection(conninfo: conninfo)
        } catch let error as PostgresError {
            throw RecruitError.environment("cannot connect to PostgreSQL: \(error.message)", underlying: error)
        }
        try useSchema(connection, schema)
        return Database(connection: connection, conninfo: conninfo, schema: schema, logger: logger)
    }

    static func useSchema(_ connection: Connection, _ schema: String) throws {
        // CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege on the
        // database before it looks for the schema, so a role without it
        // (recruit_loader, recruit_practice, recruit_research) would be refused
        // even when the schema exists: create it only when it is missing.
        let exists = try connection.query("SELECT 1 FROM pg_namespace WHERE nspname = \(schema)")
        if exists.isEmpty {
            try connection.execute("CREATE SCHEMA IF NOT EXISTS \(identifier: schema)")
        }
        try connection.execute("SELECT set_config('search_path', \(connection.quoteIdentifier(schema)), false)")
        try connection.execute("SET client_min_messages = warning")
    }

    /// Opens another connection to the same database and schema (for work on another thread).
    public func newConnection() throws -> Connection {
        let c = try Connection(conninfo: conninfo)
        try Self.useSchema(c, schema)
        return c
    }

    /// A name for an advisory lock, scoped to this schema.
    public func lockKey(_ name: String) -> String { "\(schema):\(name)" }

    public func close() { connection.close() }
}

@available(*, unavailable)
extension Database: Sendable {}
