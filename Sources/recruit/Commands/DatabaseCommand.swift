import ArgumentParser
import Foundation
import RecruitKit

struct DatabaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the database: migrations, status, and the embedded cluster.",
        subcommands: [Migrate.self, Status.self, Prune.self, Start.self, Stop.self, DatabaseRolesCommand.self]
    )

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply pending schema migrations from sql/ (a no-op when up to date).")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            let db = try global.openDatabase(migrate: false)
            defer { db.close() }
            let applied = try Migrator(database: db).migrate()
            if json {
                try Output.json(["schema": .string(db.schema), "applied": .array(applied.map { .string($0.name) })] as [String: JSONValue])
            } else if applied.isEmpty {
                Output.line("Schema \(db.schema) is up to date.")
            } else {
                for m in applied { Output.line("applied \(m.name)") }
                Output.line("Schema \(db.schema): \(applied.count) migration(s) applied.")
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show where the database is, its migrations, and the embedded cluster's state.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            let settings = global.settings
            var report: [String: JSONValue] = ["database": .string(settings.summary), "schema": .string(settings.schema)]
            if case .embedded(let dir) = settings.source {
                let cluster = EmbeddedCluster(directory: dir, logger: global.logger)
                report["embedded_running"] = .bool(cluster.isRunning())
                if let layout = cluster.recordedLayout() {
                    report["embedded_data_directory"] = .string(layout.dataDirectory)
                    report["embedded_socket_directory"] = .string(layout.socketDirectory)
                }
            }
            let db = try global.openDatabase(migrate: false)
            defer { db.close() }
            report["server"] = .string(db.connection.target)
            let status = try Migrator(database: db).status()
            report["migrations_applied"] = .array(status.applied.map { .string($0.name) })
            report["migrations_pending"] = .array(status.pending.map { .string($0.name) })
            let snapshots = status.pending.isEmpty
            if snapshots { try Self.snapshots(db, into: &report, print: false) }
            if json {
                try Output.json(report)
                return
            }
            Output.line("Database:   \(settings.summary)")
            Output.line("Server:     \(db.connection.target)")
            Output.line("Schema:     \(db.schema)")
            if case .embedded = settings.source, case .string(let data)? = report["embedded_data_directory"] {
                Output.line("Cluster:    \(data)")
            }
            Output.line("Migrations: \(status.applied.count) applied, \(status.pending.count) pending" +
                        (status.pending.isEmpty ? "" : " (run: recruit db migrate)"))
            if snapshots { try Self.snapshots(db, into: &report, print: true) }
        }
    }

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create (if needed) and start the embedded PostgreSQL cluster.",
            discussion: "The cluster listens on a Unix socket only. It is reused by later commands until 'recruit db stop'.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "The port number naming the socket file (no TCP port is opened).") var port = 5432
        @Flag(help: "Print the connection details as JSON.") var json = false

        func run() throws {
            let settings = global.settings
            guard case .embedded(let dir) = settings.source else {
                throw RecruitError.environment("a database is configured (\(settings.summary)); the embedded cluster is used only when none is")
            }
            let layout = try EmbeddedCluster(directory: dir, port: port, logger: global.logger).start()
            let db = try Database.connect(conninfo: EmbeddedCluster.conninfo(layout), schema: settings.schema, logger: global.logger)
            try Migrator(database: db).migrate()
            db.close()
            if json {
                try Output.json(["conninfo": layout.socketDirectory.isEmpty ? "" : EmbeddedCluster.conninfo(layout),
                                 "host": layout.socketDirectory, "port": String(layout.port),
                                 "database": layout.database, "user": layout.user, "data_directory": layout.dataDirectory])
            } else {
                Output.line("Embedded cluster running: \(EmbeddedCluster.conninfo(layout))")
                Output.line("Data: \(layout.dataDirectory)")
            }
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the embedded PostgreSQL cluster.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Also delete the cluster's data (everything loaded into it).") var remove = false

        func run() throws {
            guard case .embedded(let dir) = global.settings.source else {
                throw RecruitError.environment("a database is configured; there is no embedded cluster to stop")
            }
            try EmbeddedCluster(directory: dir, logger: global.logger).stop(remove: remove)
            Output.line(remove ? "Embedded cluster stopped and removed." : "Embedded cluster stopped.")
        }
    }
}
