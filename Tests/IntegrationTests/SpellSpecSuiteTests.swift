import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// The spec suite of the `sickness_spell` criterion (`shared/spec/spells.md`):
/// every worked case of the spec and every boundary it names, each one
/// patient's fit notes with the expected verdict and evidence, run on both
/// engines: the SQL engine (one practice per case, one statement for all) and
/// the in-memory engine (one patient at a time).
@Suite("Spec suite: sickness spells, on both engines", .enabled(if: TestDatabase.isAvailable))
struct SpellSpecSuiteTests {
    static let cohortText = """
        name: spell-spec
        version: "1"
        description: The sickness spell criterion alone.
        parameters:
          default_cover_days: 28
          max_gap_days: 7
          min_spell_days: 90
          max_days_since_end: 28
        criteria:
          - id: spell
            label: A current sickness spell
            include:
              sickness_spell:
                codelists: [fit-notes]
                default_cover_days: default_cover_days
                max_gap_days: max_gap_days
                min_spell_days: min_spell_days
                max_days_since_end: max_days_since_end
        """

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var d: LocalDate
        /// (date, value, code) of each fit note.
        var notes: [(LocalDate, String?, String)]
        /// The evidence spell (start, end, days so far), nil when the criterion does not hold.
        var spell: (LocalDate, LocalDate, Int)?
        /// The evidence note's date (the latest note of the spell).
        var evidenceDate: LocalDate?
        var description: String { name }
    }

    static let d = LocalDate(year: 2024, month: 7, day: 1)!
    static func date(_ text: String) -> LocalDate { LocalDate(iso: text)! }
    static func at(_ offset: Int) -> LocalDate { d.adding(days: offset) }
    static let note = "9D11.", med3 = "9D1B."

    /// Every case: the spec's worked table (D = 2024-07-01), then its boundaries.
    static let cases: [Case] = [
        Case(name: "worked: four 28-day notes back to back", d: d,
             notes: [("2024-04-01", "28"), ("2024-04-29", "28"), ("2024-05-27", "28"), ("2024-06-24", "28")].map { (date($0.0), $0.1, note) },
             spell: (date("2024-04-01"), date("2024-07-21"), 92), evidenceDate: date("2024-06-24")),
        Case(name: "worked: the third note after a 15-day gap", d: d,
             notes: [("2024-04-01", "28"), ("2024-04-29", "28"), ("2024-06-11", "28"), ("2024-06-24", "28")].map { (date($0.0), $0.1, note) },
             spell: nil),
        Case(name: "worked: two 91-day notes, gap 0", d: d,
             notes: [("2024-01-01", "91"), ("2024-04-01", "91")].map { (date($0.0), $0.1, note) },
             spell: (date("2024-01-01"), date("2024-06-30"), 182), evidenceDate: date("2024-04-01")),
        Case(name: "worked: one 120-day note, ended 63 days before D", d: d,
             notes: [(date("2024-01-01"), "120", note)], spell: nil),
        Case(name: "worked: five notes without a value, every 28 days", d: d,
             notes: (0..<5).map { (date("2024-03-01").adding(days: 28 * $0), nil, note) },
             spell: (date("2024-03-01"), date("2024-07-18"), 123), evidenceDate: date("2024-06-21")),
        Case(name: "worked: a 120-day note and a note after D", d: d,
             notes: [(date("2024-03-31"), "120", note), (date("2024-07-02"), "28", note)],
             spell: (date("2024-03-31"), date("2024-07-28"), 93), evidenceDate: date("2024-03-31")),
        // The gap rule: g = start - end so far - 1; 7 joins, 8 breaks.
        Case(name: "gap 7 joins", d: d, notes: [(at(-100), "50", note), (at(-43), "50", note)],
             spell: (at(-100), at(6), 101), evidenceDate: at(-43)),
        Case(name: "gap 8 breaks", d: d, notes: [(at(-100), "50", note), (at(-42), "50", note)], spell: nil),
        Case(name: "a note inside the cover joins and does not shorten it", d: d,
             notes: [(at(-120), "200", note), (at(-60), "5", med3)],
             spell: (at(-120), at(79), 121), evidenceDate: at(-60)),
        // Days so far: min(end, D) - start + 1; 89 fails, 90 passes.
        Case(name: "89 days so far", d: d, notes: [(at(-88), "120", note)], spell: nil),
        Case(name: "90 days so far", d: d, notes: [(at(-89), "120", note)], spell: (at(-89), at(30), 90), evidenceDate: at(-89)),
        // Current: the cover ends on or after D - 28.
        Case(name: "cover ends on D - 28", d: d, notes: [(at(-150), "123", note)], spell: (at(-150), at(-28), 123), evidenceDate: at(-150)),
        Case(name: "cover ends on D - 29", d: d, notes: [(at(-150), "122", note)], spell: nil),
        // Values: a whole number from 1 to 365 is the cover; anything else the default 28.
        Case(name: "value 0 covers the default 28", d: d, notes: [(at(-100), "0", note), (at(-65), "100", note)],
             spell: (at(-100), at(34), 101), evidenceDate: at(-65)),
        Case(name: "value 20.5 covers the default 28", d: d, notes: [(at(-100), "20.5", note), (at(-65), "100", note)],
             spell: (at(-100), at(34), 101), evidenceDate: at(-65)),
        Case(name: "value 28.0 is 28", d: d, notes: [(at(-100), "28.0", note), (at(-65), "100", note)],
             spell: (at(-100), at(34), 101), evidenceDate: at(-65)),
        Case(name: "an empty value covers the default 28", d: d, notes: [(at(-100), nil, note), (at(-65), "100", note)],
             spell: (at(-100), at(34), 101), evidenceDate: at(-65)),
        Case(name: "value 365 is 365", d: d, notes: [(at(-300), "365", note)], spell: (at(-300), at(64), 301), evidenceDate: at(-300)),
        Case(name: "value 366 covers the default 28", d: d, notes: [(at(-300), "366", note)], spell: nil),
        Case(name: "a negative value covers the default 28", d: d, notes: [(at(-300), "-200", note)], spell: nil),
        // Two notes on one date are two notes: the longer cover counts.
        Case(name: "two notes on one date", d: d, notes: [(at(-100), "10", note), (at(-100), "100", med3)],
             spell: (at(-100), at(-1), 100), evidenceDate: at(-100)),
        // Notes after D neither join nor extend.
        Case(name: "a note on D + 1 is ignored", d: d, notes: [(at(-100), "100", note), (at(1), "200", note)],
             spell: (at(-100), at(-1), 100), evidenceDate: at(-100)),
        Case(name: "a note on D + 1 does not make a spell current", d: d, notes: [(at(-130), "100", note), (at(1), "200", note)],
             spell: nil),
        // A long spell that ended, then a short current one: neither qualifies.
        Case(name: "a long ended spell and a short current one", d: d,
             notes: [(at(-300), "150", note), (at(-60), "100", note)], spell: nil),
        Case(name: "no notes", d: d, notes: [], spell: nil),
    ]

    static func cohort() throws -> ResolvedCohort {
        let definition = try CohortParser.parse(data: Data(cohortText.utf8), file: "spell-spec.yaml")
        return try CohortValidator.resolve(definition, codeLists: DirectoryCodeListSource(directory: try CodeListFixture.referenceDirectory()))
    }

    static func patient(_ i: Int, _ c: Case) -> PatientRecords {
        PatientRecords(practiceID: "P\(i)", patientID: "p1", yearOfBirth: 1980, monthOfBirth: 5, sex: "F",
                       registrationStart: c.d.adding(days: -4000), registrationEnd: nil, deathDate: nil,
                       records: c.notes.map { PatientRecords.Coded(source: .events, date: $0.0, code: SystemCode(system: .read2, code: $0.2), value: $0.1) })
    }

    static func expectEvidence(_ e: CriterionEvidence?, _ c: Case, _ engine: String) {
        guard let (start, end, days) = c.spell else { return }
        #expect(e?.spellStart == start && e?.spellEnd == end && e?.spellDays == days,
                "\(engine): \(c.name): spell \(String(describing: e?.spellStart))..\(String(describing: e?.spellEnd)) \(String(describing: e?.spellDays)) days")
        #expect(e?.date == c.evidenceDate && e?.codeSystem == "read2", "\(engine): \(c.name): evidence note \(String(describing: e?.date))")
    }

    @Test("the in-memory engine", arguments: Array(cases.enumerated().map { $0 }))
    func inMemory(_ item: (offset: Int, element: Case)) throws {
        let c = item.element
        let result = InMemoryEngine(cohort: try Self.cohort()).evaluate(Self.patient(item.offset, c), indexDate: c.d)
        #expect(result.leftAt == (c.spell == nil ? 1 : 0), "\(c.name)")
        if c.spell != nil { Self.expectEvidence(result.evidence.first, c, "in-memory") }
    }

    @Test("the SQL engine: every case at once, each its own practice, both record accesses")
    func sql() throws {
        let cohort = try Self.cohort()
        var x = ExtractFixture(practices: Self.cases.indices.map { .init("P\($0)", extractDate: Self.d.adding(days: 5)) })
        for (i, c) in Self.cases.enumerated() {
            let p = Self.patient(i, c)
            x.add(.init(practiceID: p.practiceID, patientID: p.patientID, yearOfBirth: 1980, monthOfBirth: 5, sex: "F",
                        registrationStart: p.registrationStart))
            for n in c.notes { x.event(p.practiceID, p.patientID, n.0, n.2, .read2, value: n.1) }
        }
        try TestDatabase.withSchema { db in
            try x.write(to: db)
            for access in CohortQueryContext.RecordAccess.allCases {
                let evaluation = try SQLEngine(cohort: cohort, logger: TestDatabase.quietLogger)
                    .evaluate(on: db, indexDate: Self.d, practices: nil, historyAsOf: ContactHistory.instant(db), recordAccess: access)
                let invited = Dictionary(uniqueKeysWithValues: evaluation.invitations.map { ($0.practiceID, $0) })
                for (i, c) in Self.cases.enumerated() {
                    let got = invited["P\(i)"]
                    #expect((got != nil) == (c.spell != nil), "\(access.rawValue): \(c.name): invited \(got != nil)")
                    if c.spell != nil { Self.expectEvidence(got?.evidence.first, c, "SQL \(access.rawValue)") }
                }
            }
        }
    }
}

/// The two engines on random fit-note chains whose dates, gaps and values
/// cluster at the spell rule's edges: the same step and the same evidence for
/// every patient, in the spells variant of the reference cohort's criterion 7
/// (a spell, or an unemployment code), with parameters moved about.
@Suite("Sickness spells: the SQL and in-memory engines agree on random chains", .enabled(if: TestDatabase.isAvailable))
struct SpellPropertyTests {
    static let cohortText = """
        name: spell-property
        version: "1"
        description: A spell or an unemployment code.
        parameters:
          cover: 28
          gap: 7
          min_days: 90
          since_end: 28
          lookback: 400
        criteria:
          - id: out_of_work
            label: A current spell or an unemployment code
            include:
              any_of:
                - sickness_spell:
                    codelists: [fit-notes]
                    window: {from: D - lookback}
                    default_cover_days: cover
                    max_gap_days: gap
                    min_spell_days: min_days
                    max_days_since_end: since_end
                - has_events: {codelists: [unemployment], window: {from: D - 60, to: D}}
        """

    /// A small deterministic generator (SplitMix64).
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }
        mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
    }

    @Test("same step and evidence for every patient", arguments: [
        (UInt64(1), [String: Int]()), (UInt64(2), ["gap": 0, "min_days": 30]), (UInt64(3), ["cover": 1, "since_end": 0, "lookback": 120]),
        (UInt64(4), ["gap": 30, "min_days": 200, "since_end": 60]),
    ])
    func agree(_ seed: UInt64, _ overrides: [String: Int]) throws {
        let definition = try CohortParser.parse(data: Data(Self.cohortText.utf8), file: "spell-property.yaml")
        let cohort = try CohortValidator.resolve(definition, overrides: overrides,
                                                 codeLists: DirectoryCodeListSource(directory: try CodeListFixture.referenceDirectory()))
        let d = LocalDate(year: 2025, month: 3, day: 1)!
        var rng = Random(state: seed)
        var x = ExtractFixture(practices: ["A1", "B2"].map { .init($0, extractDate: d.adding(days: 10)) })
        let values: [String?] = [nil, "0", "1", "7", "14", "27", "28", "28.0", "28.5", "30", "56", "89", "90", "91", "120", "365", "366", "-3"]
        for i in 0..<300 {
            let practice = rng.pick(["A1", "B2"]), patient = "p\(i)"
            x.add(.init(practiceID: practice, patientID: patient, yearOfBirth: 1980, monthOfBirth: 5, sex: "F", registrationStart: d.adding(days: -4000)))
            // A chain: notes whose starts step by about their cover, plus or minus the gap's edges.
            var start = d.adding(days: -rng.int(0...420))
            for _ in 0..<rng.int(0...6) {
                let value = rng.pick(values)
                x.event(practice, patient, start, rng.pick(["9D11.", "9D1B."]), .read2, value: value)
                let cover = FitNote.wholeDays(value) ?? cohort.parameters["cover"]!
                start = start.adding(days: cover + rng.pick([-20, -1, 0, 1, 7, 8, 9, 31]))
            }
            if rng.int(0...9) == 0 { x.event(practice, patient, d.adding(days: -rng.int(55...65)), "13J3.", .read2) }
        }
        try TestDatabase.withSchema { db in
            try x.write(to: db)
            let oracle = CohortOracle(cohort: cohort, extract: x, indexDate: d, historyAsOf: 0)
            let expectedSteps = oracle.steps(), expectedInvitations = oracle.invitations()
            #expect(expectedInvitations.count > 20 && expectedInvitations.count < 280, "\(expectedInvitations.count) invited: the chains do not reach the edges")
            for access in CohortQueryContext.RecordAccess.allCases {
                let engine = SQLEngine(cohort: cohort, logger: TestDatabase.quietLogger)
                let asOf = try ContactHistory.instant(db)
                let steps = try engine.steps(on: db, indexDate: d, practices: nil, historyAsOf: asOf, recordAccess: access)
                for (sql, mem) in zip(steps, expectedSteps) where sql != mem {
                    Issue.record("\(access.rawValue): \(mem.practiceID)/\(mem.patientID): SQL step \(sql.leftAt), in-memory \(mem.leftAt)")
                }
                let evaluation = try engine.evaluate(on: db, indexDate: d, practices: nil, historyAsOf: asOf, recordAccess: access)
                #expect(evaluation.invitations.count == expectedInvitations.count, "\(access.rawValue)")
                for (sql, mem) in zip(evaluation.invitations, expectedInvitations) where sql != mem {
                    Issue.record("\(access.rawValue): \(mem.practiceID)/\(mem.patientID): SQL evidence \(sql.evidence), in-memory \(mem.evidence)")
                }
            }
        }
    }
}
