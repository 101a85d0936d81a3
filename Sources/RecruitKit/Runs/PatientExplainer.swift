import Foundation
import Logging
import Postgres

/// Explains one patient of a recorded run (`recruit runs why`): reads that
/// patient's records and contact history on the run's own inputs (its
/// snapshot, code-list versions, definition and history instant), evaluates
/// them with the ``InMemoryEngine``, which keeps the records each decision
/// rests on, and checks that the SQL engine, on the same inputs, removed the
/// patient at the same step.
///
/// - Important: the patient id is the user's input; it is never logged or put
///   in an error message.
public struct PatientExplainer {
    public let database: Database
    public let logger: Logger

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Explains patient `patientID` of run `runID`.
    ///
    /// - Parameters:
    ///   - practiceID: the patient's practice; needed only when the id is used in
    ///     more than one of the run's practices.
    /// - Throws: ``RecruitError`` (refused) when the run or the patient is not
    ///   found, or the run's snapshot is gone.
    public func explain(runID: Int, patientID: String, practiceID: String?) throws -> PatientExplanation {
        let c = database.connection
        let run = try RunRecord.load(runID, on: c)
        if let practiceID, !run.practiceIDs.contains(practiceID) {
            throw RecruitError.refused("run \(runID) did not cover practice \(practiceID) (it covered \(run.practiceIDs.joined(separator: ", ")))")
        }
        let cohort = try RunReproducer.resolveCohort(of: run, on: c)
        return try RecordedSnapshots.reading(run, on: database) {
            let candidates = try c.query("""
                SELECT practice_id, load_id, year_of_birth, month_of_birth, sex::text AS sex, registration_start::text AS registration_start,
                       registration_end::text AS registration_end, death_date::text AS death_date
                FROM current_patients
                WHERE patient_id = \(patientID) AND practice_id = ANY(\(practiceID.map { [$0] } ?? run.practiceIDs)::text[])
                ORDER BY practice_id COLLATE "C"
                """)
            guard let row = candidates.first else {
                throw RecruitError.refused("run \(runID) has no patient with the id given in \(practiceID.map { "practice \($0)" } ?? "its practices (\(run.practiceIDs.joined(separator: ", ")))")")
            }
            guard candidates.count == 1 else {
                throw RecruitError.refused("the id given names patients in \(candidates.count) practices of run \(runID) (\(candidates.map { $0.string("practice_id") }.joined(separator: ", ")))",
                                           remedy: .give(.practice))
            }
            let practice = row.string("practice_id")
            let d = run.indexDate
            let records = PatientRecords(
                practiceID: practice, patientID: patientID, yearOfBirth: row.int("year_of_birth") ?? 0, monthOfBirth: row.int("month_of_birth"),
                sex: row.string("sex"), registrationStart: row.date("registration_start")!, registrationEnd: row.date("registration_end"),
                deathDate: row.date("death_date"), records: try codedRecords(practice: practice, patientID: patientID))
            let patient = PatientExplanation.Patient(
                yearOfBirth: records.yearOfBirth, monthOfBirth: records.monthOfBirth, dateOfBirth: records.dateOfBirth,
                ageAtIndexDate: records.dateOfBirth.completedYears(at: d), sex: records.sex, registrationStart: records.registrationStart,
                registrationEnd: records.registrationEnd, deathDate: records.deathDate)
            let history = try self.history(run: run, cohort: cohort, practice: practice, patientID: patientID)
            let evaluation = InMemoryEngine(cohort: cohort).evaluate(records, indexDate: d, history: history)
            let leftAt = evaluation.leftAt
            let steps = try SQLEngine(cohort: cohort, logger: logger).steps(
                on: database, indexDate: d, practices: [practice], historyAsOf: run.historyAsOf, ignoredRunIDs: run.ignoredRunIDs)
            let engineLeftAt = steps.first { $0.patientID == patientID }?.leftAt ?? -1
            if engineLeftAt != leftAt {
                // A fact of the explanation (engineLeftAt), which the command line words as a warning.
                logger.info("explanation and engine disagree", metadata: ["run_id": "\(runID)", "practice": "\(practice)",
                                                                            "explained": "\(leftAt)", "engine": "\(engineLeftAt)"])
            }
            let listed = try c.query("""
                SELECT first_listed FROM run_invitations WHERE run_id = \(runID) AND practice_id = \(practice) AND patient_id = \(patientID)
                """)
            let onList = listed.count == 1
            // The stored flag, and the earlier listing it rests on (as the run's history instant saw it).
            let listing = onList ? PatientExplanation.Listing(
                firstListed: listed[0].bool("first_listed"), before: try FirstListing.before(practice, patientID, run: run, on: c)) : nil
            return PatientExplanation(runID: runID, practiceID: practice, patientID: patientID, indexDate: d, historyAsOf: run.historyAsOf,
                                      loadID: row.int("load_id") ?? 0, onRecordedList: onList, listing: listing, leftAt: leftAt,
                                      engineLeftAt: engineLeftAt, patient: patient, criteria: evaluation.criteria)
        }
    }

    /// The patient's events and prescriptions (the engine keeps those in the cohort's lists).
    func codedRecords(practice: String, patientID: String) throws -> [PatientRecords.Coded] {
        let rows = try database.connection.query("""
            SELECT 'e' AS src, event_date::text AS d, code, code_system, value::text AS value FROM current_events
            WHERE practice_id = \(practice) AND patient_id = \(patientID)
            UNION ALL
            SELECT 'p', issue_date::text, code, code_system, NULL FROM current_prescriptions
            WHERE practice_id = \(practice) AND patient_id = \(patientID)
            """)
        return rows.compactMap { row in
            guard let system = CodeSystem(rawValue: row.string("code_system")), let date = row.date("d") else { return nil }
            return PatientRecords.Coded(source: row.string("src") == "e" ? .events : .prescriptions, date: date,
                                        code: SystemCode(system: system, code: row.string("code")), value: row["value"])
        }
    }

    /// The patient's run history for this cohort, each row with whether it
    /// counts as the SQL engine counts it (recorded before the run was made).
    func history(run: RunRecord, cohort: ResolvedCohort, practice: String, patientID: String) throws -> PatientHistory {
        let c = database.connection
        let asOf = run.historyAsOf
        // This cohort's, and those of the other cohorts the cross-study safeguard names.
        let cohorts = [cohort.name] + cohort.safeguards.otherCohorts.filter { $0 != cohort.name }
        let invitations = try c.query("""
            SELECT r.run_id, r.cohort_name, r.index_date::text AS index_date, r.status, (r.issued_at < \(asOf)::timestamptz) AS issued_before,
                   (rp.superseded_by_run_id IS NULL OR rp.superseded_at >= \(asOf)::timestamptz) AS not_superseded,
                   rp.superseded_by_run_id, r.run_id = ANY(\(run.ignoredRunIDs)::int8[]) AS ignored
            FROM run_invitations ri
            JOIN runs r ON r.run_id = ri.run_id
            JOIN run_practices rp ON rp.run_id = ri.run_id AND rp.practice_id = ri.practice_id
            WHERE ri.practice_id = \(practice) AND ri.patient_id = \(patientID) AND r.cohort_name = ANY(\(cohorts)::text[])
              AND r.run_id <> \(run.runID)
            ORDER BY r.cohort_name <> \(cohort.name), r.index_date, r.run_id
            """).map { row in
            PatientHistory.Invitation(runID: row.int("run_id"), status: RunStatus(rawValue: row.string("status")), indexDate: row.date("index_date")!,
                                      beforeInstant: row.bool("issued_before") ?? false, notSuperseded: row.bool("not_superseded") ?? false,
                                      supersededBy: row.int("superseded_by_run_id"), ignored: row.bool("ignored") ?? false,
                                      otherCohort: row.string("cohort_name") == cohort.name ? nil : row.string("cohort_name"))
        }
        let imported = try c.query("""
            SELECT cohort_name, index_date::text AS index_date, recorded_at < \(asOf)::timestamptz AS before
            FROM history_invitations
            WHERE practice_id = \(practice) AND patient_id = \(patientID) AND cohort_name = ANY(\(cohorts)::text[])
            ORDER BY cohort_name <> \(cohort.name), index_date
            """).map { row in
            PatientHistory.Invitation(runID: nil, status: nil, indexDate: row.date("index_date")!, beforeInstant: row.bool("before") ?? false,
                                      otherCohort: row.string("cohort_name") == cohort.name ? nil : row.string("cohort_name"))
        }
        let outcomes = try c.query("""
            SELECT outcome, outcome_date::text AS outcome_date, run_id, recorded_at < \(asOf)::timestamptz AS before
            FROM contact_outcomes
            WHERE practice_id = \(practice) AND patient_id = \(patientID) AND cohort_name = \(cohort.name)
            ORDER BY outcome_date NULLS LAST, outcome_id
            """).map { row in
            PatientHistory.Outcome(outcome: row.string("outcome"), date: row.date("outcome_date"), runID: row.int("run_id"),
                                   beforeInstant: row.bool("before") ?? false)
        }
        return PatientHistory(invitations: invitations + imported, outcomes: outcomes)
    }
}
