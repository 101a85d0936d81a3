import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Loaded-data fixtures for code-list tests: one load, its partitions, and
/// the practice pointing at it.
enum CodeListFixtures {
    /// Loads events and prescriptions (patient, code, system) for one practice and makes them current.
    @discardableResult
    static func load(_ db: Database, practice: String = "P001",
                     events: [(String, String, String)], prescriptions: [(String, String, String)] = []) throws -> Int {
        let c = db.connection
        let id = try #require(try c.query("""
            INSERT INTO loads (status, os_user, tool_version, profile_name, profile_sha256)
            VALUES ('loaded', 'test', 'test', 'canonical', 'x') RETURNING load_id
            """).first?.int("load_id"))
        try c.execute("SELECT create_load_partitions(\(id))")
        for (patient, code, system) in events {
            try c.execute("""
                INSERT INTO events (load_id, practice_id, patient_id, event_date, code, code_system)
                VALUES (\(id), \(practice), \(patient), DATE '2024-01-01', \(code), \(system))
                """)
        }
        for (patient, code, system) in prescriptions {
            try c.execute("""
                INSERT INTO prescriptions (load_id, practice_id, patient_id, issue_date, code, code_system)
                VALUES (\(id), \(practice), \(patient), DATE '2024-01-01', \(code), \(system))
                """)
        }
        try c.execute("INSERT INTO practice_snapshots (practice_id, load_id, extract_date) VALUES (\(practice), \(id), DATE '2024-06-30')")
        return id
    }

    static func folder(_ files: [String: String]) throws -> URL {
        let dir = try TestDatabase.temporaryDirectory("codelists")
        for (name, text) in files { try Data(text.utf8).write(to: dir.appendingPathComponent(name)) }
        return dir
    }
}

@Suite("Code-list versions in the database", .enabled(if: TestDatabase.isAvailable))
struct CodeListStoreTests {
    static let pain = "code,term,code_system\nN240.,Pain in arm,read2\nN245.,Leg pain,read2\n22253000,Pain,snomed\n"

    func count(_ db: Database, _ sql: SQL) throws -> Int { try db.connection.query(sql)[0].int("n") ?? -1 }

    @Test("store(): one immutable version with its expanded codes and terms, one audit entry; storing again is a no-op")
    func storeIsIdempotent() throws {
        let dir = try CodeListFixtures.folder(["pain.csv": Self.pain])
        try TestDatabase.withSchema { db in
            let list = try #require(try CodeListLibrary(directory: dir).resolve(names: ["pain"], connection: db.connection).first)
            let id = try list.store(on: db.connection)
            let version = try db.connection.query("SELECT name, version, sha256, expanded_sha256, manifest FROM codelist_versions WHERE codelist_version_id = \(id)")[0]
            #expect(version.string("name") == "pain" && version["version"] == nil)
            #expect(version.string("sha256") == list.sha256 && version.string("expanded_sha256") == list.expandedSHA256)
            let codes = try db.connection.query("SELECT code_system, code, term FROM codelist_codes WHERE codelist_version_id = \(id) ORDER BY code_system, code COLLATE \"C\"")
            #expect(codes.map { "\($0.string("code_system")) \($0.string("code")) \($0.string("term"))" } ==
                    ["read2 N240. Pain in arm", "read2 N245. Leg pain", "snomed 22253000 Pain"])
            // The stored set hashes to the recorded expanded hash.
            let stored = Set(codes.map { SystemCode(system: CodeSystem(rawValue: $0.string("code_system"))!, code: $0.string("code")) })
            #expect(ResolvedCodeList.expandedSHA256(of: stored) == version.string("expanded_sha256"))
            let audit = try db.connection.query("SELECT subjects, payload FROM audit_log WHERE action = 'codelist.version'")
            #expect(audit.count == 1)
            #expect(audit[0].string("subjects").contains("\"codelist_version_id\": \(id)"))
            #expect(audit[0].string("payload").contains(list.expandedSHA256))

            #expect(try list.store(on: db.connection) == id)
            #expect(try count(db, "SELECT count(*) AS n FROM codelist_versions") == 1)
            #expect(try count(db, "SELECT count(*) AS n FROM codelist_codes") == 3)
            #expect(try count(db, "SELECT count(*) AS n FROM audit_log WHERE action = 'codelist.version'") == 1)
        }
    }

    @Test("stored versions cannot be updated, deleted, truncated or added to; a changed file is a new version beside the old")
    func storeIsImmutable() throws {
        let dir = try CodeListFixtures.folder(["pain.csv": Self.pain])
        try TestDatabase.withSchema { db in
            let first = try #require(try CodeListLibrary(directory: dir).resolve(names: ["pain"]).first)
            let id = try first.store(on: db.connection)
            for statement: SQL in [
                "UPDATE codelist_versions SET version = 'x' WHERE codelist_version_id = \(id)",
                "DELETE FROM codelist_versions WHERE codelist_version_id = \(id)",
                "UPDATE codelist_codes SET term = 'x' WHERE codelist_version_id = \(id)",
                "DELETE FROM codelist_codes WHERE codelist_version_id = \(id)",
                "TRUNCATE codelist_codes",
                "TRUNCATE codelist_versions CASCADE",
                "INSERT INTO codelist_codes (codelist_version_id, code_system, code) VALUES (\(id), 'read2', 'N246.')",
            ] {
                let error = #expect(throws: PostgresError.self) { try db.connection.execute(statement) }
                #expect(error?.sqlState == "42501", "\(statement)")
            }
            #expect(try count(db, "SELECT count(*) AS n FROM codelist_codes WHERE codelist_version_id = \(id)") == 3)

            try Data((Self.pain + "N246.,Calf pain,read2\n").utf8).write(to: dir.appendingPathComponent("pain.csv"))
            let second = try #require(try CodeListLibrary(directory: dir).resolve(names: ["pain"]).first)
            let id2 = try second.store(on: db.connection)
            #expect(id2 != id)
            #expect(try count(db, "SELECT count(*) AS n FROM codelist_codes WHERE codelist_version_id = \(id)") == 3)
            #expect(try count(db, "SELECT count(*) AS n FROM codelist_codes WHERE codelist_version_id = \(id2)") == 4)
            #expect(try count(db, "SELECT count(*) AS n FROM audit_log WHERE action = 'codelist.version'") == 2)
        }
    }

    @Test("store() inside the caller's transaction commits or rolls back with it")
    func storeJoinsTransaction() throws {
        let dir = try CodeListFixtures.folder(["pain.csv": Self.pain])
        try TestDatabase.withSchema { db in
            let list = try #require(try CodeListLibrary(directory: dir).resolve(names: ["pain"]).first)
            struct Abort: Error {}
            #expect(throws: Abort.self) {
                try db.connection.transaction {
                    #expect(db.connection.isInTransaction)
                    try list.store(on: db.connection)
                    throw Abort()
                }
            }
            #expect(!db.connection.isInTransaction)
            #expect(try count(db, "SELECT count(*) AS n FROM codelist_versions") == 0)
            #expect(try count(db, "SELECT count(*) AS n FROM codelist_codes") == 0)
            #expect(try count(db, "SELECT count(*) AS n FROM audit_log") == 0)
            let id = try db.connection.transaction { try list.store(on: db.connection) }
            #expect(try count(db, "SELECT count(*) AS n FROM codelist_versions WHERE codelist_version_id = \(id)") == 1)
        }
    }

    @Test("resolve with a connection: a Read v2 include rule takes in descendants recorded in the loaded data, within Read v2 only")
    func expansionAgainstLoadedData() throws {
        let manifest = """
            format: 1
            lists:
              pain:
                systems:
                  read2:
                    source: {url: "https://example.org/pain"}
                    version: "7"
                    rules:
                      - include: N24..
                      - exclude: N24z.
                  snomed:
                    source: {url: "https://example.org/pain"}
                    version: "2"
            """
        let dir = try CodeListFixtures.folder(["pain.csv": Self.pain, "codelists.yaml": manifest])
        try TestDatabase.withSchema { db in
            try CodeListFixtures.load(db, events: [("p1", "N24A.", "read2"), ("p2", "N24B.", "ctv3"), ("p3", "N2500", "read2"),
                                                   ("p4", "N24z1", "read2")],
                                      prescriptions: [("p5", "N24Cx", "read2")])
            let library = try CodeListLibrary(directory: dir)
            let withData = try #require(try library.resolve(names: ["pain"], connection: db.connection).first)
            #expect(withData.codes(in: .read2) == ["N24..", "N240.", "N245.", "N24A.", "N24Cx"])
            #expect(withData.codes(in: .ctv3).isEmpty)
            #expect(withData.addedByRules == 3)
            #expect(withData.version == "read2 7; snomed 2")
            let filesOnly = try #require(try library.resolve(names: ["pain"]).first)
            #expect(filesOnly.codes(in: .read2) == ["N24..", "N240.", "N245."])
            #expect(filesOnly.expandedSHA256 != withData.expandedSHA256)
            #expect(filesOnly.sha256 == withData.sha256)
            // Each expansion is its own stored version of the same file.
            #expect(try withData.store(on: db.connection) != (try filesOnly.store(on: db.connection)))
        }
    }
}
