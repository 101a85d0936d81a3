import Foundation
import Postgres
import RecruitKit

/// The plain, in-memory evaluator of a cohort: the tests' oracle.
///
/// It reads the same ``ResolvedCohort`` as the SQL compiler and an extract
/// held in memory (``ExtractFixture``, or the canonical files read with
/// ``ExtractFixture/read(directory:practices:)``), and computes each patient's
/// step straight from the spec's words, one patient and one record at a time,
/// with none of the SQL engine's machinery (no masks, no aggregates, no
/// widest-window prefilter). As in ehrQL, every engine is tested against it.
public struct CohortOracle {
    public let cohort: ResolvedCohort
    public let extract: ExtractFixture
    public let history: HistoryFixture
    /// The index date.
    public let d: LocalDate
    /// History recorded before this instant counts (seconds since 1970).
    public let historyAsOf: Int
    public let ignoredRunIDs: Set<Int>

    public init(cohort: ResolvedCohort, extract: ExtractFixture, history: HistoryFixture = HistoryFixture(), indexDate: LocalDate,
                historyAsOf: Int, ignoredRunIDs: Set<Int> = []) {
        self.cohort = cohort
        self.extract = extract
        self.history = history
        self.d = indexDate
        self.historyAsOf = historyAsOf
        self.ignoredRunIDs = ignoredRunIDs
    }

    /// A record of either kind, as the criteria see it.
    struct Record {
        var source: RecordSource
        var date: LocalDate
        var code: SystemCode
    }

    /// The practices evaluated: `practices`, or all of the extract's.
    func practiceIDs(_ practices: [String]?) -> [String] {
        let ids = (practices?.isEmpty == false) ? Array(Set(practices!)) : extract.practices.map(\.id)
        return ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Every patient's step, by practice then patient in byte order.
    public func steps(practices: [String]? = nil) -> [PatientStep] {
        let wanted = Set(practiceIDs(practices))
        let records = recordsByPatient()
        return extract.patients.filter { wanted.contains($0.practiceID) }
            .sorted { PatientKey($0.practiceID, $0.patientID) < PatientKey($1.practiceID, $1.patientID) }
            .map { p in
                let mine = records[PatientKey(p.practiceID, p.patientID)] ?? []
                return PatientStep(practiceID: p.practiceID, patientID: p.patientID, leftAt: leftAt(p, mine))
            }
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
        let records = recordsByPatient()
        let byKey = Dictionary(extract.patients.map { (PatientKey($0.practiceID, $0.patientID), $0) }, uniquingKeysWith: { a, _ in a })
        return steps(practices: practices).filter { $0.leftAt == 0 }.map { step in
            let key = PatientKey(step.practiceID, step.patientID)
            let mine = records[key] ?? []
            var evidence: [CriterionEvidence] = []
            for criterion in cohort.criteria where !criterion.evidenceLeaves.isEmpty {
                evidence.append(self.evidence(criterion, byKey[key]!, mine))
            }
            return Invitation(practiceID: step.practiceID, patientID: step.patientID, evidence: evidence)
        }
    }

    func recordsByPatient() -> [PatientKey: [Record]] {
        var out: [PatientKey: [Record]] = [:]
        for e in extract.events {
            out[PatientKey(e.practiceID, e.patientID), default: []].append(Record(source: .events, date: e.date, code: SystemCode(system: e.system, code: e.code)))
        }
        for r in extract.prescriptions {
            out[PatientKey(r.practiceID, r.patientID), default: []].append(Record(source: .prescriptions, date: r.date, code: SystemCode(system: r.system, code: r.code)))
        }
        return out
    }

    // MARK: Criteria

    func leftAt(_ p: ExtractFixture.Patient, _ records: [Record]) -> Int {
        for criterion in cohort.criteria {
            let holds = self.holds(criterion.condition, p, records)
            if (criterion.effect == .include && !holds) || (criterion.effect == .exclude && holds) { return criterion.step }
        }
        return 0
    }

    func minus(_ n: ResolvedNumber) -> LocalDate { d.adding(days: -n.value) }

    func holds(_ c: ResolvedCondition, _ p: ExtractFixture.Patient, _ records: [Record]) -> Bool {
        switch c {
        case .registeredAtIndexDate:
            return p.registrationStart <= d && (p.registrationEnd == nil || p.registrationEnd! > d)
        case .registeredFor(let days):
            return p.registrationStart <= minus(days)
        case .aliveAtIndexDate:
            return p.deathDate == nil || p.deathDate! > d
        case .age(let min, let max):
            let dob = LocalDate(year: p.yearOfBirth, month: p.monthOfBirth ?? 7, day: 1)!
            let age = dob.completedYears(at: d)
            return (min.map { age >= $0.value } ?? true) && (max.map { age <= $0.value } ?? true)
        case .sex(let codes):
            return codes.contains(p.sex)
        case .records(let r):
            let matching = self.matching(records, source: r.source, lists: r.codeLists, window: r.window, systems: r.codeSystems)
            guard matching.count >= r.minCount.value else { return false }
            if let span = r.minSpanDays {
                let dates = matching.map(\.date)
                return dates.min()!.days(to: dates.max()!) >= span.value
            }
            return true
        case .latest(let l):
            let inList = matching(records, source: l.source, lists: [l.isIn], window: l.window, systems: l.codeSystems)
            let others = matching(records, source: l.source, lists: l.codeLists.filter { $0 != l.isIn }, window: l.window, systems: l.codeSystems)
                .filter { !inLists($0, [l.isIn]) }
            guard let a = inList.map(\.date).max() else { return false }
            guard let b = others.map(\.date).max() else { return true }
            return a > b || (a == b && l.ties == .isInWins)
        case .previouslyInvited(let window):
            let key = PatientKey(p.practiceID, p.patientID)
            func inWindow(_ date: LocalDate) -> Bool { window.contains(date.dayNumber, indexDay: d.dayNumber) }
            let fromRuns = history.runs.contains { run in
                guard run.cohortName == cohort.name, run.status == "issued", let issued = run.issuedAt, issued < historyAsOf,
                      !ignoredRunIDs.contains(run.runID), inWindow(run.indexDate), run.invitations.contains(key),
                      let rp = run.practices.first(where: { $0.practiceID == p.practiceID }) else { return false }
                return rp.supersededBy == nil || (rp.supersededAt.map { $0 >= historyAsOf } ?? false)
            }
            let imported = history.invitations.contains {
                $0.cohortName == cohort.name && $0.patient == key && $0.recordedAt < historyAsOf && inWindow($0.indexDate)
            }
            return fromRuns || imported
        case .contactEnded(let outcomes):
            let key = PatientKey(p.practiceID, p.patientID)
            return history.outcomes.contains {
                $0.cohortName == cohort.name && $0.patient == key && outcomes.contains($0.outcome) && $0.recordedAt < historyAsOf
            }
        case .allOf(let cs):
            return cs.allSatisfy { holds($0, p, records) }
        case .anyOf(let cs):
            return cs.contains { holds($0, p, records) }
        case .not(let inner):
            return !holds(inner, p, records)
        }
    }

    func inLists(_ r: Record, _ lists: [String]) -> Bool {
        lists.contains { cohort.codeList($0)?.codes.contains(r.code) ?? false }
    }

    func matching(_ records: [Record], source: RecordSource, lists: [String], window: ResolvedWindow, systems: [CodeSystem]?) -> [Record] {
        records.filter { r in
            r.source == source && inLists(r, lists) && window.contains(r.date.dayNumber, indexDay: d.dayNumber)
                && (systems.map { $0.contains(r.code.system) } ?? true)
        }
    }

    // MARK: Evidence

    func evidence(_ criterion: ResolvedCriterion, _ p: ExtractFixture.Patient, _ records: [Record]) -> CriterionEvidence {
        let holding = criterion.evidenceLeaves.filter { holds($0, p, records) }
        var candidates: [Record] = []
        var count: Int?, first: LocalDate?, last: LocalDate?
        for leaf in holding {
            switch leaf {
            case .records(let r):
                let m = matching(records, source: r.source, lists: r.codeLists, window: r.window, systems: r.codeSystems)
                candidates += m
                if r.source == .prescriptions && count == nil {
                    count = m.count
                    first = m.map(\.date).min()
                    last = m.map(\.date).max()
                }
            case .latest(let l):
                candidates += matching(records, source: l.source, lists: [l.isIn], window: l.window, systems: l.codeSystems)
            default:
                break
            }
        }
        // The latest; on the same date the smallest code, then coding system, in byte order.
        let best = candidates.min { a, b in
            if a.date != b.date { return a.date > b.date }
            if a.code.code != b.code.code { return a.code.code.utf8.lexicographicallyPrecedes(b.code.code.utf8) }
            return a.code.system.rawValue.utf8.lexicographicallyPrecedes(b.code.system.rawValue.utf8)
        }
        var e = CriterionEvidence(criterionID: criterion.id, code: best?.code.code ?? "", codeSystem: best?.code.system.rawValue ?? "",
                                  term: best.map { cohort.term(of: $0.code, lists: criterion.evidenceLists) } ?? "", date: best?.date)
        if criterion.hasPrescriptionEvidence {
            e.count = count
            e.first = first
            e.last = last
        }
        return e
    }
}
