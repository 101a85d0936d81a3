import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

@Suite("Migrations", .enabled(if: TestDatabase.isAvailable))
struct MigrationTests {
    /// A copy of sql/ in a temporary folder, so a test may tamper with it.
    func copyOfMigrations() throws -> URL {
        let dir = try TestDatabase.temporaryDirectory("migrations")
        let source = TestDatabase.repositoryRoot.appendingPathComponent("sql")
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name.hasSuffix(".sql") {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        return dir
    }

    @Test("fresh apply, then a no-op re-apply")
    func applyThenNoop() throws {
        try TestDatabase.withSchema(migrate: false) { (db: Database) throws in
            let migrator = try Migrator(database: db)
            let files = try migrator.migrations()
            #expect(!files.isEmpty)
            let applied = try migrator.migrate()
            #expect(applied.map(\.name) == files.map(\.name))
            #expect(try migrator.migrate().isEmpty)
            let recorded = try db.connection.query("SELECT name, sha256 FROM schema_migrations ORDER BY version")
            #expect(recorded.map { $0.string("name") } == files.map(\.name))
            #expect(recorded.map { $0.string("sha256") } == files.map(\.sha256))
            // Everything lives in the test's schema, never public.
            let inPublic = try db.connection.query("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = 'schema_migrations'")
            #expect(inPublic[0].int("n") == 0)
        }
    }

    @Test("an applied file whose checksum changed is refused, named")
    func tamperedChecksum() throws {
        let dir = try copyOfMigrations()
        defer { try? FileManager.default.removeItem(at: dir) }
        try TestDatabase.withSchema(migrate: false) { (db: Database) throws in
            try Migrator(database: db, directory: dir).migrate()
            let first = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".sql") }.sorted()[0]
            let url = dir.appendingPathComponent(first)
            try (String(contentsOf: url, encoding: .utf8) + "\n-- edited\n").write(to: url, atomically: true, encoding: .utf8)
            let error = #expect(throws: RecruitError.self) { try Migrator(database: db, directory: dir).migrate() }
            #expect(error?.message.contains(first) == true)
            #expect(error?.kind == .refused)
        }
    }

    @Test("a failing migration rolls back and is not recorded")
    func failingMigration() throws {
        let dir = try copyOfMigrations()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "CREATE TABLE half_done (x int);\nSELECT * FROM no_such_table;\n".write(
            to: dir.appendingPathComponent("9999_broken.sql"), atomically: true, encoding: .utf8)
        try TestDatabase.withSchema(migrate: false) { (db: Database) throws in
            let error = #expect(throws: RecruitError.self) { try Migrator(database: db, directory: dir).migrate() }
            #expect(error?.message.contains("9999_broken.sql") == true)
            #expect(try db.connection.query("SELECT count(*) AS n FROM schema_migrations WHERE version = 9999")[0].int("n") == 0)
            #expect(try db.connection.query("SELECT to_regclass('half_done') IS NULL AS gone")[0].bool("gone") == true)
        }
    }
}

@Suite("Embedded cluster", .enabled(if: TestDatabase.isAvailable), .serialized)
struct EmbeddedClusterTests {
    @Test("start, reuse, stop")
    func lifecycle() throws {
        let dir = try TestDatabase.temporaryDirectory("embedded")
        chmod(dir.path, 0o755)
        let clusterDir = dir.appendingPathComponent("cluster")
        let cluster = EmbeddedCluster(directory: clusterDir, port: 54_999, logger: TestDatabase.quietLogger)
        defer {
            try? cluster.stop(remove: true)
            try? FileManager.default.removeItem(at: dir)
        }
        #expect(!cluster.isRunning())
        let layout = try cluster.start()
        #expect(cluster.isRunning())
        // Two commands in a row reuse one cluster: the same layout, no new initdb.
        let settings = DatabaseSettings(source: .embedded(clusterDirectory: clusterDir), schema: "embedded_test")
        let first = try Database.open(settings, logger: TestDatabase.quietLogger)
        let pid1 = try first.connection.query("SELECT pg_postmaster_start_time()::text AS t")[0].string("t")
        first.close()
        let again = try cluster.start()
        #expect(again == layout)
        let second = try Database.open(settings, logger: TestDatabase.quietLogger)
        let pid2 = try second.connection.query("SELECT pg_postmaster_start_time()::text AS t")[0].string("t")
        // Unix socket only: no TCP listener.
        #expect(try second.connection.query("SHOW listen_addresses")[0][0] == "")
        second.close()
        #expect(pid1 == pid2)
        try cluster.stop()
        #expect(!cluster.isRunning())
    }

    /// The postmaster's pid, from the first line of DATA/postmaster.pid.
    static func postmasterPID(_ dataDirectory: String) -> Int32? {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
    }

    @Test("two recruit commands in a row reuse one embedded cluster")
    func twoProcesses() throws {
        // A folder the server's user can reach (as root the server runs as postgres, through runuser).
        let dir = try TestDatabase.temporaryDirectory("embedded-cli")
        chmod(dir.path, 0o755)
        let clusterDir = dir.appendingPathComponent("cluster")
        // No database configured: the commands use the embedded cluster in RECRUIT_CLUSTER_DIR.
        let env = ["RECRUIT_CLUSTER_DIR": clusterDir.path]
        let unset = ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "DATABASE_URL", "PGSERVICE", "RECRUIT_SCHEMA"]
        defer {
            _ = try? RecruitCLI.run(["db", "stop", "--remove", "-q"], environment: env, unset: unset)
            try? FileManager.default.removeItem(at: dir)
        }
        // Created with an empty PGSERVICE and a stray PGDATA exported (as a shell may have them): the
        // cluster's own initdb, pg_ctl and psql must not see them.
        let first = try RecruitCLI.run(["db", "start", "--json", "--port", "54997"],
                                       environment: env.merging(["PGSERVICE": "", "PGDATA": "/nonexistent-recruit-pgdata"]) { $1 },
                                       unset: unset.filter { $0 != "PGSERVICE" })
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("creating the embedded PostgreSQL cluster"))
        let started = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])
        let data = try #require(started["data_directory"] as? String)
        let pid = try #require(Self.postmasterPID(data))
        #expect(kill(pid, 0) == 0)

        // The second process finds the server running and reuses it: no initdb, no start.
        let second = try RecruitCLI.run(["-v", "db", "status", "--json"], environment: env, unset: unset)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("embedded cluster already running"))
        #expect(!second.stderr.contains("creating the embedded") && !second.stderr.contains("starting the embedded"))
        let status = try #require(try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any])
        #expect(status["embedded_running"] as? Bool == true)
        #expect(status["embedded_data_directory"] as? String == data)
        #expect((status["migrations_pending"] as? [Any])?.isEmpty == true)
        #expect(Self.postmasterPID(data) == pid)

        // A third: migrate is a no-op on the same server.
        let third = try RecruitCLI.run(["db", "migrate"], environment: env, unset: unset)
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stdout.contains("up to date"))
        #expect(Self.postmasterPID(data) == pid)

        let stop = try RecruitCLI.run(["db", "stop", "--remove"], environment: env, unset: unset)
        #expect(stop.status == 0, "\(stop.stderr)")
        #expect(!FileManager.default.fileExists(atPath: data))
        #expect(!FileManager.default.fileExists(atPath: clusterDir.appendingPathComponent("cluster.json").path))
    }
}
