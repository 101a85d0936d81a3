import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// The SQL engine against the in-memory oracle on seeded random extracts whose
/// dates cluster at every window edge: the two must agree on every patient's
/// step, every yield row and every invitee's evidence.
@Suite("Cohort engine: SQL agrees with the oracle on random extracts", .enabled(if: TestDatabase.isAvailable))
struct CohortPropertyTests {
    /// A cohort using every kind of condition and option the language has.
    static let kitchenSink = """
        name: kitchen-sink
        version: "2"
        description: Every kind of condition, for the property tests.
        parameters:
          min_age: 18
          lookback: {default: 400, description: days}
          recent: 30
          span: 90
          history_days: 365
        criteria:
          - id: population
            label: Adults registered for 90 days and alive
            include:
              all_of:
                - registered_at_index_date: true
                - registered_for_days: 90
                - alive_at_index_date: true
                - age: {min: min_age}
          - id: sex
            label: Female, indeterminate or unknown
            include: {sex: [F, I, U]}
          - id: pain_or_medication
            label: Pain, or repeated medication
            include:
              any_of:
                - has_events: {codelists: [chronic-pain], window: {from: D - lookback, to: D - recent}, code_systems: [read2, snomed]}
                - has_prescriptions: {codelists: [opioid-analgesics], window: {from: D - lookback}, min_count: 2, min_span_days: span}
                - latest_prescription: {codelists: [gabapentinoids, opioid-analgesics], is_in: gabapentinoids, on_same_date: others_win}
          - id: no_repeated_cancer
            label: Not two cancer or palliative care events in five years
            include:
              not:
                has_events: {codelists: [cancer, palliative-care], window: {from: D - 1825, to: D}, min_count: 2}
          - id: two_fit_notes
            label: Two fit notes or unemployment codes
            include:
              all_of:
                - has_events: {codelists: [fit-notes, unemployment], window: {from: D - 730, to: D}, min_count: 2}
                - not: {has_events: {codelists: [research-opt-out], window: {from: D - 90, to: D - 30}}}
          - id: dissent
            label: Dissent
            exclude:
              latest_event: {codelists: [research-opt-out, research-opt-out-withdrawn], is_in: research-opt-out, on_same_date: others_win, window: {from: D - 3000}}
          - id: history
            label: Invited or contact ended
            exclude:
              any_of:
                - previously_invited: {window: {from: D - history_days, to: D - 10}}
                - contact_ended: {outcomes: [declined, opted_out, screened_out]}
        """

    static let asOf = 1_782_950_400

    struct Scenario: Sendable, CustomStringConvertible {
        var seed: UInt64
        var cohort: String  // "reference" or "kitchen-sink"
        var indexDate: LocalDate
        var overrides: [String: Int] = [:]
        var practices: [String]? = nil
        var description: String { "\(cohort) seed \(seed) D=\(indexDate)\(overrides.isEmpty ? "" : " \(overrides)")\(practices.map { " practices \($0)" } ?? "")" }
    }

    static let scenarios: [Scenario] = [
        Scenario(seed: 1, cohort: "reference", indexDate: LocalDate(year: 2026, month: 7, day: 1)!),
        Scenario(seed: 2, cohort: "reference", indexDate: LocalDate(year: 2024, month: 2, day: 29)!),
        Scenario(seed: 3, cohort: "reference", indexDate: LocalDate(year: 2025, month: 3, day: 1)!, practices: ["Z9", "a81001"]),
        Scenario(seed: 4, cohort: "reference", indexDate: LocalDate(year: 2026, month: 1, day: 31)!,
                 overrides: ["min_prescriptions": 2, "min_prescription_span_days": 30, "chronic_pain_lookback_days": 365, "max_age": 30]),
        Scenario(seed: 5, cohort: "reference", indexDate: LocalDate(year: 2025, month: 12, day: 1)!,
                 overrides: ["fit_note_lookback_days": 90, "cancer_lookback_days": 365, "reinvite_interval_days": 400]),
        Scenario(seed: 6, cohort: "kitchen-sink", indexDate: LocalDate(year: 2026, month: 7, day: 1)!),
        Scenario(seed: 7, cohort: "kitchen-sink", indexDate: LocalDate(year: 2024, month: 3, day: 1)!, overrides: ["span": 0, "lookback": 90]),
        Scenario(seed: 8, cohort: "kitchen-sink", indexDate: LocalDate(year: 2025, month: 8, day: 1)!, practices: ["b2"]),
    ]

    @Test("SQL and oracle agree on steps, yields and evidence", arguments: scenarios)
    func agree(_ scenario: Scenario) throws {
        let lists = try CodeListFixture.referenceDirectory()
        let definition: CohortDefinition
        if scenario.cohort == "reference" {
            definition = try CohortParser.parse(fileAt: TestDatabase.repositoryRoot.appendingPathComponent("cohorts/chronic-pain-out-of-work.yaml"))
        } else {
            definition = try CohortParser.parse(data: Data(Self.kitchenSink.utf8), file: "kitchen-sink.yaml")
        }
        let cohort = try CohortValidator.resolve(definition, overrides: scenario.overrides, codeLists: DirectoryCodeListSource(directory: lists))
        var edges = Set([0, 10, 30, 90, 365, 400, 730, 1825, 3000])
        for value in cohort.parameters.values where value > 0 && value < 4000 { edges.insert(value) }
        var random = RandomExtract(seed: scenario.seed, indexDate: scenario.indexDate, edges: edges.sorted(),
                                   ages: [18, 30, 64, 65], codeLists: CodeListFixture.reference)
        let extract = random.extract(patients: 400, extractDate: scenario.indexDate.adding(days: 5))
        let history = random.history(for: extract, cohortName: cohort.name, asOf: Self.asOf)
        let ignored = history.runs.first.map { [$0.runID] } ?? []

        try TestDatabase.withSchema { db in
            let loadID = try extract.write(to: db)
            try history.write(to: db, loadID: loadID)
            let evaluator = SQLEngine(cohort: cohort, logger: TestDatabase.quietLogger)
            let asOf = HistoryFixture.timestamp(Self.asOf)
            let oracle = CohortOracle(cohort: cohort, extract: extract, history: history, indexDate: scenario.indexDate,
                                      historyAsOf: Self.asOf, ignoredRunIDs: Set(ignored))

            let expected = oracle.steps(practices: scenario.practices)
            let yields = oracle.yields(practices: scenario.practices)
            let invitations = oracle.invitations(practices: scenario.practices)
            // Both ways of finding the records must give the same answer.
            for access in CohortQueryContext.RecordAccess.allCases {
                let steps = try evaluator.steps(on: db, indexDate: scenario.indexDate, practices: scenario.practices,
                                                historyAsOf: asOf, ignoredRunIDs: ignored, recordAccess: access)
                #expect(steps.count == expected.count)
                for (sql, mem) in zip(steps, expected) where sql != mem {
                    Issue.record("\(access): patient \(mem.practiceID)/\(mem.patientID): SQL step \(sql.leftAt), oracle step \(mem.leftAt)")
                }
                let evaluation = try evaluator.evaluate(on: db, indexDate: scenario.indexDate, practices: scenario.practices,
                                                        historyAsOf: asOf, ignoredRunIDs: ignored, recordAccess: access)
                #expect(evaluation.yields == yields, "\(access)")
                #expect(evaluation.invitations.count == invitations.count, "\(access)")
                for (sql, mem) in zip(evaluation.invitations, invitations) where sql != mem {
                    Issue.record("\(access): invitee \(mem.practiceID)/\(mem.patientID): SQL evidence \(sql.evidence), oracle \(mem.evidence)")
                }
            }
            // The fixture must exercise the cohort: people left at every step, and some invited.
            let reached = Set(expected.map(\.leftAt))
            #expect(reached.count >= cohort.criteria.filter { !$0.safeguard }.count - 2, "steps reached: \(reached.sorted())")
        }
    }
}
