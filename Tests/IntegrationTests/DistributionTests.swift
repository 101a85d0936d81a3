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

    /// What Citus requires of every table `db distribute` co-locates with the
    /// extract tables, checked on a plain node so that `make test` catches a
    /// migration that would break `make scale-test`: the distribution column's
    /// collation is the anchor's, and every unique key includes it.
    @Test("every table distributed by practice_id has the anchor's collation and unique keys that include practice_id")
    func colocationPreconditions() throws {
        try TestDatabase.withSchema { (db: Database) throws in
            let tables = Distribution.distributedTables + Distribution.distributedContactTables
            let collations = try db.connection.query("""
                SELECT c.relname, co.collname FROM pg_attribute a
                JOIN pg_class c ON c.oid = a.attrelid JOIN pg_collation co ON co.oid = a.attcollation
                WHERE c.relnamespace = \(db.schema)::regnamespace AND c.relname = ANY(\(tables)) AND a.attname = \(Distribution.distributionColumn)
                ORDER BY 1
                """)
            #expect(collations.map { $0.string("relname") } == tables.sorted())
            #expect(Set(collations.map { $0.string("collname") }) == ["C"], "\(collations.map { "\($0.string("relname")): \($0.string("collname"))" })")
            let keysWithout = try db.connection.query("""
                SELECT c.relname || '.' || i.relname AS k FROM pg_index x
                JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
                WHERE c.relnamespace = \(db.schema)::regnamespace AND c.relname = ANY(\(tables)) AND x.indisunique
                  AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = \(Distribution.distributionColumn)
                                    AND a.attnum = ANY(x.indkey::int2[]))
                ORDER BY 1
                """).map { $0.string("k") }
            #expect(keysWithout.isEmpty, "unique keys without practice_id: \(keysWithout)")
            // The contact tables are written to in the same transaction as the
            // reference tables their foreign keys point at: those are reference tables.
            let referenced = try db.connection.query("""
                SELECT DISTINCT f.relname FROM pg_constraint k
                JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class f ON f.oid = k.confrelid
                WHERE k.contype = 'f' AND c.relnamespace = \(db.schema)::regnamespace AND c.relname = ANY(\(Distribution.distributedContactTables))
                ORDER BY 1
                """).map { $0.string("relname") }
            #expect(!referenced.isEmpty)
            #expect(Set(referenced).isSubset(of: Set(Distribution.referenceTables)), "\(referenced)")
        }
    }

    @Test("--shard-count out of range is a usage error")
    func usage() throws {
        let result = try RecruitCLI.run(["db", "distribute", "--shard-count", "0"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--shard-count"), "\(result.stderr)")
    }
}
