import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// `recruit runs why` (the in-memory engine over one patient's records) and
/// the run itself (the SQL engine over every patient) agree on every patient
/// of a run of the reference cohort, over the spec suite's boundary cases
/// (one practice each, with their contact history) and a seeded random
/// extract with a random history: the same step for each, the same list, the
/// same yield. Changing either engine's meaning of a criterion alone breaks it.
@Suite("runs why agrees with the run on every patient", .enabled(if: TestDatabase.isAvailable))
struct RunWhyAgreementTests {
    static let d = LocalDate(year: 2026, month: 7, day: 1)!
    static let asOf = 1_782_950_400  // 2026-07-02T00:00:00Z: the history is older than the run

    @Test("every patient's step by runs why is the run's; the invitees and yield follow from it")
    func everyPatient() throws {
        let lists = try CodeListFixture.referenceDirectory()
        let cohort = try RunScenario.cohort(codeLists: lists)
        var edges = Set([0, 10, 30, 90, 365, 730, 1825])
        for value in cohort.parameters.values where value > 0 && value < 4000 { edges.insert(value) }
        var random = RandomExtract(seed: 31, indexDate: Self.d, edges: edges.sorted(), ages: [18, 64, 65], codeLists: CodeListFixture.reference)
        let extract = random.extract(patients: 300, extractDate: Self.d.adding(days: 5))
        let history = random.history(for: extract, cohortName: cohort.name, asOf: Self.asOf)

        try TestDatabase.withSchema { db in
            let loadID = try extract.write(to: db)
            try history.write(to: db, loadID: loadID)
            let boundaryLoad = try CohortBoundaryTests.extract.write(to: db)
            try CohortBoundaryTests.history.write(to: db, loadID: boundaryLoad)
            // The fixtures' runs took ids below 200 by hand: new runs number after them.
            try db.connection.execute("SELECT setval(pg_get_serial_sequence('runs', 'run_id'), 1000)")
            let outcome = try RunScenario.run(db, cohort, indexDate: Self.d)
            let runID = try #require(outcome.runID)
            let recorded = Set(try db.connection.query("SELECT practice_id || '/' || patient_id AS k FROM run_invitations WHERE run_id = \(runID)")
                .map { $0.string("k") })

            let explainer = PatientExplainer(database: db, logger: TestDatabase.quietLogger)
            var steps: [String: Int] = [:]
            var byPractice: [String: [Int]] = [:]
            for patient in extract.patients + CohortBoundaryTests.extract.patients {
                let why = try explainer.explain(runID: runID, patientID: patient.patientID, practiceID: patient.practiceID)
                let key = "\(patient.practiceID)/\(patient.patientID)"
                #expect(why.leftAt == why.engineLeftAt, "\(key): runs why says step \(why.leftAt), the SQL engine \(why.engineLeftAt)")
                #expect((why.leftAt == 0) == recorded.contains(key), "\(key): runs why step \(why.leftAt), on the run's list: \(recorded.contains(key))")
                #expect(why.onRecordedList == recorded.contains(key))
                steps[key] = why.leftAt
                byPractice[patient.practiceID, default: []].append(why.leftAt)
            }
            // The run's yield is what the explained steps add up to.
            let yields = try db.connection.query("SELECT practice_id, step, remaining FROM run_yields WHERE run_id = \(runID) AND practice_id <> '__total__'")
            #expect(!yields.isEmpty)
            for row in yields {
                let step = row.int("step") ?? -1
                let explained = byPractice[row.string("practice_id")]?.filter { $0 == 0 || $0 > step }.count ?? 0
                #expect(row.int("remaining") == explained, "practice \(row.string("practice_id")) step \(step)")
            }
            // The fixture exercises the cohort, history included: people left at most steps, some at 11 and 12, some invited.
            let reached = Set(steps.values)
            #expect(reached.isSuperset(of: [0, 11, 12]), "steps reached: \(reached.sorted())")
            #expect(reached.count >= cohort.criteria.count - 2, "steps reached: \(reached.sorted())")

            // The command line says the same (a few patients, as a user would ask).
            for key in steps.keys.sorted().prefix(4) {
                let parts = key.split(separator: "/").map(String.init)
                let cli = try RecruitCLI.run(["runs", "why", String(runID), parts[1], "--practice", parts[0], "--json"], schema: db.schema)
                #expect(cli.status == 0, "\(cli.stderr)")
                let json = try JSONDecoder().decode(JSONValue.self, from: Data(cli.stdout.utf8))
                #expect(json["left_at"] == .int(steps[key]!), "\(key)")
            }
        }
    }
}
