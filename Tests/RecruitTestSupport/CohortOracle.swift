import Foundation
import Postgres
import RecruitKit

/// The tests' oracle: an extract held in memory (``ExtractFixture``, or the
/// canonical files read with ``ExtractFixture/read(directory:practices:)``)
/// and a contact history (``HistoryFixture``), evaluated patient by patient
/// by the library's ``InMemoryEngine``, the reference every engine is tested
/// against (as in ehrQL). This type only hands each patient's records and
/// history to the engine and gathers the steps, yields and invitations in
/// the SQL engine's order; it gives no criterion a meaning of its own.
public struct CohortOracle {
    public let cohort: ResolvedCohort
    public let extract: ExtractFixture
    public let history: HistoryFixture
    /// The index date.
    public let d: LocalDate
    /// History recorded before this instant counts (seconds since 1970).
    public let historyAsOf: Int
    public let ignoredRunIDs: Set<Int>
    let engine: InMemoryEngine

    public init(cohort: ResolvedCohort, extract: ExtractFixture, history: HistoryFixture = HistoryFixture(), indexDate: LocalDate,
                historyAsOf: Int, ignoredRunIDs: Set<Int> = []) {
        self.cohort = cohort
        self.extract = extract
        self.history = history
        self.d = indexDate
        self.historyAsOf = historyAsOf
        self.ignoredRunIDs = ignoredRunIDs
        self.engine = InMemoryEngine(cohort: cohort)
    }

    /// The practices evaluated: `practices`, or all of the extract's.
    func practiceIDs(_ practices: [String]?) -> [String] {
        let ids = (practices?.isEmpty == false) ? Array(Set(practices!)) : extract.practices.map(\.id)
        return ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Every patient's step, by practice then patient in byte order.
    public func steps(practices: [String]? = nil) -> [PatientStep] {
        evaluations(practices: practices).map(\.step)
    }

    /// The yield rows: per practice steps 0…N, then `__total__`.
    public func yields(practices: [String]? = nil) -> [YieldRow] {
        let ids = practiceIDs(practices)
        let steps = self.steps(practices: practices)
        let names = [""] + cohort.criteria.map(\.id)
        var rows: [YieldRow] = []
        for practice in ids + [YieldRow.totalPracticeID] {
            let mine = practice == YieldRow.totalPracticeID ? steps : steps.filter { $0.practiceID == practice }
            for step in 0...cohort.criteria.count {
                rows.append(YieldRow(practiceID: practice, step: step, criterion: names[step],
                                     remaining: mine.filter { $0.leftAt == 0 || $0.leftAt > step }.count))
            }
        }
        return rows
    }

    /// The invitees with their evidence.
    public func invitations(practices: [String]? = nil) -> [Invitation] {
        evaluations(practices: practices).filter { $0.leftAt == 0 }.map {
            Invitation(practiceID: $0.step.practiceID, patientID: $0.step.patientID, evidence: $0.evidence)
        }
    }

    /// Every patient evaluated, by practice then patient in byte order.
    public func evaluations(practices: [String]? = nil) -> [PatientEvaluation] {
        let wanted = Set(practiceIDs(practices))
        let records = recordsByPatient()
        return extract.patients.filter { wanted.contains($0.practiceID) }
            .sorted { PatientKey($0.practiceID, $0.patientID) < PatientKey($1.practiceID, $1.patientID) }
            .map { p in
                let key = PatientKey(p.practiceID, p.patientID)
                let patient = PatientRecords(practiceID: p.practiceID, patientID: p.patientID, yearOfBirth: p.yearOfBirth,
                                             monthOfBirth: p.monthOfBirth, sex: p.sex, registrationStart: p.registrationStart,
                                             registrationEnd: p.registrationEnd, deathDate: p.deathDate, records: records[key] ?? [])
                return engine.evaluate(patient, indexDate: d, history: patientHistory(key))
            }
    }

    func recordsByPatient() -> [PatientKey: [PatientRecords.Coded]] {
        var out: [PatientKey: [PatientRecords.Coded]] = [:]
        for e in extract.events {
            out[PatientKey(e.practiceID, e.patientID), default: []].append(
                PatientRecords.Coded(source: .events, date: e.date, code: SystemCode(system: e.system, code: e.code), value: e.value))
        }
        for r in extract.prescriptions {
            out[PatientKey(r.practiceID, r.patientID), default: []].append(
                PatientRecords.Coded(source: .prescriptions, date: r.date, code: SystemCode(system: r.system, code: r.code)))
        }
        return out
    }

    /// The patient's contact history for this cohort as of `historyAsOf`.
    func patientHistory(_ key: PatientKey) -> PatientHistory {
        var result = PatientHistory()
        // This cohort's invitations, and those of the cohorts the cross-study safeguard names.
        let cohorts = Set([cohort.name] + cohort.safeguards.otherCohorts)
        func other(_ name: String) -> String? { name == cohort.name ? nil : name }
        for run in history.runs where cohorts.contains(run.cohortName) && run.invitations.contains(key) {
            guard let rp = run.practices.first(where: { $0.practiceID == key.practiceID }) else { continue }
            result.invitations.append(PatientHistory.Invitation(
                runID: run.runID, status: RunStatus(rawValue: run.status), indexDate: run.indexDate,
                beforeInstant: run.issuedAt.map { $0 < historyAsOf } ?? false,
                notSuperseded: rp.supersededBy == nil || (rp.supersededAt.map { $0 >= historyAsOf } ?? false),
                supersededBy: rp.supersededBy, ignored: ignoredRunIDs.contains(run.runID), otherCohort: other(run.cohortName)))
        }
        for i in history.invitations where cohorts.contains(i.cohortName) && i.patient == key {
            result.invitations.append(PatientHistory.Invitation(runID: nil, status: nil, indexDate: i.indexDate, beforeInstant: i.recordedAt < historyAsOf,
                                                                otherCohort: other(i.cohortName)))
        }
        for o in history.outcomes where o.cohortName == cohort.name && o.patient == key {
            result.outcomes.append(PatientHistory.Outcome(outcome: o.outcome, date: nil, runID: nil, beforeInstant: o.recordedAt < historyAsOf))
        }
        return result
    }
}
