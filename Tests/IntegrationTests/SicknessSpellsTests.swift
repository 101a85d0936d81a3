import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// `SicknessSpells.spellsSQL` / `qualifyingSpellSQL` in real PostgreSQL against
/// the Swift `SicknessSpells.evaluate` on seeded random fit-note chains whose
/// gaps and values cluster at the spec's edges: the two must agree on every
/// patient's spells, whether the criterion holds, and the evidence.
@Suite("Sickness spells: SQL agrees with Swift on random fit-note chains", .enabled(if: TestDatabase.isAvailable))
struct SicknessSpellsSQLTests {
    struct Scenario: Sendable, CustomStringConvertible {
        var seed: UInt64
        var indexDate: LocalDate
        var parameters: SicknessSpellParameters = .defaults
        /// Pass the notes as a subquery with a bind of its own, not a table name.
        var asSubquery = false
        var description: String {
            "seed \(seed) D=\(indexDate) cover \(parameters.defaultCoverDays) gap \(parameters.maxGapDays) min \(parameters.minSpellDays) since \(parameters.maxDaysSinceEnd)\(asSubquery ? " subquery" : "")"
        }
    }

    static let scenarios: [Scenario] = [
        Scenario(seed: 1, indexDate: LocalDate(year: 2024, month: 7, day: 1)!),
        Scenario(seed: 2, indexDate: LocalDate(year: 2024, month: 2, day: 29)!, asSubquery: true),
        Scenario(seed: 3, indexDate: LocalDate(year: 2025, month: 1, day: 1)!,
                 parameters: SicknessSpellParameters(maxGapDays: 0, maxDaysSinceEnd: 0)),
        Scenario(seed: 4, indexDate: LocalDate(year: 2026, month: 3, day: 31)!,
                 parameters: SicknessSpellParameters(defaultCoverDays: 14, maxGapDays: 30, minSpellDays: 28, maxDaysSinceEnd: 90)),
        Scenario(seed: 5, indexDate: LocalDate(year: 2023, month: 12, day: 31)!,
                 parameters: SicknessSpellParameters(defaultCoverDays: 1, maxGapDays: 8, minSpellDays: 60, maxDaysSinceEnd: 100), asSubquery: true),
    ]

    /// Values at every edge of the cover rule, and a few ordinary ones.
    static let values: [String?] = [nil, nil, "0", "1", "7", "14", "27", "28", "28", "28.0", "28.5", "0.5", "-3", "-28",
                                    "29", "56", "84", "90", "91", "120", "364", "365", "366", "1000", "NaN"]
    /// Gaps after the spell so far (negative: inside the cover), clustered at 6..9.
    static let gaps = [-40, -10, -1, 0, 0, 1, 6, 7, 7, 8, 8, 9, 14, 15, 21, 28, 29, 30, 31, 60]

    struct Row: Hashable {
        var practiceID: String
        var patientID: String
        var note: FitNote
    }

    /// Random chains for `patients` patients, each starting so that many end
    /// near D, some notes after D, some on one date.
    static func notes(seed: UInt64, indexDate d: LocalDate, patients: Int, defaultCover: Int) -> [Row] {
        var random = SyntheticRandom(seed: seed, stream: 17)
        var rows: [Row] = []
        for i in 0..<patients {
            // The same patient id in two practices must not share spells.
            let practice = ["A81001", "B2", "Z9"][random.below(3)]
            let patient = "p\(i % (patients / 2))"
            let count = random.below(10)
            // Start between ~400 and 0 days before D, clustered so chains reach D.
            var date = d.adding(days: -[0, 1, 28, 29, 89, 90, 91, 120, 150, 200, 300, 400][random.below(12)] - random.below(3))
            var end: LocalDate? = nil
            for _ in 0..<count {
                let value = values[random.below(values.count)]
                let note = FitNote(date: date, value: value)
                rows.append(Row(practiceID: practice, patientID: patient, note: note))
                let e = note.coverEnd(defaultDays: defaultCover)
                end = max(end ?? e, e)
                if random.chance(0.1) { continue }  // the next note on the same date
                date = end!.adding(days: 1 + gaps[random.below(gaps.count)])
            }
            // Now and then a note just after D.
            if random.chance(0.15) {
                rows.append(Row(practiceID: practice, patientID: patient,
                                note: FitNote(date: d.adding(days: 1 + random.below(3)), value: values[random.below(values.count)])))
            }
        }
        return rows
    }

    @Test("spells, holds and evidence agree for every patient", arguments: scenarios)
    func agree(_ scenario: Scenario) throws {
        let d = scenario.indexDate
        let p = scenario.parameters
        let rows = Self.notes(seed: scenario.seed, indexDate: d, patients: 800, defaultCover: p.defaultCoverDays)
        try TestDatabase.withSchema(migrate: false) { db in
            let c = db.connection
            try c.execute("CREATE TABLE fit_notes (practice_id text NOT NULL, patient_id text NOT NULL, d date NOT NULL, value numeric)")
            for start in stride(from: 0, to: rows.count, by: 400) {
                let batch = rows[start..<min(start + 400, rows.count)]
                let values = batch.map { r -> SQL in "(\(r.practiceID), \(r.patientID), \(r.note.date), \(r.note.value)::numeric)" }
                try c.execute("INSERT INTO fit_notes (practice_id, patient_id, d, value) VALUES \(SQL(joining: values, separator: ", "))")
            }
            // The notes as the database gives them back (numeric prints `28.0` as `28.0`, `NaN` as `NaN`).
            var byPatient: [String: [FitNote]] = [:]
            for row in try c.query("SELECT practice_id, patient_id, d, value::text AS value FROM fit_notes") {
                byPatient[row.string("practice_id") + "/" + row.string("patient_id"), default: []]
                    .append(FitNote(date: row.date("d")!, value: row["value"]))
            }
            let relation: SQL = scenario.asSubquery
                ? "(SELECT practice_id, patient_id, d, value FROM fit_notes WHERE practice_id <> \("no such practice"))"
                : "\(identifier: "fit_notes")"

            // Every spell.
            var sqlSpells: [String: [String]] = [:]
            let spellsQuery: SQL = "SELECT * FROM (\(SicknessSpells.spellsSQL(notes: relation, indexDate: d, parameters: p))) s ORDER BY practice_id, patient_id, spell_no"
            for row in try c.query(spellsQuery) {
                let key = row.string("practice_id") + "/" + row.string("patient_id")
                sqlSpells[key, default: []].append([
                    row.string("spell_start"), row.string("spell_end"), row.string("days_so_far"), row.string("note_count"),
                    row["gap_from_previous"] ?? "-", row.string("is_current"), row.string("qualifies"),
                ].joined(separator: " "))
                #expect(row.int("spell_no") == sqlSpells[key]!.count, "\(key): spells numbered 1, 2, …")
            }
            // The evidence.
            var sqlEvidence: [String: String] = [:]
            for row in try c.query(SicknessSpells.qualifyingSpellSQL(notes: relation, indexDate: d, parameters: p)) {
                let key = row.string("practice_id") + "/" + row.string("patient_id")
                #expect(sqlEvidence[key] == nil, "\(key): one evidence row per patient")
                sqlEvidence[key] = [row.string("spell_start"), row.string("spell_end"), row.string("days_so_far"),
                                    row.string("note_count"), row["gap_from_previous"] ?? "-"].joined(separator: " ")
            }

            var holds = 0, multiSpell = 0, brokenAt = Set<Int>(), joinedLate = 0, notCurrentLong = 0, shortCurrent = 0
            var mismatches = 0
            for (key, notes) in byPatient.sorted(by: { $0.key < $1.key }) {
                let r = SicknessSpells.evaluate(notes: notes, indexDate: d, parameters: p)
                let swiftSpells = r.spells.map { s in
                    ["\(s.start)", "\(s.end)", "\(s.daysSoFar)", "\(s.notes.count)", s.gapFromPrevious.map(String.init) ?? "-",
                     s.isCurrent ? "t" : "f", s.qualifies ? "t" : "f"].joined(separator: " ")
                }
                let swiftEvidence = r.evidence.map { s in
                    ["\(s.start)", "\(s.end)", "\(s.daysSoFar)", "\(s.notes.count)", s.gapFromPrevious.map(String.init) ?? "-"].joined(separator: " ")
                }
                if swiftSpells != (sqlSpells[key] ?? []) || swiftEvidence != sqlEvidence[key] {
                    mismatches += 1
                    if mismatches <= 10 {
                        Issue.record("\(key) \(notes.sorted { $0.date < $1.date }): Swift \(swiftSpells) evidence \(swiftEvidence ?? "none"); SQL \(sqlSpells[key] ?? []) evidence \(sqlEvidence[key] ?? "none")")
                    }
                }
                if r.holds { holds += 1 }
                if r.spells.count > 1 { multiSpell += 1 }
                for s in r.spells { if let g = s.gapFromPrevious { brokenAt.insert(g) } }
                if r.spells.contains(where: { $0.notes.count > 1 }) { joinedLate += 1 }
                if r.spells.contains(where: { !$0.isCurrent && $0.daysSoFar >= p.minSpellDays }) { notCurrentLong += 1 }
                if r.spells.contains(where: { $0.isCurrent && $0.daysSoFar < p.minSpellDays }) { shortCurrent += 1 }
            }
            // No patient the SQL found that Swift did not.
            #expect(Set(sqlSpells.keys).isSubset(of: Set(byPatient.keys)))
            #expect(mismatches == 0, "\(mismatches) of \(byPatient.count) patients disagree")
            // The data must exercise the rule: both answers, breaks just past the gap, long spells that ended.
            #expect(holds >= 20 && holds <= byPatient.count - 20, "holds for \(holds) of \(byPatient.count)")
            #expect(multiSpell >= 20 && joinedLate >= 50, "multi-spell \(multiSpell), chained \(joinedLate)")
            #expect(brokenAt.contains(p.maxGapDays + 1), "no spell broken by a gap of max_gap_days + 1: \(brokenAt.sorted())")
            #expect(notCurrentLong >= 5 && shortCurrent >= 5, "long but ended \(notCurrentLong), current but short \(shortCurrent)")
        }
    }

    @Test("the SQL binds every value: no date or number of the parameters is in its text")
    func bound() {
        let p = SicknessSpellParameters(defaultCoverDays: 321, maxGapDays: 123, minSpellDays: 234, maxDaysSinceEnd: 345)
        let d = LocalDate(year: 2031, month: 4, day: 5)!
        let sql = SicknessSpells.qualifyingSpellSQL(notes: "\(identifier: "fit_notes")", indexDate: d, parameters: p)
        let text = sql.render()
        for literal in ["321", "123", "234", "345", "2031"] { #expect(!text.contains(literal), "\(literal) pasted into the SQL") }
        #expect(Set(sql.binds.compactMap(\.text)) == ["321", "123", "234", "345", "2031-04-05"])
    }
}
