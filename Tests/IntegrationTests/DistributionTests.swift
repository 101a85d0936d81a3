import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// `recruit db distribute` on a server without Citus (the normal test cluster):
/// a clear error, exit 2, and nothing changed. The distributed layout itself is
/// exercised by `make scale-test` on a real Citus cluster (scripts/scale-test.sh).
@Suite("Distribution without Citus", .enabled(if: TestDatabase.isAvailable))
struct DistributionTests {
    /// Everything in the schema that distributing would change: its relations
    /// and their kinds, the functions, and the applied migrations.
    static func fingerprint(_ db: Database) throws -> [String] {
        let relations = try db.connection.query("""
            SELECT c.relname || ':' || c.relkind::text AS r FROM pg_class c
            WHERE c.relnamespace = \(db.schema)::regnamespace ORDER BY 1
            """).map { $0.string("r") }
        let functions = try db.connection.query("""
            SELECT p.proname || '/' || md5(p.prosrc) AS f FROM pg_proc p
            WHERE p.pronamespace = \(db.schema)::regnamespace ORDER BY 1
            """).map { $0.string("f") }
        let migrations = try db.connection.query("SELECT name FROM schema_migrations ORDER BY version").map { $0.string("name") }
        return relations + functions + migrations
    }

    @Test("the library refuses with the facts, and changes nothing")
    func libraryRefuses() throws {
        try TestDatabase.withSchema { (db: Database) throws in
            let before = try Self.fingerprint(db)
            #expect(try Distribution.isDistributed(db.connection) == false)
            do {
                try Distribution(database: db, logger: TestDatabase.quietLogger).distribute()
                Issue.record("distribute succeeded on a server without the Citus extension")
            } catch let error as Distribution.Unavailable {
                // Not installed at all, or (a machine where scripts/citus.sh ran) installed but not created here.
                switch error.reason {
                case .extensionNotInstalled, .extensionNotCreated: break
                default: Issue.record("unexpected reason \(error.reason)")
                }
                #expect(error.server == db.connection.target)
            }
            #expect(try Self.fingerprint(db) == before)
            #expect(try Distribution.isDistributed(db.connection) == false)
        }
    }

    @Test("recruit db distribute: exit 2, a message naming the cause, nothing changed")
    func commandLineRefuses() throws {
        try TestDatabase.withSchema { (db: Database) throws in
            let before = try Self.fingerprint(db)
            let result = try RecruitCLI.run(["db", "distribute"], schema: db.schema)
            #expect(result.status == 2, "\(result.allOutput)")
            #expect(result.stdout.isEmpty)
            #expect(result.stderr.hasPrefix("recruit: cannot distribute the schema: "), "\(result.stderr)")
            #expect(result.stderr.contains("Citus"), "\(result.stderr)")
            #expect(result.stderr.contains("nothing was changed"), "\(result.stderr)")
            #expect(try Self.fingerprint(db) == before)
        }
    }

    @Test("on an unmigrated schema it asks for db migrate first, and creates nothing")
    func pendingMigrations() throws {
        try TestDatabase.withSchema(migrate: false) { (db: Database) throws in
            let result = try RecruitCLI.run(["db", "distribute", "--shard-count", "8"], schema: db.schema)
            #expect(result.status == 2, "\(result.allOutput)")
            #expect(result.stderr.contains("run 'recruit db migrate' first"), "\(result.stderr)")
            let tables = try db.connection.query("""
                SELECT count(*)::int8 AS n FROM pg_class WHERE relnamespace = \(db.schema)::regnamespace AND relname NOT IN ('schema_migrations', 'schema_migrations_pkey')
                """)[0].int("n")
            #expect(tables == 0)
        }
    }

    @Test("--shard-count out of range is a usage error")
    func usage() throws {
        let result = try RecruitCLI.run(["db", "distribute", "--shard-count", "0"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--shard-count"), "\(result.stderr)")
    }
}
