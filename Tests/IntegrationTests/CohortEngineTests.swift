import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// The engine's choices around the criteria: which data it reads (current
/// snapshots only), the index date, the practices, and byte-order output.
@Suite("Cohort engine: snapshots, index date, practices, ordering", .enabled(if: TestDatabase.isAvailable))
struct CohortEngineTests {
    static let d = LocalDate(year: 2026, month: 7, day: 1)!

    static func cohort() throws -> ResolvedCohort {
        let definition = try CohortParser.parse(fileAt: TestDatabase.repositoryRoot.appendingPathComponent("cohorts/chronic-pain-out-of-work.yaml"))
        return try CohortValidator.resolve(definition, codeLists: DirectoryCodeListSource(directory: try CodeListFixture.referenceDirectory()))
    }

    /// Adds someone who meets every criterion at `d`.
    static func eligible(_ x: inout ExtractFixture, _ practice: String, _ patient: String, d: LocalDate = d) {
        x.add(.init(practiceID: practice, patientID: patient, yearOfBirth: 1980, monthOfBirth: 5,
                    registrationStart: d.adding(days: -4000)))
        x.event(practice, patient, d.adding(days: -100), "N245.")
        x.event(practice, patient, d.adding(days: -30), "9D11.")
        for offset in [-200, -150, -100] { x.prescription(practice, patient, d.adding(days: offset), "322236009") }
    }

    func evaluator() throws -> SQLEngine { SQLEngine(cohort: try Self.cohort(), logger: TestDatabase.quietLogger) }

    @Test("invitees are ordered by practice then patient comparing bytes; __total__ comes last")
    func byteOrder() throws {
        var x = ExtractFixture(practices: [.init("b1", extractDate: Self.d), .init("Z9", extractDate: Self.d), .init("a1", extractDate: Self.d)])
        for practice in ["b1", "Z9", "a1"] {
            for patient in ["b", "a", "_x", "B", "Z-1", "10", "9"] { Self.eligible(&x, practice, patient) }
        }
        try TestDatabase.withSchema { db in
            try x.write(to: db)
            let evaluation = try evaluator().evaluate(on: db, indexDate: nil, practices: nil)
            let patients = ["10", "9", "B", "Z-1", "_x", "a", "b"]
            #expect(evaluation.invitations.map { "\($0.practiceID)/\($0.patientID)" }
                == ["Z9", "a1", "b1"].flatMap { p in patients.map { "\(p)/\($0)" } })
            #expect(evaluation.yields.map(\.practiceID) == ["Z9", "a1", "b1", "__total__"].flatMap { Array(repeating: $0, count: 13) })
            #expect(evaluation.yields.map(\.step) == Array(repeating: Array(0...12), count: 4).flatMap { $0 })
            #expect(evaluation.totals.map(\.remaining) == Array(repeating: 21, count: 13))
        }
    }

    @Test("only each practice's current snapshot counts: a replaced load's rows are not read")
    func currentSnapshotOnly() throws {
        var old = ExtractFixture(practices: [.init("A81001", extractDate: Self.d.adding(days: -31)), .init("B82002", extractDate: Self.d)])
        Self.eligible(&old, "A81001", "gone")
        Self.eligible(&old, "A81001", "stays")
        Self.eligible(&old, "B82002", "other")
        var new = ExtractFixture(practices: [.init("A81001", extractDate: Self.d)])
        Self.eligible(&new, "A81001", "stays")
        Self.eligible(&new, "A81001", "joined")
        // In the new snapshot "stays" has a cancer event: the old rows must not hide it, nor the old patient reappear.
        new.event("A81001", "stays", Self.d.adding(days: -10), "B1...")
        try TestDatabase.withSchema { db in
            try old.write(to: db)
            try new.write(to: db)
            let evaluation = try evaluator().evaluate(on: db, indexDate: nil, practices: nil)
            #expect(evaluation.invitations.map { "\($0.practiceID)/\($0.patientID)" } == ["A81001/joined", "B82002/other"])
            #expect(evaluation.yields.filter { $0.practiceID == "A81001" }.map(\.remaining) == [2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1])
            #expect(evaluation.practices.map(\.loadID).count == 2 && Set(evaluation.practices.map(\.loadID)).count == 2)
        }
    }

    @Test("the default index date is the snapshots' extract date; differing dates are refused unless D is given")
    func indexDate() throws {
        var x = ExtractFixture(practices: [.init("A81001", extractDate: Self.d), .init("B82002", extractDate: Self.d.adding(days: 150))])
        Self.eligible(&x, "A81001", "p1")
        Self.eligible(&x, "B82002", "p1", d: Self.d.adding(days: 150))
        try TestDatabase.withSchema { db in
            try x.write(to: db)
            let e = try evaluator()
            let error = try #require(throws: RecruitError.self) { try e.evaluate(on: db, indexDate: nil, practices: nil) }
            #expect(error.kind == .refused)
            #expect(error.message == "the practices' extract dates differ: 2026-07-01 (A81001); 2026-11-28 (B82002)")
            #expect(error.remedy == .give(.indexDate))
            // One practice: its own extract date.
            let a = try e.evaluate(on: db, indexDate: nil, practices: ["A81001"])
            #expect(a.indexDate == Self.d && a.invitations.count == 1 && a.practices.map(\.practiceID) == ["A81001"])
            #expect(a.yields.map(\.practiceID).allSatisfy { $0 == "A81001" || $0 == "__total__" })
            // D given: both practices; both invited at B's extract date.
            let both = try e.evaluate(on: db, indexDate: Self.d.adding(days: 150), practices: nil)
            #expect(both.indexDate == Self.d.adding(days: 150))
            #expect(both.invitations.map(\.practiceID) == ["A81001", "B82002"])
            // At D, B's chronic pain event (D + 50) and everything after it do not count.
            let atD = try e.evaluate(on: db, indexDate: Self.d, practices: ["B82002"])
            #expect(atD.invitations.isEmpty)
            #expect(atD.totals.map(\.remaining) == [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        }
    }

    @Test("an unknown practice, or no loaded practice, is refused naming it")
    func unknownPractice() throws {
        try TestDatabase.withSchema { db in
            let e = try evaluator()
            let none = try #require(throws: RecruitError.self) { try e.evaluate(on: db, indexDate: nil, practices: nil) }
            #expect(none.message.contains("no practice has a loaded snapshot"))
            var x = ExtractFixture(practices: [.init("A81001", extractDate: Self.d)])
            Self.eligible(&x, "A81001", "p1")
            try x.write(to: db)
            let unknown = try #require(throws: RecruitError.self) { try e.evaluate(on: db, indexDate: nil, practices: ["A81001", "Q99999"]) }
            #expect(unknown.message == "no loaded snapshot for practice Q99999: load its extract first")
            #expect(unknown.kind == .refused)
        }
    }

    @Test("a cohort with no record criteria still runs (population only)")
    func populationOnly() throws {
        let yaml = """
            name: adults
            version: "1"
            criteria:
              - {id: registered, label: Registered, include: {registered_at_index_date: true}}
              - {id: adult, label: Adult, include: {age: {min: 18}}}
              - {id: women, label: Women, include: {sex: [F]}}
            """
        let definition = try CohortParser.parse(data: Data(yaml.utf8), file: "adults.yaml")
        let cohort = try CohortValidator.resolve(definition, codeLists: DirectoryCodeListSource(directory: try CodeListFixture.referenceDirectory()))
        var x = ExtractFixture(practices: [.init("A81001", extractDate: Self.d)])
        x.add(.init(practiceID: "A81001", patientID: "w", yearOfBirth: 1990, monthOfBirth: 1, sex: "F", registrationStart: Self.d.adding(days: -10)))
        x.add(.init(practiceID: "A81001", patientID: "m", yearOfBirth: 1990, monthOfBirth: 1, sex: "M", registrationStart: Self.d.adding(days: -10)))
        x.add(.init(practiceID: "A81001", patientID: "c", yearOfBirth: 2015, monthOfBirth: 1, sex: "F", registrationStart: Self.d.adding(days: -10)))
        try TestDatabase.withSchema { db in
            try x.write(to: db)
            let evaluation = try SQLEngine(cohort: cohort, logger: TestDatabase.quietLogger).evaluate(on: db, indexDate: nil, practices: nil)
            #expect(evaluation.invitations.map(\.patientID) == ["w"])
            #expect(evaluation.invitations[0].evidence.isEmpty)
            // The deployment's safeguards follow the cohort's own criteria, as steps 4-6.
            #expect(evaluation.totals.map(\.remaining) == [3, 3, 2, 1, 1, 1, 1])
            #expect(cohort.criteria.map(\.id) == ["registered", "adult", "women", "research_dissent", "recently_invited", "contact_ended"])
            #expect(cohort.criteria.map(\.safeguard) == [false, false, false, true, true, true])
        }
    }
}
