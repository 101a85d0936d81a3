import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Property tests of the loader (hardening issue): random valid extracts,
/// written with random but legal CSV layouts, load without a reject and read
/// back from the database exactly; random corruptions of them are rejected
/// with the file, line and reason, and never half-loaded.
@Suite("Load: properties", .enabled(if: TestDatabase.isAvailable), .serialized)
struct LoadPropertyTests {
    /// One generated extract: its rows as the database should hold them, and its files.
    struct Generated {
        var extractDate: LocalDate
        /// `practice|patient|yob|mob|sex|start|end|death`, nulls empty.
        var patients: [String] = []
        /// `practice|patient|date|code|term_id|system|value`.
        var events: [String] = []
        /// `practice|patient|date|code|system|quantity|duration|issue_type`.
        var prescriptions: [String] = []
        /// The files' data rows as written (fields, unquoted), per file, in order.
        var rows: [String: [[String]]] = [:]
        var headers: [String: [String]] = [:]
        /// A row written one field short (a corruption).
        var short: (file: String, row: Int)?
    }

    static let columns: [String: [String]] = [
        "patients.csv": ["patient_id", "practice_id", "year_of_birth", "month_of_birth", "sex",
                         "registration_start", "registration_end", "death_date"],
        "events.csv": ["patient_id", "event_date", "code", "code_system", "value"],
        "prescriptions.csv": ["patient_id", "issue_date", "code", "code_system", "quantity", "duration_days", "issue_type"],
    ]

    /// Codes of the shipped code lists, by system: clinical (events) and drug (prescriptions).
    static let pools: (events: [(String, String)], drugs: [(String, String)]) = {
        var events: [(String, String)] = []
        var drugs: [(String, String)] = []
        let dir = TestDatabase.repositoryRoot.appendingPathComponent("codelists")
        for name in ["chronic-pain", "fit-notes", "research-opt-out", "opioid-analgesics", "gabapentinoids"] {
            let text = (try? String(contentsOf: dir.appendingPathComponent("\(name).csv"), encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                guard fields.count >= 3, !line.contains("\"") else { continue }
                let code = String(fields[0]), system = String(fields.last!)
                switch system {
                case "read2" where code.first!.isLowercase: drugs.append((code, system))
                case "read2", "ctv3", "snomed": events.append((code, system))
                case "dmd", "bnf": drugs.append((code, system))
                default: break
                }
            }
        }
        return (events, drugs)
    }()

    static func id(_ rng: inout SeededRandom, _ alphabet: String, _ length: ClosedRange<Int>) -> String {
        let chars = Array(alphabet)
        return String((0..<rng.int(length)).map { _ in rng.pick(chars) })
    }

    static func decimal(_ rng: inout SeededRandom) -> String {
        switch rng.int(0...3) {
        case 0: return String(rng.int(0...500))
        case 1: return "\(rng.int(0...99)).\(rng.int(1...9))"
        case 2: return "-\(rng.int(0...9)).\(String(format: "%02d", rng.int(1...99)))"
        default: return "\(rng.int(1...20000)).25"
        }
    }

    /// A random valid extract: 1-3 practices, up to 40 patients, up to 6 events and 4 prescriptions each.
    static func generate(_ rng: inout SeededRandom) -> Generated {
        let d = LocalDate(year: rng.int(2019...2026), month: rng.int(1...12), day: rng.int(1...28))!
        var g = Generated(extractDate: d)
        let alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        let practices = (0..<rng.int(1...3)).map { i in "P\(i)" + id(&rng, alnum, 0...14) }
        var used = Set<String>()
        var pRows: [[String]] = [], eRows: [[String]] = [], rRows: [[String]] = []
        for _ in 0..<rng.int(1...40) {
            var patient = id(&rng, alnum + "_-", 1...(rng.chance(0.1) ? 64 : 12))
            while used.contains(patient) { patient = id(&rng, alnum + "_-", 1...12) }
            used.insert(patient)
            let practice = rng.pick(practices)
            let yob = rng.int(1880...d.year)
            let mob = rng.chance(0.3) ? "" : String(rng.int(1...12))
            let sex = rng.pick(["M", "F", "I", "U"])
            let start = d.adding(days: -rng.int(0...20000))
            let end = rng.chance(0.7) ? "" : start.adding(days: rng.int(0...max(0, start.days(to: d)))).description
            let death = rng.chance(0.85) ? "" : d.adding(days: -rng.int(0...3000)).description
            pRows.append([patient, practice, String(yob), mob, sex, start.description, end, death])
            g.patients.append([practice, patient, String(yob), mob, sex, start.description, end, death].joined(separator: "|"))
            for _ in 0..<rng.int(0...6) {
                let date = rng.chance(0.1) ? d : d.adding(days: -rng.int(0...max(0, LocalDate(year: 1900, month: 1, day: 1)!.days(to: d))))
                let (code, system) = rng.pick(pools.events)
                let term = system == "read2" && rng.chance(0.5) ? rng.pick(["00", "11", "12"]) : ""
                let value = rng.chance(0.6) ? "" : decimal(&rng)
                eRows.append([patient, date.description, code + term, system, value])
                g.events.append([practice, patient, date.description, code, term, system, value].joined(separator: "|"))
            }
            for _ in 0..<rng.int(0...4) {
                let date = d.adding(days: -rng.int(0...4000))
                let (code, system) = rng.pick(pools.drugs)
                let term = system == "read2" && rng.chance(0.5) ? "00" : ""
                let quantity = rng.chance(0.3) ? "" : decimal(&rng).replacingOccurrences(of: "-", with: "")
                let duration = rng.chance(0.3) ? "" : String(rng.int(1...365))
                let type = rng.pick(["", "acute", "repeat"])
                rRows.append([patient, date.description, code + term, system, quantity, duration, type])
                g.prescriptions.append([practice, patient, date.description, code, system, quantity, duration, type].joined(separator: "|"))
            }
        }
        g.rows = ["patients.csv": pRows, "events.csv": eRows, "prescriptions.csv": rRows]
        // Optional columns that are empty in every row may be left out of the header.
        for (file, names) in columns {
            let required: Set<String> = ["patient_id", "practice_id", "year_of_birth", "sex", "registration_start",
                                         "event_date", "code", "code_system", "issue_date"]
            g.headers[file] = names.enumerated().filter { i, name in
                required.contains(name) || !(g.rows[file]!.allSatisfy { $0[i].isEmpty }) || rng.chance(0.7)
            }.map(\.element)
        }
        return g
    }

    /// Writes the extract with a random legal layout: column order and case,
    /// quoting, CRLF or LF, a byte-order mark, a final newline or none.
    static func write(_ g: Generated, _ rng: inout SeededRandom) throws -> ExtractFiles {
        let fixture = try ExtractFiles.make(patients: nil, events: nil, prescriptions: nil, extractDate: g.extractDate.description)
        for (file, all) in columns.sorted(by: { $0.key < $1.key }) {
            let names = g.headers[file]!.shuffled(using: &rng)
            let index = names.map { all.firstIndex(of: $0)! }
            let newline = rng.chance(0.3) ? "\r\n" : "\n"
            func field(_ s: String) -> String { rng.chance(0.2) ? "\"" + s + "\"" : s }
            let header = names.map { name in rng.chance(0.2) ? name.uppercased() : name }.map(field).joined(separator: ",")
            var lines = [header]
            for (n, row) in g.rows[file]!.enumerated() {
                var fields = index.map { field(row[$0]) }
                if let short = g.short, short.file == file, short.row == n { fields.removeLast() }
                lines.append(fields.joined(separator: ","))
            }
            var text = (rng.chance(0.2) ? "\u{FEFF}" : "") + lines.joined(separator: newline)
            if rng.chance(0.8) { text += newline }
            try fixture.write(file, text)
        }
        return fixture
    }

    /// The current rows of the given practices, as `Generated` renders them.
    static func readBack(_ db: Database, practices: Set<String>) throws -> (patients: [String], events: [String], prescriptions: [String]) {
        let list = Array(practices).sorted()
        let c = db.connection
        let p = try c.query("""
            SELECT array_to_string(ARRAY[practice_id, patient_id, year_of_birth::text, month_of_birth::text, sex::text,
                                         registration_start::text, registration_end::text, death_date::text], '|', '') AS r
            FROM current_patients WHERE practice_id = ANY(\(list))
            """).map { $0.string("r") }
        let e = try c.query("""
            SELECT array_to_string(ARRAY[practice_id, patient_id, event_date::text, code, term_id, code_system,
                                         value::text], '|', '') AS r
            FROM current_events WHERE practice_id = ANY(\(list))
            """).map { $0.string("r") }
        let r = try c.query("""
            SELECT array_to_string(ARRAY[practice_id, patient_id, issue_date::text, code, code_system, quantity::text,
                                         duration_days::text, issue_type], '|', '') AS r
            FROM current_prescriptions WHERE practice_id = ANY(\(list))
            """).map { $0.string("r") }
        return (p, e, r)
    }

    @Test("random valid extracts, in random legal CSV layouts, load without a reject and read back exactly", arguments: 1...12)
    func roundTrip(seed: Int) throws {
        var rng = SeededRandom(seed: UInt64(seed) &* 0x9E37_79B9)
        let g = Self.generate(&rng)
        let fixture = try Self.write(g, &rng)
        defer { fixture.remove() }
        try TestDatabase.withSchema { db in
            let result = try LoadTests.load(fixture, db, ["--json", "--max-reject-rate", "0"])
            #expect(result.status == 0, "seed \(seed): \(result.allOutput)")
            let summary = LoadTests.json(result.stdout)
            #expect(summary["status"] as? String == "loaded", "seed \(seed): \(result.stdout)")
            let load = try LoadTests.lastLoad(db)
            #expect(try LoadTests.rejects(db, load: load.id).isEmpty)
            let practices = Set(g.patients.map { String($0.split(separator: "|", omittingEmptySubsequences: false)[0]) })
            let back = try Self.readBack(db, practices: practices)
            #expect(back.patients.sorted() == g.patients.sorted(), "seed \(seed): patients differ")
            #expect(back.events.sorted() == g.events.sorted(), "seed \(seed): events differ")
            #expect(back.prescriptions.sorted() == g.prescriptions.sorted(), "seed \(seed): prescriptions differ")
        }
    }

    /// A corruption of one row: the file, the column set to a bad value (nil:
    /// the row loses its last field), and the reason the loader gives.
    struct Corruption: Sendable {
        let file: String
        let column: String?
        let value: String
        let reason: String
    }

    static let corruptions: [Corruption] = [
        .init(file: "patients.csv", column: "sex", value: "X", reason: "invalid sex"),
        .init(file: "patients.csv", column: "registration_start", value: "2020-02-30", reason: "invalid registration_start"),
        .init(file: "patients.csv", column: "year_of_birth", value: "1879", reason: "year_of_birth out of range"),
        .init(file: "patients.csv", column: "patient_id", value: "a b", reason: "invalid patient_id"),
        .init(file: "patients.csv", column: "month_of_birth", value: "13", reason: "invalid month_of_birth"),
        .init(file: "events.csv", column: "patient_id", value: "no-such-patient-0", reason: "unknown patient"),
        .init(file: "events.csv", column: "code_system", value: "icd9", reason: "invalid code_system"),
        .init(file: "events.csv", column: "event_date", value: "1899-12-31", reason: "event_date before 1900-01-01"),
        .init(file: "events.csv", column: "event_date", value: "31/12/2020", reason: "invalid event_date"),
        .init(file: "events.csv", column: "value", value: "1.2.3", reason: "invalid value"),
        .init(file: "prescriptions.csv", column: "duration_days", value: "366", reason: "invalid duration_days"),
        .init(file: "prescriptions.csv", column: "issue_type", value: "sometimes", reason: "invalid issue_type"),
        .init(file: "prescriptions.csv", column: nil, value: "", reason: "fields where the header has"),
    ]

    @Test("a random corruption of a random row of a random valid extract is rejected with file, line and reason; nothing changes",
          arguments: 1...12)
    func corruption(seed: Int) throws {
        var rng = SeededRandom(seed: UInt64(seed) &* 0x5851_F42D)
        let good = Self.generate(&rng)
        let goodFiles = try Self.write(good, &rng)
        defer { goodFiles.remove() }
        var bad = Self.generate(&rng)
        // Corruptions whose file has a row to corrupt and whose column is in the header.
        let usable = Self.corruptions.filter { c in
            !(bad.rows[c.file] ?? []).isEmpty && (c.column.map { bad.headers[c.file]!.contains($0) } ?? true)
        }
        let corruption = rng.pick(usable)
        let row = rng.int(0...(bad.rows[corruption.file]!.count - 1))
        if let column = corruption.column {
            bad.rows[corruption.file]![row][Self.columns[corruption.file]!.firstIndex(of: column)!] = corruption.value
        } else {
            bad.short = (corruption.file, row)
        }
        let badFiles = try Self.write(bad, &rng)
        defer { badFiles.remove() }
        try TestDatabase.withSchema { db in
            let first = try LoadTests.load(goodFiles, db, ["--max-reject-rate", "0"])
            #expect(first.status == 0, "seed \(seed): \(first.allOutput)")
            let before = try LoadTests.state(db)
            let result = try LoadTests.load(badFiles, db, ["--max-reject-rate", "0"])
            #expect(result.status == 1, "seed \(seed) \(corruption.reason): \(result.allOutput)")
            #expect(result.stderr.contains(corruption.file), "seed \(seed): \(result.stderr)")
            #expect(try LoadTests.state(db) == before, "seed \(seed): the previous snapshot must be untouched")
            let load = try LoadTests.lastLoad(db)
            #expect(load.status == "refused")
            #expect(try LoadTests.tables(db, load: load.id).isEmpty, "seed \(seed): a refused load leaves no tables")
            // The corrupted row is rejected at its line (header = line 1), with the reason.
            let rejects = try LoadTests.rejects(db, load: load.id)
            #expect(rejects.contains { $0.file == corruption.file && $0.line == row + 2 && $0.reason.contains(corruption.reason) },
                    "seed \(seed): \(corruption.file) line \(row + 2) \(corruption.reason): \(rejects.map { "\($0.file):\($0.line) \($0.reason)" })")
            #expect(try AuditTrail(database: db, logger: TestDatabase.quietLogger).verify().ok)
        }
    }
}
