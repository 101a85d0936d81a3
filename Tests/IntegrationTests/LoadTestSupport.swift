import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Helpers shared by the loader's test suites.
enum LoadTests {
    /// Runs `recruit load DIR ARGS` against the test's schema.
    static func load(_ fixture: ExtractFiles, _ db: Database, _ extra: [String] = []) throws -> RecruitCLI.Result {
        try RecruitCLI.run(["load", fixture.path] + extra, schema: db.schema)
    }

    static func load(path: String, _ db: Database, _ extra: [String] = []) throws -> RecruitCLI.Result {
        try RecruitCLI.run(["load", path] + extra, schema: db.schema)
    }

    /// Everything a reader sees, as one comparable text: each practice's
    /// snapshot pointer and an md5 of its rows in each current_* view.
    static func state(_ db: Database) throws -> String {
        let rows = try db.connection.query("""
            SELECT s.practice_id, s.load_id, s.extract_date::text AS d,
              (SELECT count(*) || ':' || coalesce(md5(string_agg(p::text, '|' ORDER BY p::text)), '') FROM current_patients p WHERE p.practice_id = s.practice_id) AS p,
              (SELECT count(*) || ':' || coalesce(md5(string_agg(e::text, '|' ORDER BY e::text)), '') FROM current_events e WHERE e.practice_id = s.practice_id) AS e,
              (SELECT count(*) || ':' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '') FROM current_prescriptions r WHERE r.practice_id = s.practice_id) AS r
            FROM practice_snapshots s ORDER BY s.practice_id
            """)
        return rows.map { "\($0.string("practice_id")) load=\($0.string("load_id")) \($0.string("d")) p=\($0.string("p")) e=\($0.string("e")) r=\($0.string("r"))" }
            .joined(separator: "\n")
    }

    /// Rows per practice in the current views: [practice: [patients, events, prescriptions]].
    static func counts(_ db: Database) throws -> [String: [Int]] {
        let rows = try db.connection.query("""
            SELECT s.practice_id,
              (SELECT count(*) FROM current_patients p WHERE p.practice_id = s.practice_id) AS p,
              (SELECT count(*) FROM current_events e WHERE e.practice_id = s.practice_id) AS e,
              (SELECT count(*) FROM current_prescriptions r WHERE r.practice_id = s.practice_id) AS r
            FROM practice_snapshots s
            """)
        var out: [String: [Int]] = [:]
        for r in rows { out[r.string("practice_id")] = [r.int("p") ?? -1, r.int("e") ?? -1, r.int("r") ?? -1] }
        return out
    }

    /// The last load's id and status.
    static func lastLoad(_ db: Database) throws -> (id: Int, status: String, reason: String) {
        let r = try db.connection.query("SELECT load_id, status, coalesce(reason, '') AS reason FROM loads ORDER BY load_id DESC LIMIT 1")[0]
        return (r.int("load_id")!, r.string("status"), r.string("reason"))
    }

    static func rejects(_ db: Database, load: Int) throws -> [(file: String, line: Int, raw: String, reason: String)] {
        try db.connection.query("SELECT file, line, raw, reason FROM load_rejects WHERE load_id = \(load) ORDER BY file, line")
            .map { ($0.string("file"), $0.int("line")!, $0.string("raw"), $0.string("reason")) }
    }

    /// The load's tables that exist (committed), attached or not.
    static func tables(_ db: Database, load: Int) throws -> [String] {
        try db.connection.query("""
            SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND relname ~ \("_l\(load)(_[0-9]+)?$") ORDER BY 1
            """).map { $0.string("relname") }
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    /// Whether any table of the schema (audit log included) holds `needle` anywhere in a row.
    static func anyTableContains(_ db: Database, _ needle: String) throws -> [String] {
        let tables = try db.connection.query("""
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
            """).map { $0.string("relname") }
        var found: [String] = []
        for t in tables {
            let n = try db.connection.query("SELECT count(*) AS n FROM \(identifier: t) x WHERE x::text LIKE \("%" + needle + "%")")[0].int("n") ?? 0
            if n > 0 { found.append(t) }
        }
        return found
    }
}
