import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// A login role made for one test, member of one recruit group role, and a
/// connection to the test's schema as that login (over the test cluster's
/// socket). Dropped at the end.
struct RoleLogin {
    let name: String
    let database: Database

    /// Creates `t_<random>_<role>` LOGIN, grants it `role` and connects as it to `schema`.
    static func make(_ role: Roles.Role?, schema: String, owner: Database) throws -> RoleLogin {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(10).lowercased() + "_" + (role.map { "\($0)".replacingOccurrences(of: "recruit_", with: "") } ?? "nobody")
        try owner.connection.execute("CREATE ROLE \(identifier: name) LOGIN")
        if let role { try owner.connection.execute("GRANT \(identifier: role.name) TO \(identifier: name)") }
        let db = try Database.connect(conninfo: "user=\(name)", schema: schema, logger: TestDatabase.quietLogger)
        return RoleLogin(name: name, database: db)
    }

    var connection: Connection { database.connection }

    func drop(_ owner: Database) {
        database.close()
        _ = try? owner.connection.execute("DROP ROLE IF EXISTS \(identifier: name)")
    }

    /// The SQLSTATE a statement fails with (nil when it succeeds).
    @discardableResult
    func sqlState(_ sql: SQL) -> String? {
        do {
            try connection.execute(sql)
            return nil
        } catch let error as PostgresError {
            return error.sqlState ?? "?"
        } catch {
            return "?"
        }
    }
}

extension Roles.Role: CustomStringConvertible {
    public var description: String { rawValue }
}

/// Runs `body` with a migrated schema whose roles are applied, and one login per group role.
func withRoleLogins(_ body: (Database, [Roles.Role: RoleLogin]) throws -> Void) throws {
    try TestDatabase.withSchema { (owner: Database) throws in
        try Roles(database: owner).apply()
        var logins: [Roles.Role: RoleLogin] = [:]
        defer { for l in logins.values { l.drop(owner) } }
        for role in Roles.Role.allCases {
            logins[role] = try RoleLogin.make(role, schema: owner.schema, owner: owner)
        }
        try body(owner, logins)
    }
}

/// Seeds one loaded practice, one issued run with an invitation, yields and an outcome (as the owner).
func seedRunData(_ db: Database) throws -> (loadID: Int, runID: Int) {
    let c = db.connection
    let load = try c.query("""
        INSERT INTO loads (status, os_user, tool_version, profile_name, profile_sha256, extract_date)
        VALUES ('loaded', 'test', 'test', 'canonical', 'x', '2024-01-01') RETURNING load_id
        """)[0].int("load_id")!
    try c.execute("SELECT create_load_partitions(\(load))")
    try c.execute("INSERT INTO patients VALUES (\(load), 'P1', 'SECRET-PATIENT-1', 1970, NULL, 'F', '2000-01-01', NULL, NULL)")
    try c.execute("INSERT INTO practice_snapshots (practice_id, load_id, extract_date) VALUES ('P1', \(load), '2024-01-01')")
    try c.execute("INSERT INTO cohort_definitions VALUES ('abc', 'c', '1', 'text')")
    let run = try c.query("""
        INSERT INTO runs (cohort_name, cohort_version, cohort_sha256, index_date, status, history_as_of, os_user, tool_version)
        VALUES ('c', '1', 'abc', '2024-01-01', 'draft', now(), 'test', 'test') RETURNING run_id
        """)[0].int("run_id")!
    try c.execute("INSERT INTO run_practices (run_id, practice_id, load_id, extract_date) VALUES (\(run), 'P1', \(load), '2024-01-01')")
    try c.execute("INSERT INTO run_invitations (run_id, practice_id, patient_id) VALUES (\(run), 'P1', 'SECRET-PATIENT-1')")
    let yields: [(Int, Int)] = [(0, 1000), (1, 13), (2, 12), (3, 8), (4, 3), (5, 0)]
    for (step, remaining) in yields {
        for practice in ["P1", "__total__"] {
            try c.execute("""
                INSERT INTO run_yields (run_id, practice_id, step, criterion, label, remaining)
                VALUES (\(run), \(practice), \(step), \("c\(step)"), \("step \(step)"), \(remaining))
                """)
        }
    }
    // An issued run is frozen (sql/0011): filled as a draft, then issued.
    try c.execute("UPDATE runs SET status = 'issued', issued_at = now() WHERE run_id = \(run)")
    let imp = try c.query("""
        INSERT INTO contact_imports (kind, cohort_name, file_name, file_sha256, rows, os_user)
        VALUES ('feedback', 'c', 'f.csv', 'h', 1, 'test') RETURNING import_id
        """)[0].int("import_id")!
    try c.execute("""
        INSERT INTO contact_outcomes (import_id, cohort_name, practice_id, patient_id, run_id, outcome)
        VALUES (\(imp), 'c', 'P1', 'SECRET-PATIENT-1', \(run), 'invited')
        """)
    try AuditLog.append(on: c, action: "test.seed")
    return (load, run)
}

@Suite("Database roles", .enabled(if: TestDatabase.isAvailable))
struct RolesTests {
    @Test("db roles creates three NOLOGIN roles, is idempotent, and classifies every relation and definer function")
    func idempotent() throws {
        try TestDatabase.withSchema { (db: Database) throws in
            let first = try Roles(database: db).apply()
            let second = try Roles(database: db).apply()
            #expect(second.created.isEmpty)
            #expect(Set(second.existing) == Set(Roles.Role.allCases.map(\.name)))
            #expect(first.relations == second.relations)
            #expect(second.unclassified.isEmpty, "relations or SECURITY DEFINER functions missing from Roles.policy / Roles.functions: \(second.unclassified)")
            let roles = try db.connection.query("""
                SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls
                FROM pg_roles WHERE rolname LIKE 'recruit\\_%' ORDER BY rolname
                """)
            #expect(roles.map { $0.string("rolname") } == Roles.Role.allCases.map(\.name).sorted())
            for r in roles {
                #expect(r.bool("rolcanlogin") == false && r.bool("rolsuper") == false && r.bool("rolcreaterole") == false
                        && r.bool("rolcreatedb") == false && r.bool("rolbypassrls") == false)
            }
            // No role, and not PUBLIC, may create in the schema; no definer function is PUBLIC's.
            for role in Roles.Role.allCases.map(\.name) + ["public"] {
                let create = try db.connection.query("SELECT has_schema_privilege(\(role), \(db.schema), 'CREATE') AS may")
                #expect(create[0].bool("may") == false, "\(role) may CREATE in the schema")
            }
            let publicDefiners = try db.connection.query("""
                SELECT p.oid::regprocedure::text AS f FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = \(db.schema) AND p.prosecdef
                  AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0))
                """)
            #expect(publicDefiners.isEmpty, "SECURITY DEFINER functions PUBLIC may execute: \(publicDefiners.map { $0.string("f") })")
            // Every definer function pins its search_path (nobody can shadow what it calls).
            let unpinned = try db.connection.query("""
                SELECT p.oid::regprocedure::text AS f FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = \(db.schema) AND p.prosecdef
                  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%pg_temp')
                """)
            #expect(unpinned.isEmpty, "SECURITY DEFINER functions without search_path = schema, pg_temp: \(unpinned.map { $0.string("f") })")
        }
    }

    @Test("recruit_loader loads through the definer functions and reads no run, list, feedback or audit row")
    func loader() throws {
        try withRoleLogins { owner, logins in
            _ = try seedRunData(owner)
            let loader = logins[.loader]!
            let c = loader.connection
            // A load as the loader: record, table, COPY FREEZE in the creating transaction, index, attach, swap, audit.
            let load = try c.query("""
                INSERT INTO loads (os_user, tool_version, profile_name, profile_sha256) VALUES ('t', 't', 'p', 'x') RETURNING load_id
                """)[0].int("load_id")!
            try c.transaction {
                for kind in ["patients", "events", "prescriptions"] {
                    let table = try c.query("SELECT create_load_table(\(kind), \(load)) AS t")[0].string("t")
                    #expect(table == "\(kind)_l\(load)")
                    if kind == "patients" {
                        try c.copyIn("COPY \(identifier: table) FROM STDIN (FREEZE)") { w in
                            try w.write(Array("\(load)\tP2\tX1\t1980\t\\N\tM\t2001-01-01\t\\N\t\\N\n".utf8))
                        }
                    }
                    try c.execute("SELECT index_load_table(\(kind), \(load))")
                }
            }
            try c.execute("SELECT attach_load_tables(\(load))")
            try c.transaction {
                try c.execute("INSERT INTO practice_snapshots (practice_id, load_id, extract_date) VALUES ('P2', \(load), '2024-02-01')")
                try c.execute("UPDATE loads SET status = 'loaded' WHERE load_id = \(load)")
                try AuditLog.append(on: c, action: "load", subjects: ["load_id": .int(load)])
            }
            #expect(try c.query("SELECT count(*) AS n FROM current_patients WHERE practice_id = 'P2'")[0].int("n") == 1)
            // The definer functions take no SQL and check their arguments.
            #expect(loader.sqlState("SELECT create_load_table('patients; DROP TABLE audit_log', \(load))") == "22023")
            #expect(loader.sqlState("SELECT create_load_table('runs', \(load))") == "22023")
            #expect(loader.sqlState("SELECT create_load_table('events', \(load))") == "22023")  // no longer running
            #expect(loader.sqlState("SELECT drop_load_tables(ARRAY[\(load)]::bigint[])") == "55006")  // a current snapshot
            // No DDL of its own.
            #expect(loader.sqlState("CREATE TABLE x (a int)") == "42501")
            #expect(loader.sqlState("CREATE INDEX ON \(identifier: "patients_l\(load)") (patient_id)") == "42501")
            #expect(loader.sqlState("DROP TABLE \(identifier: "patients_l\(load)")") == "42501")
            #expect(loader.sqlState("ALTER TABLE patients DETACH PARTITION \(identifier: "patients_l\(load)")") == "42501")
            // Nothing of runs, lists, feedback, history or the audit trail.
            for table in ["runs", "run_invitations", "run_yields", "run_practices", "contact_outcomes", "history_invitations",
                          "contact_imports", "cohort_definitions", "audit_log", "research_run_yields"] {
                #expect(loader.sqlState("SELECT * FROM \(identifier: table) LIMIT 1") == "42501", "loader read \(table)")
            }
            #expect(loader.sqlState("INSERT INTO audit_log (entry_id) VALUES (1000)") == "42501")
        }
    }

    @Test("recruit load runs as a recruit_loader member: split events, a replacing load, the old tables dropped; a practice member is refused")
    func loaderCommand() throws {
        try withRoleLogins { owner, logins in
            let loader = logins[.loader]!
            let first = try ExtractFiles.make()
            defer { first.remove() }
            let second = try ExtractFiles.make(extractDate: "2026-11-30")
            defer { second.remove() }

            // A practice member may not load: refused by the server, nothing written.
            let before = try LoadTests.state(owner)
            let refused = try RecruitCLI.run(["load", first.path], schema: owner.schema,
                                             environment: ["PGUSER": logins[.practice]!.name])
            #expect(refused.status != 0)
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("permission denied"), "\(refused.stderr)")
            #expect(refused.stderr.contains("membership of recruit_loader"), "\(refused.stderr)")
            #expect(try LoadTests.state(owner) == before)

            let one = try RecruitCLI.run(["load", first.path], schema: owner.schema, environment: ["PGUSER": loader.name])
            #expect(one.status == 0, "\(one.allOutput)")
            let firstLoad = try LoadTests.lastLoad(owner)
            #expect(firstLoad.status == "loaded")
            // The events went in as two halves under a partitioned events_l<ID>, all owned by the schema's owner.
            let tables = try owner.connection.query("""
                SELECT c.relname, c.relkind::text AS kind, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
                WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname ~ \("_l\(firstLoad.id)(_[12])?$")
                ORDER BY 1
                """)
            #expect(tables.map { $0.string("relname") } == ["events_l\(firstLoad.id)", "events_l\(firstLoad.id)_1", "events_l\(firstLoad.id)_2",
                                                            "prescriptions_l\(firstLoad.id)", "patients_l\(firstLoad.id)"].sorted())
            #expect(tables.first { $0.string("relname") == "events_l\(firstLoad.id)" }?.string("kind") == "p")
            #expect(Set(tables.map { $0.string("owner") }) == [try owner.connection.query("SELECT current_user AS u")[0].string("u")])
            let loaded = try LoadTests.state(owner)
            #expect(loaded.contains("load=\(firstLoad.id)"))

            // A second load replaces the snapshots and drops the first load's tables, as the loader.
            let two = try RecruitCLI.run(["load", second.path], schema: owner.schema, environment: ["PGUSER": loader.name])
            #expect(two.status == 0, "\(two.allOutput)")
            let secondLoad = try LoadTests.lastLoad(owner)
            #expect(secondLoad.status == "loaded" && secondLoad.id > firstLoad.id)
            #expect(try LoadTests.tables(owner, load: firstLoad.id).isEmpty)
            #expect(try LoadTests.state(owner).contains("load=\(secondLoad.id)"))
            // The audit trail names the login that loaded.
            let users = try owner.connection.query("SELECT DISTINCT db_user FROM audit_log WHERE action = 'load'").map { $0.string("db_user") }
            #expect(users == [loader.name])
        }
    }

    @Test("recruit_practice runs and reads its lists but loads nothing and reads extracts only through current_* views")
    func practice() throws {
        try withRoleLogins { owner, logins in
            let (load, run) = try seedRunData(owner)
            let p = logins[.practice]!
            let c = p.connection
            #expect(try c.query("SELECT count(*) AS n FROM current_patients")[0].int("n") == 1)
            #expect(try c.query("SELECT count(*) AS n FROM run_invitations WHERE run_id = \(run)")[0].int("n") == 1)
            #expect(try c.query("SELECT count(*) AS n FROM audit_log")[0].int("n")! >= 1)
            try c.transaction {
                try c.execute("INSERT INTO cohort_definitions VALUES ('def', 'c', '2', 'text')")
                let r = try c.query("""
                    INSERT INTO runs (cohort_name, cohort_version, cohort_sha256, index_date, status, history_as_of, os_user, tool_version)
                    VALUES ('c', '2', 'def', '2024-01-01', 'draft', now(), 'u', 't') RETURNING run_id
                    """)[0].int("run_id")!
                try c.execute("INSERT INTO run_practices (run_id, practice_id, load_id, extract_date) VALUES (\(r), 'P1', \(load), '2024-01-01')")
                try c.execute("UPDATE runs SET status = 'issued', issued_at = now() WHERE run_id = \(r)")
                try AuditLog.append(on: c, action: "run.issue", subjects: ["run_id": .int(r)])
            }
            for table in ["patients", "events", "prescriptions", "patients_l\(load)", "load_rejects"] {
                #expect(p.sqlState("SELECT * FROM \(identifier: table) LIMIT 1") == "42501", "practice read \(table)")
            }
            #expect(p.sqlState("INSERT INTO loads (os_user, tool_version, profile_name, profile_sha256) VALUES ('t', 't', 'p', 'x')") == "42501")
            #expect(p.sqlState("UPDATE practice_snapshots SET load_id = load_id") == "42501")
            #expect(p.sqlState("SELECT create_load_partitions(999)") == "42501")
            #expect(p.sqlState("SELECT drop_load_tables(ARRAY[\(load)]::bigint[])") == "42501")
            #expect(p.sqlState("DELETE FROM run_invitations") == "42501")
            #expect(p.sqlState("CREATE TABLE x (a int)") == "42501")
        }
    }

    @Test("recruit_research reads only the suppressed aggregate view")
    func research() throws {
        try withRoleLogins { owner, logins in
            let (_, run) = try seedRunData(owner)
            let r = logins[.research]!
            let rows = try r.connection.query("SELECT step, remaining, remaining_suppressed FROM research_run_yields WHERE run_id = \(run) ORDER BY step")
            #expect(rows.map { $0["remaining"] } == ["1000", "15", "10", "10", nil, "0"])
            #expect(rows.map { $0.bool("remaining_suppressed") } == [false, false, false, false, true, false])
            let columns = try r.connection.query("SELECT * FROM research_run_yields").columns
            #expect(!columns.contains { $0.contains("patient") || $0 == "practice_id" })
            var relations = try owner.connection.query("""
                SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = \(owner.schema) AND c.relkind IN ('r', 'p', 'v', 'm')
                """).map { $0.string("relname") }
            relations.removeAll { $0 == "research_run_yields" || $0 == "schema_migrations" }
            #expect(!relations.isEmpty)
            for table in relations {
                #expect(r.sqlState("SELECT * FROM \(identifier: table) LIMIT 1") == "42501", "research read \(table)")
            }
            #expect(r.sqlState("SELECT create_load_table('patients', 1)") == "42501")
            try AuditLog.append(on: r.connection, action: "report.export")
        }
    }

    @Test("nobody may update, delete or truncate the audit trail, or insert into it but through audit_append", arguments: Roles.Role.allCases)
    func auditAppendOnly(role: Roles.Role) throws {
        try withRoleLogins { owner, logins in
            _ = try seedRunData(owner)
            let login = logins[role]!
            let id = try AuditLog.append(on: login.connection, action: "test.\(role)")
            let entry = try owner.connection.query("SELECT db_user FROM audit_log WHERE entry_id = \(id)")
            #expect(entry[0].string("db_user") == login.name, "the entry names the person who logged in")
            #expect(login.sqlState("UPDATE audit_log SET action = 'x'") == "42501")
            #expect(login.sqlState("DELETE FROM audit_log") == "42501")
            #expect(login.sqlState("TRUNCATE audit_log") == "42501")
            #expect(login.sqlState("INSERT INTO audit_log SELECT * FROM audit_log") == "42501")
            // Even the owner is refused by the triggers.
            #expect(throws: PostgresError.self) { try owner.connection.execute("DELETE FROM audit_log") }
            #expect(try owner.connection.query("SELECT count(*) AS n FROM audit_log")[0].int("n") == 2)
        }
    }

    @Test("a login in no recruit role may use nothing")
    func nobody() throws {
        try TestDatabase.withSchema { (owner: Database) throws in
            try Roles(database: owner).apply()
            let login = try RoleLogin.make(nil, schema: owner.schema, owner: owner)
            defer { login.drop(owner) }
            // Without USAGE on the schema its names do not even resolve; qualified, they are refused.
            #expect(login.sqlState("SELECT * FROM schema_migrations") == "42P01")
            #expect(login.sqlState("SELECT * FROM \(identifier: owner.schema).schema_migrations") == "42501")
            #expect(login.sqlState("SELECT \(identifier: owner.schema).audit_append('u', 'x', '{}', '{}')") == "42501")
        }
    }

    @Test("the command: db roles as the owner, refused as a member, and members can open the database")
    func command() throws {
        try TestDatabase.withSchema { (owner: Database) throws in
            let result = try RecruitCLI.run(["db", "roles", "--json"], schema: owner.schema)
            #expect(result.status == 0, "\(result.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            #expect((object?["unclassified"] as? [Any])?.isEmpty == true)
            #expect((object?["relations_granted"] as? Int ?? 0) > 20)
            let practice = try RoleLogin.make(.practice, schema: owner.schema, owner: owner)
            defer { practice.drop(owner) }
            let refused = try RecruitCLI.run(["db", "roles"], schema: owner.schema, environment: ["PGUSER": practice.name])
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("owner of schema"))
            let status = try RecruitCLI.run(["db", "status", "--json"], schema: owner.schema, environment: ["PGUSER": practice.name])
            #expect(status.status == 0, "\(status.stderr)")
            // A pending migration is refused for a non-owner, naming who must apply it.
            try owner.connection.execute("DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)")
            let error = #expect(throws: RecruitError.self) { try Migrator(database: practice.database).migrate() }
            #expect(error?.message.contains("does not own the schema") == true)
            #expect(error?.kind == .environment)
        }
    }
}
