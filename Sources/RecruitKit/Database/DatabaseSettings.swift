import Foundation

/// Where the database is: a configured server, or the embedded private cluster.
///
/// The rule, in order: `--database` (a libpq connection string or URI), then
/// `DATABASE_URL`, then the standard libpq environment when it names a server
/// (`PGHOST` or `PGSERVICE`); with none of these, the embedded cluster in the
/// cluster folder (default `./.recruit`), started on demand.
public struct DatabaseSettings: Sendable {
    public enum Source: Sendable, Equatable {
        /// `--database` or `DATABASE_URL`.
        case connectionString(String)
        /// The libpq environment (`PGHOST`, `PGSERVICE`, …), read by libpq itself.
        case environment
        /// The embedded cluster whose state lives in this folder.
        case embedded(clusterDirectory: URL)
    }

    public var source: Source
    /// The schema that holds every project object (default `recruit`).
    public var schema: String

    public init(source: Source, schema: String = "recruit") {
        self.source = source
        self.schema = schema
    }

    /// Applies the rule above to the flags and the environment.
    public static func resolve(database: String?, clusterDirectory: String?,
                               environment: [String: String] = ProcessInfo.processInfo.environment) -> DatabaseSettings {
        let schema = environment["RECRUIT_SCHEMA"].flatMap { $0.isEmpty ? nil : $0 } ?? "recruit"
        if let database, !database.isEmpty { return DatabaseSettings(source: .connectionString(database), schema: schema) }
        if let url = environment["DATABASE_URL"], !url.isEmpty { return DatabaseSettings(source: .connectionString(url), schema: schema) }
        if environment["PGHOST"].map({ !$0.isEmpty }) == true || environment["PGSERVICE"].map({ !$0.isEmpty }) == true {
            return DatabaseSettings(source: .environment, schema: schema)
        }
        let dir = clusterDirectory ?? environment["RECRUIT_CLUSTER_DIR"] ?? ".recruit"
        return DatabaseSettings(source: .embedded(clusterDirectory: URL(fileURLWithPath: dir).standardizedFileURL), schema: schema)
    }

    /// A human description of where the data goes, with no password.
    public var summary: String {
        switch source {
        case .connectionString: return "the database given on the command line or in DATABASE_URL"
        case .environment: return "the database named by the PG* environment"
        case .embedded(let dir): return "the embedded cluster in \(dir.path)"
        }
    }
}
