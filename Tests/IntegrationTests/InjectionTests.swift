import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Names that would break SQL spliced as text: quotes, semicolons, backslashes,
/// `%` and `_` (LIKE patterns), newlines, comment and dollar-quote markers,
/// and non-ASCII. Each holds the marker `ZQX`, looked for in every statement sent.
enum Hostile {
    static let marker = "ZQX"
    static let names: [String] = [
        "qu'ote ZQX",
        "semi;colon ZQX",
        #"back\slash ZQX\"#,
        "per%cent_ ZQX%",
        "new\nline ZQX\r",
        "ünïcødé ☃ ZQX ✓",
        #"dq"uote ZQX"#,
        "ZQX'); DROP TABLE audit_log; --",
        "$$ ZQX $q$",
        "ZQX */ /* -- ",
    ]

    /// Checks that `marker` occurs in no statement but inside quoted identifiers.
    static func expectOnlyBoundOrQuoted(_ log: StatementLog, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let statements = log.statements
        #expect(!statements.isEmpty, "no statement was recorded", sourceLocation: sourceLocation)
        let spliced = SQLText.spliced(marker, in: statements)
        #expect(spliced.isEmpty, "a name reached SQL text outside a quoted identifier:\n\(spliced.prefix(3).joined(separator: "\n---\n"))",
                sourceLocation: sourceLocation)
    }
}

@Suite("SQL text scanner")
struct SQLTextTests {
    @Test("tells quoted identifiers from literals, comments, dollar quotes and code")
    func contexts() {
        #expect(SQLText.occurrences(of: "ZQX", in: #"SELECT * FROM "a ZQX""b" WHERE x = $1"#) == [.quotedIdentifier])
        #expect(SQLText.occurrences(of: "ZQX", in: "SELECT 'ZQX'") == [.stringLiteral])
        #expect(SQLText.occurrences(of: "ZQX", in: "SELECT 'it''s', ZQX") == [.code])
        #expect(SQLText.occurrences(of: "ZQX", in: "SELECT E'\\' ZQX'") == [.stringLiteral])
        #expect(SQLText.occurrences(of: "ZQX", in: "SELECT 1 -- ZQX\n") == [.comment])
        #expect(SQLText.occurrences(of: "ZQX", in: "SELECT /* a /* ZQX */ */ 1") == [.comment])
        #expect(SQLText.occurrences(of: "ZQX", in: "DO $f$ ZQX $f$") == [.dollarQuoted])
        #expect(SQLText.occurrences(of: "ZQX", in: "SELECT $1, ZQX") == [.code])
        // Half inside an identifier is not inside it.
        #expect(SQLText.occurrences(of: "ZQX", in: #"SELECT "a"ZQX"#) == [.code])
        #expect(SQLText.spliced("ZQX", in: [#"SELECT "ZQX""#, "SELECT $1"]).isEmpty)
    }
}

@Suite("Injection: hostile names reach the database only as bound values or quoted identifiers",
       .enabled(if: TestDatabase.isAvailable))
struct InjectionTests {
    @Test("the libpq layer: values bound, identifiers quoted, both round-trip exactly", arguments: Hostile.names)
    func sqlLayer(name: String) throws {
        try TestDatabase.withSchema(migrate: false) { (db: Database) throws in
            let log = StatementLog()
            let c = db.connection
            c.statementObserver = log.record
            try c.execute("CREATE TABLE \(identifier: name) (\(identifier: name) text, n int)")
            try c.execute("INSERT INTO \(identifier: name) VALUES (\(name), 1)")
            let row = try c.query("SELECT \(identifier: name) AS v FROM \(identifier: name) WHERE \(identifier: name) = \(name) AND position(\(name) in \(identifier: name)) = 1")
            #expect(row.map { $0.string("v") } == [name])
            c.statementObserver = nil
            Hostile.expectOnlyBoundOrQuoted(log)
        }
    }

    @Test("a hostile schema name: db migrate, roles and status work in it, and it never reaches SQL text unquoted", arguments: Hostile.names)
    func schemaName(name: String) throws {
        let schema = "h" + UUID().uuidString.prefix(6).lowercased() + " " + name
        let owner = try TestDatabase.connect()
        defer {
            _ = try? owner.execute("DROP SCHEMA IF EXISTS \(identifier: schema) CASCADE")
            owner.close()
        }
        let log = StatementLog()
        for command in [["db", "migrate", "--json"], ["db", "roles", "--json"], ["db", "status", "--json"]] {
            let result = try RecruitCLI.run(command, schema: schema, environment: log.environment)
            #expect(result.status == 0, "\(command): \(result.stderr)")
        }
        let found = try owner.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname = \(schema)")
        #expect(found[0].int("n") == 1)
        let migrations = try owner.query("SELECT count(*) AS n FROM \(identifier: schema).schema_migrations")
        #expect((migrations[0].int("n") ?? 0) >= 5)
        // The definer functions pin the hostile schema, quoted.
        let config = try owner.query("""
            SELECT p.proconfig::text AS c FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = \(schema) AND p.proname = 'audit_append'
            """)
        #expect(config.first?.string("c").contains("ZQX") == true)
        // The name did travel in SQL text (as quoted identifiers), so the check below is not vacuous.
        #expect(log.statements.contains { $0.contains(Hostile.marker) })
        Hostile.expectOnlyBoundOrQuoted(log)
    }

    @Test("code lists with hostile names are stored under exactly their names", arguments: Hostile.names)
    func codeListName(name: String) throws {
        let dir = try TestDatabase.temporaryDirectory("codelists")
        defer { try? FileManager.default.removeItem(at: dir) }
        guard CodeListLibrary.isValidName(name) else {
            // A name that cannot name a file (a slash) is refused, named, before anything is read.
            let error = #expect(throws: RecruitError.self) { try CodeListLibrary(directory: dir).file(name) }
            #expect(error?.message.contains("not a valid code-list name") == true)
            return
        }
        let term = CodeListFile.csvField("Leg pain \(name)")
        try Data("code,term,code_system\nN245.,\(term),read2\n".utf8).write(to: dir.appendingPathComponent("\(name).csv"))
        try TestDatabase.withSchema { (db: Database) throws in
            let log = StatementLog()
            db.connection.statementObserver = log.record
            let list = try #require(try CodeListLibrary(directory: dir).resolve(names: [name], connection: db.connection).first)
            let id = try list.store(on: db.connection)
            db.connection.statementObserver = nil
            let stored = try db.connection.query("SELECT name FROM codelist_versions WHERE codelist_version_id = \(id)")
            #expect(stored.map { $0.string("name") } == [name])
            let term = try db.connection.query("SELECT term FROM codelist_codes WHERE codelist_version_id = \(id)")
            #expect(term.map { $0.string("term") } == ["Leg pain \(name)"])
            Hostile.expectOnlyBoundOrQuoted(log)
        }
    }

    @Test("audit entries carry hostile text exactly, and the chain stays valid")
    func auditText() throws {
        try TestDatabase.withSchema { (db: Database) throws in
            let log = StatementLog()
            db.connection.statementObserver = log.record
            for name in Hostile.names {
                try AuditLog.append(on: db.connection, action: "test.\(name)", subjects: ["name": .string(name)], payload: ["text": .string(name)])
            }
            db.connection.statementObserver = nil
            let rows = try db.connection.query("SELECT action, subjects->>'name' AS s, payload->>'text' AS p FROM audit_log ORDER BY entry_id")
            #expect(rows.map { $0.string("action") } == Hostile.names.map { "test.\($0)" })
            #expect(rows.map { $0.string("s") } == Hostile.names)
            #expect(rows.map { $0.string("p") } == Hostile.names)
            let broken = try db.connection.query("""
                SELECT count(*) AS n FROM audit_log a LEFT JOIN audit_log p ON p.entry_id = a.entry_id - 1
                WHERE a.prev_hash <> coalesce(p.entry_hash, repeat('0', 64))
                   OR a.entry_hash <> encode(sha256(convert_to(a.prev_hash || a.entry_text, 'UTF8')), 'hex')
                """)
            #expect(broken[0].int("n") == 0)
            Hostile.expectOnlyBoundOrQuoted(log)
        }
    }
}
