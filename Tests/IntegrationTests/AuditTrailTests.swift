import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// The audit trail: the hash chain, tampering found and pinpointed, append-only
/// enforced by the database, exports verified offline, concurrent appends.
@Suite("Audit trail", .enabled(if: TestDatabase.isAvailable))
struct AuditTrailTests {
    static func trail(_ db: Database) -> AuditTrail { AuditTrail(database: db, logger: TestDatabase.quietLogger) }

    /// Appends `n` entries with varied subjects and payloads (non-ASCII included).
    static func appendEntries(_ db: Database, _ n: Int) throws {
        for i in 1...n {
            try AuditLog.append(on: db.connection, action: i % 2 == 0 ? "run.issue" : "load",
                                subjects: i % 2 == 0 ? ["run_id": .int(i)] : ["load_id": .int(i)],
                                payload: ["i": .int(i), "note": "café ✓ \"quoted\"\nline", "ratio": .double(0.25), "list": [1, "x", nil]])
        }
    }

    /// Runs `sql` with the audit table's triggers disabled, as a superuser or the owner could.
    static func tamper(_ db: Database, _ sql: SQL) throws {
        try db.connection.transaction {
            try db.connection.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
            try db.connection.execute(sql)
            try db.connection.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
        }
    }

    @Test("an intact chain verifies, counting every entry")
    func verifies() throws {
        try TestDatabase.withSchema { db in
            #expect(try Self.trail(db).verify().ok)  // empty
            try Self.appendEntries(db, 12)
            let result = try Self.trail(db).verify()
            #expect(result.ok)
            #expect(result.entries == 12)
            #expect(result.verified == 12)
            #expect(result.headEntryId == 12)
            let head = try db.connection.query("SELECT entry_hash FROM audit_log WHERE entry_id = 12")[0].string("entry_hash")
            #expect(result.headHash == head)
            // The chain formula is the documented one, computed independently here.
            let first = try db.connection.query("SELECT prev_hash, entry_hash, entry_text FROM audit_log WHERE entry_id = 1")[0]
            #expect(first.string("prev_hash") == String(repeating: "0", count: 64))
            #expect(Hashing.sha256Hex(first.string("prev_hash") + first.string("entry_text")) == first.string("entry_hash"))
        }
    }

    /// A tampering, what verify must name, and at which entry.
    struct Tampering: Sendable, CustomStringConvertible {
        var name: String
        var sql: String
        var entry: Int
        var kind: AuditVerification.Kind
        var message: String
        var description: String { name }
    }

    static let tamperings: [Tampering] = [
        Tampering(name: "payload column altered", sql: "UPDATE audit_log SET payload = '{\"i\": 99}' WHERE entry_id = 5",
                  entry: 5, kind: .columnsDisagree, message: "column payload differs from entry_text"),
        Tampering(name: "action and os_user altered", sql: "UPDATE audit_log SET action = 'nothing', os_user = 'someone' WHERE entry_id = 4",
                  entry: 4, kind: .columnsDisagree, message: "columns os_user, action differ from entry_text"),
        Tampering(name: "recorded_at moved", sql: "UPDATE audit_log SET recorded_at = recorded_at - interval '1 day' WHERE entry_id = 6",
                  entry: 6, kind: .columnsDisagree, message: "recorded_at"),
        Tampering(name: "entry_text altered", sql: "UPDATE audit_log SET entry_text = replace(entry_text, '\"i\": 7', '\"i\": 8') WHERE entry_id = 7",
                  entry: 7, kind: .hashMismatch, message: "entry_hash is not sha256(prev_hash || entry_text)"),
        Tampering(name: "entry altered and re-hashed", sql: """
                  UPDATE audit_log a SET entry_text = n.t, payload = n.t::jsonb -> 'payload',
                    entry_hash = encode(sha256(convert_to(a.prev_hash || n.t, 'UTF8')), 'hex')
                  FROM (SELECT replace(entry_text, '"payload": {', '"payload": {"x": 1, ') AS t FROM audit_log WHERE entry_id = 3) n
                  WHERE a.entry_id = 3
                  """, entry: 4, kind: .prevHashMismatch, message: "prev_hash is not the entry_hash of entry 3"),
        Tampering(name: "entry deleted", sql: "DELETE FROM audit_log WHERE entry_id = 8",
                  entry: 9, kind: .gap, message: "entry 8 is missing"),
        Tampering(name: "first entries deleted", sql: "DELETE FROM audit_log WHERE entry_id <= 2",
                  entry: 3, kind: .gap, message: "entries 1 to 2 are missing"),
        Tampering(name: "entry_text not JSON", sql: "UPDATE audit_log SET entry_text = 'gone' WHERE entry_id = 2",
                  entry: 2, kind: .entryTextInvalid, message: "entry_text is not a JSON object"),
        Tampering(name: "prev_hash altered", sql: "UPDATE audit_log SET prev_hash = repeat('f', 64) WHERE entry_id = 10",
                  entry: 10, kind: .prevHashMismatch, message: "prev_hash is not the entry_hash of entry 9"),
    ]

    @Test("a row altered directly, with the triggers disabled, is pinpointed", arguments: tamperings)
    func pinpointed(_ t: Tampering) throws {
        try TestDatabase.withSchema { db in
            try Self.appendEntries(db, 12)
            try Self.tamper(db, SQL(unsafeSQL: t.sql))
            let result = try Self.trail(db).verify()
            #expect(!result.ok)
            let first = try #require(result.firstProblem)
            #expect(first.entryId == t.entry)
            #expect(first.kinds.contains(t.kind), "kinds \(first.kinds)")
            #expect(first.message.contains(t.message), "message: \(first.message)")
            #expect(result.verified < t.entry)
            // One tampering, one broken entry: no cascade down the chain.
            #expect(result.problemCount == 1, "problems: \(result.problems)")
        }
    }

    @Test("a chain rewritten after an export, or truncated, is caught against that export (--anchor)")
    func anchor() throws {
        try TestDatabase.withSchema { db in
            try Self.appendEntries(db, 6)
            let dir = try TestDatabase.temporaryDirectory("audit")
            let anchor = dir.appendingPathComponent("anchor.jsonl")
            _ = try Self.trail(db).export(to: anchor)  // entries 1-6, then the export's entry 7
            #expect(try Self.trail(db).verify(anchor: anchor).ok)
            // Delete the tail (undetectable from the chain alone), then rewrite entry 5 and re-hash from there.
            try Self.tamper(db, "DELETE FROM audit_log WHERE entry_id = 6 OR entry_id = 7")
            #expect(try Self.trail(db).verify().ok)
            let truncated = try Self.trail(db).verify(anchor: anchor)
            #expect(truncated.firstProblem?.kinds == [.missingFromChain])
            #expect(truncated.firstProblem?.entryId == 6)
            try Self.tamper(db, """
                UPDATE audit_log SET entry_text = replace(entry_text, '"i": 5', '"i": 50'), payload = '{"i": 50}'
                WHERE entry_id = 5
                """)
            try Self.tamper(db, """
                UPDATE audit_log SET entry_hash = encode(sha256(convert_to(prev_hash || entry_text, 'UTF8')), 'hex') WHERE entry_id = 5
                """)
            let rewritten = try Self.trail(db).verify(anchor: anchor)
            #expect(rewritten.firstProblem?.entryId == 5)
            #expect(rewritten.firstProblem?.kinds.contains(.anchorMismatch) == true)
        }
    }

    @Test("UPDATE, DELETE and TRUNCATE are refused by the database, for the owner too")
    func appendOnly() throws {
        try TestDatabase.withSchema { db in
            try Self.appendEntries(db, 3)
            for statement: SQL in ["UPDATE audit_log SET action = 'x' WHERE entry_id = 1", "DELETE FROM audit_log WHERE entry_id = 3",
                                   "TRUNCATE audit_log"] {
                let error = #expect(throws: PostgresError.self) { try db.connection.execute(statement) }
                #expect(error?.sqlState == "42501")
                #expect(error?.message.contains("audit_log is append-only") == true)
            }
            #expect(try RunFixtures.count(db, "SELECT count(*) AS n FROM audit_log") == 3)
            #expect(try Self.trail(db).verify().ok)
        }
    }

    @Test("a row inserted directly must extend the chain correctly, or is refused")
    func forgedInsert() throws {
        try TestDatabase.withSchema { db in
            try Self.appendEntries(db, 2)
            let forged: [SQL] = [
                // Skips an id.
                """
                INSERT INTO audit_log (entry_id, recorded_at, os_user, action, prev_hash, entry_hash, entry_text)
                SELECT 4, recorded_at, os_user, action, entry_hash, entry_hash, entry_text FROM audit_log WHERE entry_id = 2
                """,
                // Right id and prev_hash, wrong entry_hash.
                """
                INSERT INTO audit_log (entry_id, recorded_at, os_user, action, prev_hash, entry_hash, entry_text)
                SELECT 3, recorded_at, os_user, action, entry_hash, repeat('a', 64), '{}' FROM audit_log WHERE entry_id = 2
                """,
                // Hash right, but columns that disagree with entry_text.
                """
                INSERT INTO audit_log (entry_id, recorded_at, os_user, action, prev_hash, entry_hash, entry_text)
                SELECT 3, recorded_at, os_user, 'other', entry_hash, encode(sha256(convert_to(entry_hash || '{}', 'UTF8')), 'hex'), '{}'
                FROM audit_log WHERE entry_id = 2
                """,
            ]
            for statement in forged {
                let error = #expect(throws: PostgresError.self) { try db.connection.execute(statement) }
                #expect(error?.sqlState == "23000")
            }
            #expect(try RunFixtures.count(db, "SELECT count(*) AS n FROM audit_log") == 2)
        }
    }

    @Test("concurrent appends from several connections keep one valid chain")
    func concurrentAppends() throws {
        try TestDatabase.withSchema { db in
            let schema = db.schema
            let writers = 6, perWriter = 25
            let failures = Failures()
            let group = DispatchGroup()
            for w in 0..<writers {
                group.enter()
                Thread {
                    defer { group.leave() }
                    do {
                        let mine = try Database.connect(conninfo: TestDatabase.conninfo, schema: schema, logger: TestDatabase.quietLogger)
                        defer { mine.close() }
                        for i in 0..<perWriter {
                            if i % 3 == 0 {
                                // Work and an append in one transaction, the append last.
                                try mine.connection.transaction {
                                    try mine.connection.execute("SELECT pg_sleep(0.002)")
                                    try AuditLog.append(on: mine.connection, action: "test.concurrent", subjects: ["writer": .int(w)], payload: ["i": .int(i)])
                                }
                            } else {
                                try AuditLog.append(on: mine.connection, action: "test.concurrent", subjects: ["writer": .int(w)], payload: ["i": .int(i)])
                            }
                        }
                    } catch {
                        failures.add("\(error)")
                    }
                }.start()
            }
            group.wait()
            #expect(failures.all.isEmpty, "\(failures.all)")
            let result = try Self.trail(db).verify()
            #expect(result.ok, "\(result.problems)")
            #expect(result.entries == writers * perWriter)
            #expect(try RunFixtures.count(db, "SELECT max(entry_id) AS n FROM audit_log") == writers * perWriter)
        }
    }

    @Test("an append from a transaction whose snapshot predates the last entry is refused, not forked")
    func staleSnapshot() throws {
        try TestDatabase.withSchema { db in
            try Self.appendEntries(db, 1)
            let other = try db.newConnection()
            defer { other.close() }
            let error = #expect(throws: PostgresError.self) {
                try other.transaction(isolation: .repeatableRead) {
                    _ = try other.query("SELECT count(*) FROM audit_log")  // the snapshot is taken here
                    try AuditLog.append(on: db.connection, action: "meanwhile")  // committed by another session
                    try AuditLog.append(on: other, action: "stale")
                }
            }
            #expect(error?.sqlState == "40001")
            #expect(error?.message.contains("READ COMMITTED") == true)
            #expect(try RunFixtures.auditActions(db) == ["load", "meanwhile"])
            #expect(try Self.trail(db).verify().ok)
        }
    }

    @Test("show filters by run, action family, date and count")
    func show() throws {
        try TestDatabase.withSchema { db in
            try AuditLog.append(on: db.connection, action: "run", subjects: ["run_id": 7])
            try AuditLog.append(on: db.connection, action: "run.issue", subjects: ["run_id": 7])
            try AuditLog.append(on: db.connection, action: "run.supersede", subjects: ["run_id": 8, "supersedes_run_id": 7])
            try AuditLog.append(on: db.connection, action: "feedback.import", subjects: ["import_id": 1, "run_ids": [7, 9]])
            try AuditLog.append(on: db.connection, action: "feedback_x", subjects: ["run_id": 70])
            try AuditLog.append(on: db.connection, action: "load", subjects: ["load_id": 7])
            let trail = Self.trail(db)
            #expect(try trail.entries(.init(runId: 7)).map(\.entryId) == [1, 2, 3, 4])
            #expect(try trail.entries(.init(runId: 9)).map(\.entryId) == [4])
            #expect(try trail.entries(.init(action: "run")).map(\.action) == ["run", "run.issue", "run.supersede"])
            #expect(try trail.entries(.init(action: "feedback")).map(\.action) == ["feedback.import"])
            #expect(try trail.entries(.init(limit: 2)).map(\.entryId) == [5, 6])
            #expect(try trail.entries(.init(since: LocalDate(iso: "2000-01-01"))).count == 6)
            #expect(try trail.entries(.init(since: LocalDate(iso: "2999-01-01"))).isEmpty)
            let first = try #require(try trail.entries(.init(runId: 7)).first)
            #expect(first.subjects == ["run_id": 7])
        }
    }

    @Test("export writes JSON Lines that verify offline, and is itself audited")
    func export() throws {
        try TestDatabase.withSchema { db in
            try Self.appendEntries(db, 5)
            let dir = try TestDatabase.temporaryDirectory("audit")
            let url = dir.appendingPathComponent("audit.jsonl")
            let export = try Self.trail(db).export(to: url)
            #expect(export.entries == 5)
            #expect(export.chainVerified)
            #expect(export.sha256 == (try Hashing.sha256Hex(fileAt: url)))
            let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 5)
            let offline = try AuditExportFile.verify(url)
            #expect(offline.ok)
            #expect(offline.entries == 5)
            #expect(offline.headHash == export.headHash)
            // The export's own entry names the file, its hash and the head it ends at.
            let entry = try db.connection.query("SELECT action, payload FROM audit_log WHERE entry_id = 6")[0]
            #expect(entry.string("action") == "audit.export")
            let payload = try JSONValue.decode(entry.string("payload"))
            #expect(payload["sha256"] == .string(export.sha256))
            #expect(payload["head_entry_id"] == 5)
            #expect(payload["entries"] == 5)
            // No overwrite without asking; no partial files left behind.
            #expect(throws: RecruitError.self) { try Self.trail(db).export(to: url) }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["audit.jsonl"])
            #expect(try Self.trail(db).export(to: url, overwrite: true).entries == 6)
        }
    }

    /// A tampering of an export file, and where verify must find it.
    struct FileTampering: Sendable, CustomStringConvertible {
        var name: String
        var edit: @Sendable ([String]) -> [String]
        var entry: Int?
        var line: Int
        var kind: AuditVerification.Kind
        var description: String { name }
    }

    static let fileTamperings: [FileTampering] = [
        FileTampering(name: "entry_text edited", edit: { lines in
            var l = lines; l[3] = l[3].replacingOccurrences(of: "\\\"i\\\": 4", with: "\\\"i\\\": 40"); return l
        }, entry: 4, line: 4, kind: .hashMismatch),
        FileTampering(name: "line deleted", edit: { lines in var l = lines; l.remove(at: 2); return l },
                      entry: 4, line: 3, kind: .gap),
        FileTampering(name: "lines swapped", edit: { lines in var l = lines; l.swapAt(1, 2); return l },
                      entry: 3, line: 2, kind: .gap),
        FileTampering(name: "line truncated", edit: { lines in var l = lines; l[4] = String(l[4].prefix(40)); return l },
                      entry: nil, line: 5, kind: .malformedLine),
        FileTampering(name: "entry_hash replaced", edit: { lines in
            var l = lines; l[0] = l[0].replacing(#/"entry_hash":"[0-9a-f]{64}"/#, with: "\"entry_hash\":\"" + String(repeating: "1", count: 64) + "\""); return l
        }, entry: 1, line: 1, kind: .hashMismatch),
    ]

    @Test("a tampered export is pinpointed by entry and line; the command exits 1", arguments: fileTamperings)
    func tamperedExport(_ t: FileTampering) throws {
        try TestDatabase.withSchema { db in
            try Self.appendEntries(db, 6)
            let dir = try TestDatabase.temporaryDirectory("audit")
            let url = dir.appendingPathComponent("audit.jsonl")
            _ = try Self.trail(db).export(to: url)
            let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
            try (t.edit(lines).joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
            let result = try AuditExportFile.verify(url)
            let first = try #require(result.firstProblem)
            #expect(first.entryId == t.entry)
            #expect(first.line == t.line)
            #expect(first.kinds.contains(t.kind), "kinds \(first.kinds)")

            // Offline: no database needed.
            let cli = try RecruitCLI.run(["audit", "verify", "--file", url.path, "--database", "host=/nonexistent port=1 dbname=x"])
            #expect(cli.status == 1)
            #expect(cli.stdout.contains("line \(t.line)"))
        }
    }

    @Test("the command line: verify, show, export, verify --file; a broken chain exits 1")
    func commandLine() throws {
        try TestDatabase.withSchema { db in
            try Self.appendEntries(db, 3)
            let ok = try RecruitCLI.run(["audit", "verify"], schema: db.schema)
            #expect(ok.status == 0)
            #expect(ok.stdout.contains("Audit chain verified: 3 entries"))
            let json = try JSONValue.decode(try RecruitCLI.run(["audit", "verify", "--json"], schema: db.schema).stdout)
            #expect(json["ok"] == true)
            #expect(json["entries"] == 3)

            let show = try RecruitCLI.run(["audit", "show", "--run", "2", "--json"], schema: db.schema)
            #expect(show.status == 0)
            #expect(try JSONValue.decode(show.stdout)["count"] == 1)
            #expect(try RecruitCLI.run(["audit", "show", "--since", "yesterday"], schema: db.schema).status == 2)

            let dir = try TestDatabase.temporaryDirectory("audit")
            let file = dir.appendingPathComponent("trail.jsonl").path
            let export = try RecruitCLI.run(["audit", "export", file], schema: db.schema)
            #expect(export.status == 0)
            #expect(export.stdout.contains("Exported 3 entries"))
            #expect(try RecruitCLI.run(["audit", "export", file], schema: db.schema).status == 1)
            let offline = try RecruitCLI.run(["audit", "verify", "--file", file])
            #expect(offline.status == 0)
            #expect(offline.stdout.contains("3 entries"))
            #expect(try RecruitCLI.run(["audit", "verify", "--anchor", file], schema: db.schema).status == 0)

            try Self.tamper(db, "UPDATE audit_log SET payload = '{}' WHERE entry_id = 2")
            let broken = try RecruitCLI.run(["audit", "verify"], schema: db.schema)
            #expect(broken.status == 1)
            #expect(broken.stdout.contains("Audit chain broken at entry 2: column payload differs from entry_text"))
            #expect(broken.stderr.contains("entry 2"))
            let brokenJSON = try JSONValue.decode(try RecruitCLI.run(["audit", "verify", "--json"], schema: db.schema).stdout)
            #expect(brokenJSON["ok"] == false)
            #expect(brokenJSON["first_problem"]?["entry_id"] == 2)
            #expect(brokenJSON["first_problem"]?["kinds"] == ["columns_disagree"])
        }
    }
}

/// Errors collected from threads.
final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
