import Foundation
import Postgres
import RecruitTestSupport
import Testing

@Suite("Postgres layer", .enabled(if: TestDatabase.isAvailable))
struct ConnectionTests {
    @Test("connects through the PG* environment")
    func connectsByEnvironment() throws {
        let c = try Connection()
        defer { c.close() }
        #expect(try c.query("SELECT 1 AS one")[0].int("one") == 1)
        #expect(c.serverVersion >= 120000)
    }

    @Test("connects by URI")
    func connectsByURI() throws {
        let env = ProcessInfo.processInfo.environment
        let host = env["PGHOST"] ?? "/tmp"
        let encodedHost = host.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? host
        let uri = "postgresql://\(env["PGUSER"] ?? "recruit")@/\(env["PGDATABASE"] ?? "recruit")?host=\(encodedHost)&port=\(env["PGPORT"] ?? "5432")"
        let c = try Connection(conninfo: uri)
        defer { c.close() }
        #expect(try c.query("SELECT current_database() AS db")[0].string("db") == (env["PGDATABASE"] ?? "recruit"))
    }

    @Test("a missing socket is a typed error naming the socket")
    func missingSocket() throws {
        let error = #expect(throws: PostgresError.self) {
            try Connection(conninfo: "host=/nonexistent/recruit-socket port=5999 dbname=x")
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("/nonexistent/recruit-socket") == true)
    }

    @Test("a refused TCP connection is a typed error naming the host")
    func refusedTCP() throws {
        // Nothing listens on port 1, so this is refused at connect.
        let error = #expect(throws: PostgresError.self) {
            try Connection(conninfo: "host=127.0.0.1 port=1 dbname=x user=nobody password=wrong connect_timeout=2")
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.description.contains("127.0.0.1") == true)
    }

    @Test("bound values round-trip verbatim", arguments: [
        "it's", "back\\slash", "\"quoted\"", "'); DROP TABLE x; --", "Ünïcødé ✓ 日本", "", "%_%", "line\nbreak",
    ])
    func roundTrip(value: String) throws {
        let c = try Connection()
        defer { c.close() }
        try c.execute("CREATE TEMP TABLE IF NOT EXISTS rt (v text)")
        try c.execute("INSERT INTO rt VALUES (\(value))")
        let back = try c.query("SELECT v FROM rt WHERE v = \(value)")
        #expect(back.count == 1)
        #expect(back[0]["v"] == value)
    }

    @Test("NULL, dates, integers, booleans and arrays bind with their types")
    func typedBinds() throws {
        let c = try Connection()
        defer { c.close() }
        let none: String? = nil
        let date = LocalDate(year: 2024, month: 2, day: 29)!
        let row = try c.query("""
            SELECT \(none)::text IS NULL AS isnull, \(date) + 1 AS nextday, \(Int(42)) * 2 AS n,
                   \(true) AS b, cardinality(\(["a", "b\"c", "d,e"])) AS len, (\(["a", "b\"c", "d,e"]))[2] AS second
            """)[0]
        #expect(row.bool("isnull") == true)
        #expect(row.date("nextday") == LocalDate(year: 2024, month: 3, day: 1))
        #expect(row.int("n") == 84)
        #expect(row.bool("b") == true)
        #expect(row.int("len") == 3)
        #expect(row["second"] == "b\"c")
    }

    @Test("identifiers are quoted by the connection")
    func identifiers() throws {
        let c = try Connection()
        defer { c.close() }
        let name = "we\"ird; DROP"
        try c.execute("CREATE TEMP TABLE \(identifier: name) (x int)")
        try c.execute("INSERT INTO \(identifier: name) VALUES (1)")
        #expect(try c.query("SELECT count(*) AS n FROM \(identifier: name)")[0].int("n") == 1)
    }

    @Test("a syntax error carries SQLSTATE 42601 and its position")
    func syntaxError() throws {
        let c = try Connection()
        defer { c.close() }
        let error = #expect(throws: PostgresError.self) { try c.query("SELECT FROM WHERE") }
        #expect(error?.sqlState == "42601")
        #expect(error?.position == 13)
        #expect(error?.statement == "SELECT FROM WHERE")
    }

    @Test("a unique violation carries SQLSTATE 23505 and keeps the key out of the description")
    func uniqueViolation() throws {
        let c = try Connection()
        defer { c.close() }
        try c.execute("CREATE TEMP TABLE u (id text PRIMARY KEY)")
        try c.execute("INSERT INTO u VALUES (\("PATIENT-SECRET-1"))")
        let error = #expect(throws: PostgresError.self) { try c.execute("INSERT INTO u VALUES (\("PATIENT-SECRET-1"))") }
        #expect(error?.sqlState == "23505")
        #expect(error?.detail?.contains("PATIENT-SECRET-1") == true)
        #expect(error?.description.contains("PATIENT-SECRET-1") == false)
    }

    struct Boom: Error {}

    @Test("a transaction rolls back when its body throws")
    func rollback() throws {
        let c = try Connection()
        defer { c.close() }
        try c.execute("CREATE TEMP TABLE tx (x int)")
        #expect(throws: Boom.self) {
            try c.transaction {
                try c.execute("INSERT INTO tx VALUES (1)")
                throw Boom()
            }
        }
        #expect(try c.query("SELECT count(*) AS n FROM tx")[0].int("n") == 0)
        try c.transaction { try c.execute("INSERT INTO tx VALUES (2)") }
        #expect(try c.query("SELECT count(*) AS n FROM tx")[0].int("n") == 1)
    }

    @Test("advisory locks exclude a second session")
    func advisoryLocks() throws {
        let a = try Connection(), b = try Connection()
        defer { a.close(); b.close() }
        let key = "test-lock-\(UUID())"
        #expect(try a.tryAdvisoryLock(key))
        #expect(try b.tryAdvisoryLock(key) == false)
        try a.advisoryUnlock(key)
        #expect(try b.tryAdvisoryLock(key))
        try b.advisoryUnlock(key)
    }
}

/// Password authentication against the test cluster. The cluster trusts local
/// connections, except from one role: scripts/with-test-cluster.sh puts
/// `local all recruit_pw_test scram-sha-256` before the trust lines of its
/// pg_hba.conf. Against another database (no such line) the test is skipped.
@Suite("Password authentication", .enabled(if: TestDatabase.isAvailable), .serialized)
struct PasswordTests {
    static let role = "recruit_pw_test"

    /// Whether the first local pg_hba.conf rule for the role asks for a SCRAM
    /// password, and the test connects through a socket (reading
    /// pg_hba_file_rules needs a superuser: elsewhere this is false).
    static var passwordRequired: Bool {
        guard ProcessInfo.processInfo.environment["PGHOST"]?.hasPrefix("/") == true, let c = try? Connection() else { return false }
        defer { c.close() }
        let rows = try? c.query("""
            SELECT auth_method FROM pg_hba_file_rules
            WHERE type = 'local' AND error IS NULL AND (user_name @> ARRAY[\(role)::text] OR user_name @> ARRAY['all'])
            ORDER BY line_number LIMIT 1
            """)
        return rows?.first?.string("auth_method") == "scram-sha-256"
    }

    /// The test database's connection string for `user` with `password`.
    static func conninfo(user: String, password: String) -> String {
        let env = ProcessInfo.processInfo.environment
        return "host=\(env["PGHOST"] ?? "") port=\(env["PGPORT"] ?? "5432") dbname=\(env["PGDATABASE"] ?? "recruit") " +
            "user=\(user) password=\(password)"
    }

    @Test("a wrong password is a typed error saying so, naming the socket and the user; the right one connects",
          .enabled("needs pg_hba.conf to ask recruit_pw_test for a password (scripts/with-test-cluster.sh adds the line)") { passwordRequired })
    func wrongPassword() throws {
        let admin = try Connection()
        defer {
            _ = try? admin.execute("DROP ROLE IF EXISTS \(identifier: Self.role)")
            admin.close()
        }
        try admin.execute("DROP ROLE IF EXISTS \(identifier: Self.role)")
        try admin.execute("CREATE ROLE \(identifier: Self.role) LOGIN")
        // ALTER ROLE takes no bound parameters: the password goes through format('%L') in SQL.
        try admin.execute("""
            CREATE FUNCTION pg_temp.recruit_set_password(p text) RETURNS void LANGUAGE plpgsql AS
            'BEGIN EXECUTE format(''ALTER ROLE recruit_pw_test PASSWORD %L'', p); END'
            """)
        let password = "right-\(UUID().uuidString.prefix(8))"
        try admin.execute("SELECT pg_temp.recruit_set_password(\(password))")

        let error = #expect(throws: PostgresError.self) {
            try Connection(conninfo: Self.conninfo(user: Self.role, password: "wrong"))
        }
        #expect(error?.code == .connectionFailed)
        let message = error?.message ?? ""
        #expect(message.contains("password authentication failed for user \"\(Self.role)\""), "\(message)")
        let socket = ProcessInfo.processInfo.environment["PGHOST"] ?? "?"
        #expect(message.contains(socket), "the message names the socket tried: \(message)")
        #expect(!message.contains("wrong"), "the message does not repeat the password")

        let c = try Connection(conninfo: Self.conninfo(user: Self.role, password: password))
        defer { c.close() }
        #expect(try c.query("SELECT current_user::text AS u")[0].string("u") == Self.role)
    }
}

@Suite("COPY streaming", .enabled(if: TestDatabase.isAvailable))
struct CopyTests {
    @Test("one million rows in chunks arrive complete")
    func millionRows() throws {
        let c = try Connection()
        defer { c.close() }
        try c.execute("CREATE TEMP TABLE big (i int, s text)")
        let n = 1_000_000
        var expectedSum = 0
        let copied = try c.copyIn("COPY big (i, s) FROM STDIN") { writer in
            var chunk = ""
            chunk.reserveCapacity(1 << 16)
            for i in 1...n {
                expectedSum += i
                chunk += "\(i)\tr\(i % 97)\n"
                if chunk.utf8.count > 60_000 { try writer.write(chunk); chunk.removeAll(keepingCapacity: true) }
            }
            try writer.write(chunk)
        }
        #expect(copied == n)
        let row = try c.query("SELECT count(*) AS n, sum(i) AS s, sum(length(s)) AS l FROM big")[0]
        #expect(row.int("n") == n)
        #expect(row.int("s") == expectedSum)
        let expectedLength = (1...n).reduce(0) { $0 + 1 + String($1 % 97).count }
        #expect(row.int("l") == expectedLength)
    }

    @Test("a malformed row reports the server's COPY error with its line; the table is unchanged")
    func malformedRow() throws {
        let c = try Connection()
        defer { c.close() }
        try c.execute("CREATE TEMP TABLE cp (i int, d date)")
        try c.execute("INSERT INTO cp VALUES (0, '2020-01-01')")
        let error = #expect(throws: PostgresError.self) {
            try c.copyIn("COPY cp FROM STDIN") { w in
                try w.write("1\t2020-01-02\n2\t2020-01-03\n3\tnot-a-date\n4\t2020-01-05\n")
            }
        }
        #expect(error?.code == .copyFailed)
        #expect(error?.sqlState == "22007")
        #expect(error?.copyLine == 3)
        #expect(try c.query("SELECT count(*) AS n FROM cp")[0].int("n") == 1)
        // The connection is usable afterwards.
        #expect(try c.query("SELECT 1 AS x")[0].int("x") == 1)
    }

    struct Stop: Error {}

    @Test("a COPY aborted by the caller keeps nothing and rethrows")
    func abortedCopy() throws {
        let c = try Connection()
        defer { c.close() }
        try c.execute("CREATE TEMP TABLE ab (i int)")
        #expect(throws: Stop.self) {
            try c.copyIn("COPY ab FROM STDIN") { w in
                try w.write("1\n2\n")
                try w.flush()
                throw Stop()
            }
        }
        #expect(try c.query("SELECT count(*) AS n FROM ab")[0].int("n") == 0)
    }

    @Test("COPY TO STDOUT streams every row")
    func copyOut() throws {
        let c = try Connection()
        defer { c.close() }
        var bytes = 0, rows = 0
        let n = try c.copyOut("COPY (SELECT g, 'x' FROM generate_series(1, 5000) g) TO STDOUT") { chunk in
            bytes += chunk.count
            rows += 1
        }
        #expect(n == 5000)
        #expect(rows == 5000)
        #expect(bytes > 5000 * 3)
    }
}
