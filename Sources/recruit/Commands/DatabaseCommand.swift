import ArgumentParser
import Foundation
import RecruitKit

struct DatabaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the database: migrations, status, and the embedded cluster.",
        subcommands: [Migrate.self, Distribute.self, Status.self, Prune.self, Start.self, Stop.self, DatabaseRolesCommand.self]
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

    struct Distribute: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Distribute the schema on a Citus cluster: the patient-level tables by practice (after 'db migrate', before the first load).",
            discussion: """
                Run on the coordinator of a Citus cluster whose workers are added. Patients, events, prescriptions, \
                the runs' invitees and the contact history are sharded by practice_id (co-located); snapshots, loads, \
                runs and contact imports become reference tables; the audit trail and code lists stay on the coordinator (docs/scaling.md). A no-op when done already; \
                on a server without Citus it changes nothing and exits 2.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Shards per distributed table (default: the server's citus.shard_count).") var shardCount: Int?
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            if let n = shardCount, n < 1 || n > 64000 { throw ValidationError("--shard-count must be from 1 to 64000") }
        }

        func run() throws {
            let db = try global.openDatabase(migrate: false)
            defer { db.close() }
            let report = try Distribution(database: db, logger: global.logger).distribute(shardCount: shardCount)
            if json {
                try Output.json(["schema": .string(db.schema), "already_distributed": .bool(report.alreadyDistributed),
                                 "shard_count": .int(report.shardCount),
                                 "workers": .array(report.workers.map { .string($0) }),
                                 "distributed": .array(report.distributed.map { .string($0) }),
                                 "reference": .array(report.reference.map { .string($0) })] as [String: JSONValue])
            } else if report.alreadyDistributed {
                Output.line("Schema \(db.schema) is distributed already (\(report.shardCount) shards per table, \(report.workers.count) workers).")
            } else {
                Output.line("distributed by practice_id: \(report.distributed.joined(separator: ", "))")
                Output.line("reference tables: \(report.reference.joined(separator: ", "))")
                Output.line("Schema \(db.schema) distributed: \(report.shardCount) shards per table on \(report.workers.count) workers (\(report.workers.joined(separator: ", "))).")
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
