import Foundation
import Postgres

/// The codes added to and removed from a list between two versions, with
/// their terms and, when counted against a database, how many patients in
/// the loaded data each one touches.
public struct CodeListDiff: Sendable, Encodable {
    public struct Change: Sendable, Encodable, Hashable {
        public var system: CodeSystem
        public var code: String
        public var term: String
        /// Patients (in each practice's current snapshot) with an event or
        /// prescription of this code; nil when not counted.
        public var patients: Int?

        enum CodingKeys: String, CodingKey { case system = "code_system", code, term, patients }
    }

    public struct TermChange: Sendable, Encodable, Hashable {
        public var system: CodeSystem
        public var code: String
        public var oldTerm: String
        public var newTerm: String

        enum CodingKeys: String, CodingKey { case system = "code_system", code, oldTerm = "old_term", newTerm = "new_term" }
    }

    public var name: String
    /// What the list was compared with (a git revision, a file, "no list").
    public var against: String
    public var added: [Change]
    public var removed: [Change]
    public var termsChanged: [TermChange]
    public var unchanged: Int
    /// Patients touched by any added code, and by any removed code (nil when not counted).
    public var patientsTouchedByAdded: Int?
    public var patientsTouchedByRemoved: Int?
    /// Why patient counts are missing, when they are.
    public var countsSkipped: String?

    enum CodingKeys: String, CodingKey {
        case name, against, added, removed, unchanged
        case termsChanged = "terms_changed", patientsTouchedByAdded = "patients_touched_by_added"
        case patientsTouchedByRemoved = "patients_touched_by_removed", countsSkipped = "counts_skipped"
    }

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && termsChanged.isEmpty }

    /// Compares two versions of a list's rows (rows with an unknown system are ignored).
    public static func compare(name: String, old: [CodeListFile.Row], new: [CodeListFile.Row], against: String) -> CodeListDiff {
        func index(_ rows: [CodeListFile.Row]) -> [SystemCode: String] {
            var out: [SystemCode: String] = [:]
            for row in rows {
                guard let system = row.system else { continue }
                let key = SystemCode(system: system, code: row.code)
                if out[key] == nil { out[key] = row.term }
            }
            return out
        }
        let a = index(old), b = index(new)
        let added = b.keys.filter { a[$0] == nil }.sorted().map { Change(system: $0.system, code: $0.code, term: b[$0]!) }
        let removed = a.keys.filter { b[$0] == nil }.sorted().map { Change(system: $0.system, code: $0.code, term: a[$0]!) }
        let changed = b.keys.filter { a[$0] != nil && a[$0] != b[$0] }.sorted()
            .map { TermChange(system: $0.system, code: $0.code, oldTerm: a[$0]!, newTerm: b[$0]!) }
        let unchanged = b.keys.filter { a[$0] != nil }.count
        return CodeListDiff(name: name, against: against, added: added, removed: removed, termsChanged: changed,
                            unchanged: unchanged)
    }

    /// Counts, for every added and removed code, the patients in the loaded
    /// data (`current_events` and `current_prescriptions`) recorded with it,
    /// and the patients touched by the added and by the removed codes together.
    public mutating func countPatients(on connection: Connection) throws {
        let changes = added + removed
        guard !changes.isEmpty else {
            patientsTouchedByAdded = 0
            patientsTouchedByRemoved = 0
            return
        }
        let systems = changes.map(\.system.rawValue), codes = changes.map(\.code)
        let sides = Array(repeating: "added", count: added.count) + Array(repeating: "removed", count: removed.count)
        let rows = try connection.query("""
            WITH changed AS (
              SELECT * FROM unnest(\(systems)::text[], \(codes)::text[], \(sides)::text[]) AS c(code_system, code, side)
            ), touched AS (
              SELECT c.side, c.code_system, c.code, r.practice_id, r.patient_id
              FROM changed c
              JOIN (SELECT practice_id, patient_id, code_system, code FROM current_events
                    UNION ALL
                    SELECT practice_id, patient_id, code_system, code FROM current_prescriptions) r
                ON r.code_system = c.code_system AND r.code = c.code
            )
            SELECT side, code_system, code, count(DISTINCT (practice_id, patient_id)) AS patients
            FROM touched GROUP BY GROUPING SETS ((side, code_system, code), (side))
            """)
        var perCode: [String: Int] = [:]
        var perSide: [String: Int] = [:]
        for row in rows {
            let n = row.int("patients") ?? 0
            if let system = row["code_system"], let code = row["code"] {
                perCode["\(row.string("side"))|\(system)|\(code)"] = n
            } else {
                perSide[row.string("side")] = n
            }
        }
        for i in added.indices { added[i].patients = perCode["added|\(added[i].system.rawValue)|\(added[i].code)"] ?? 0 }
        for i in removed.indices { removed[i].patients = perCode["removed|\(removed[i].system.rawValue)|\(removed[i].code)"] ?? 0 }
        patientsTouchedByAdded = perSide["added"] ?? 0
        patientsTouchedByRemoved = perSide["removed"] ?? 0
        countsSkipped = nil
    }

    /// The diff for people: one line per added (`+`) and removed (`-`) code.
    public var text: String {
        var lines = ["\(name): compared with \(against): \(added.count) added, \(removed.count) removed, \(termsChanged.count) term(s) changed, \(unchanged) unchanged"]
        func patients(_ n: Int?) -> String { n.map { "  [\($0) patient\($0 == 1 ? "" : "s")]" } ?? "" }
        for c in added { lines.append("+ \(c.system.rawValue) \(c.code)  \(c.term)\(patients(c.patients))") }
        for c in removed { lines.append("- \(c.system.rawValue) \(c.code)  \(c.term)\(patients(c.patients))") }
        for c in termsChanged { lines.append("~ \(c.system.rawValue) \(c.code)  \(c.oldTerm) → \(c.newTerm)") }
        if let a = patientsTouchedByAdded, let r = patientsTouchedByRemoved {
            lines.append("Patients in the loaded data touched by the added codes: \(a); by the removed codes: \(r).")
        } else if let skipped = countsSkipped {
            lines.append("Patient counts skipped: \(skipped).")
        }
        return lines.joined(separator: "\n")
    }
}
