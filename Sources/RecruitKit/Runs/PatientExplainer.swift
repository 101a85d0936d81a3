import Foundation
import Logging
import Postgres

/// Explains one patient of a recorded run (`recruit runs why`): evaluates every
/// criterion for that patient on the run's own inputs — its snapshot, code-list
/// versions, definition and history instant — in plain Swift, one record at a
/// time, keeping the records each decision rests on; then checks that the SQL
/// engine, on the same inputs, removed the patient at the same step.
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

    /// A coded record as the criteria see it.
    struct Coded {
        var source: RecordSource
        var date: LocalDate
        var code: SystemCode
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
                throw RecruitError.refused("the id given names patients in \(candidates.count) practices of run \(runID) (\(candidates.map { $0.string("practice_id") }.joined(separator: ", "))): give --practice")
            }
            let practice = row.string("practice_id")
            let d = run.indexDate
            let dob = LocalDate(year: row.int("year_of_birth") ?? 0, month: row.int("month_of_birth") ?? 7, day: 1)!
            let patient = PatientExplanation.Patient(
                yearOfBirth: row.int("year_of_birth") ?? 0, monthOfBirth: row.int("month_of_birth"), dateOfBirth: dob,
                ageAtIndexDate: dob.completedYears(at: d), sex: row.string("sex"), registrationStart: row.date("registration_start")!,
                registrationEnd: row.date("registration_end"), deathDate: row.date("death_date"))
            let records = try codedRecords(practice: practice, patientID: patientID, cohort: cohort)
            let history = try self.history(run: run, cohort: cohort, practice: practice, patientID: patientID)
            let context = Context(cohort: cohort, d: d, patient: patient, records: records, history: history)
            var criteria: [PatientExplanation.Criterion] = []
            var leftAt = 0
            for criterion in cohort.criteria {
                let verdict = context.evaluate(criterion.condition)
                let passed = criterion.effect == .include ? verdict.holds : !verdict.holds
                let removed = !passed && leftAt == 0
                if removed { leftAt = criterion.step }
                criteria.append(.init(step: criterion.step, id: criterion.id, label: criterion.label, effect: criterion.effect.rawValue,
                                      held: verdict.holds, passed: passed, removedHere: removed, facts: verdict.facts,
                                      records: verdict.records))
            }
            let steps = try SQLEngine(cohort: cohort, logger: logger).steps(
                on: database, indexDate: d, practices: [practice], historyAsOf: run.historyAsOf, ignoredRunIDs: run.ignoredRunIDs)
            let engineLeftAt = steps.first { $0.patientID == patientID }?.leftAt ?? -1
            if engineLeftAt != leftAt {
                logger.error("explanation and engine disagree", metadata: ["run_id": "\(runID)", "practice": "\(practice)",
                                                                            "explained": "\(leftAt)", "engine": "\(engineLeftAt)"])
            }
            let onList = try c.query("""
                SELECT 1 FROM run_invitations WHERE run_id = \(runID) AND practice_id = \(practice) AND patient_id = \(patientID)
                """).count == 1
            return PatientExplanation(runID: runID, practiceID: practice, patientID: patientID, indexDate: d, historyAsOf: run.historyAsOf,
                                      loadID: row.int("load_id") ?? 0, onRecordedList: onList, leftAt: leftAt,
                                      engineLeftAt: engineLeftAt, patient: patient, criteria: criteria)
        }
    }

    /// The patient's events and prescriptions whose code is in one of the cohort's lists.
    func codedRecords(practice: String, patientID: String, cohort: ResolvedCohort) throws -> [Coded] {
        let known = cohort.codeLists.reduce(into: Set<SystemCode>()) { $0.formUnion($1.codes) }
        var out: [Coded] = []
        let rows = try database.connection.query("""
            SELECT 'e' AS src, event_date::text AS d, code, code_system FROM current_events
            WHERE practice_id = \(practice) AND patient_id = \(patientID)
            UNION ALL
            SELECT 'p', issue_date::text, code, code_system FROM current_prescriptions
            WHERE practice_id = \(practice) AND patient_id = \(patientID)
            """)
        for row in rows {
            guard let system = CodeSystem(rawValue: row.string("code_system")), let date = row.date("d") else { continue }
            let code = SystemCode(system: system, code: row.string("code"))
            guard known.contains(code) else { continue }
            out.append(Coded(source: row.string("src") == "e" ? .events : .prescriptions, date: date, code: code))
        }
        return out.sorted { ($0.date, $0.code) < ($1.date, $1.code) }
    }

    /// The patient's run history for this cohort, each row with whether it
    /// counts as the SQL engine counts it (recorded before the run was made).
    func history(run: RunRecord, cohort: ResolvedCohort, practice: String, patientID: String) throws -> History {
        let c = database.connection
        let asOf = run.historyAsOf
        let invitations = try c.query("""
            SELECT r.run_id, r.index_date::text AS index_date, r.status, (r.issued_at < \(asOf)::timestamptz) AS issued_before,
                   (rp.superseded_by_run_id IS NULL OR rp.superseded_at >= \(asOf)::timestamptz) AS not_superseded,
                   rp.superseded_by_run_id, r.run_id = ANY(\(run.ignoredRunIDs)::int8[]) AS ignored
            FROM run_invitations ri
            JOIN runs r ON r.run_id = ri.run_id
            JOIN run_practices rp ON rp.run_id = ri.run_id AND rp.practice_id = ri.practice_id
            WHERE ri.practice_id = \(practice) AND ri.patient_id = \(patientID) AND r.cohort_name = \(cohort.name)
              AND r.run_id <> \(run.runID)
            ORDER BY r.index_date, r.run_id
            """).map { row in
            HistoryInvitation(runID: row.int("run_id"), indexDate: row.date("index_date")!, status: row.string("status"),
                              issuedBefore: row.bool("issued_before") ?? false, notSuperseded: row.bool("not_superseded") ?? false,
                              supersededBy: row.int("superseded_by_run_id"), ignored: row.bool("ignored") ?? false)
        }
        let imported = try c.query("""
            SELECT index_date::text AS index_date, recorded_at < \(asOf)::timestamptz AS before
            FROM history_invitations
            WHERE practice_id = \(practice) AND patient_id = \(patientID) AND cohort_name = \(cohort.name)
            ORDER BY index_date
            """).map { row in
            HistoryInvitation(runID: nil, indexDate: row.date("index_date")!, status: "imported", issuedBefore: row.bool("before") ?? false,
                              notSuperseded: true, supersededBy: nil, ignored: false)
        }
        let outcomes = try c.query("""
            SELECT outcome, outcome_date::text AS outcome_date, run_id, recorded_at < \(asOf)::timestamptz AS before
            FROM contact_outcomes
            WHERE practice_id = \(practice) AND patient_id = \(patientID) AND cohort_name = \(cohort.name)
            ORDER BY outcome_date NULLS LAST, outcome_id
            """).map { row in
            HistoryOutcome(outcome: row.string("outcome"), date: row.date("outcome_date"), runID: row.int("run_id"),
                           recordedBefore: row.bool("before") ?? false)
        }
        return History(invitations: invitations + imported, outcomes: outcomes)
    }

    struct HistoryInvitation {
        var runID: Int?
        var indexDate: LocalDate
        var status: String
        /// Issued (or, imported: recorded) before the run was made.
        var issuedBefore: Bool
        var notSuperseded: Bool
        var supersededBy: Int?
        var ignored: Bool
    }

    struct HistoryOutcome {
        var outcome: String
        var date: LocalDate?
        var runID: Int?
        var recordedBefore: Bool
    }

    struct History {
        var invitations: [HistoryInvitation]
        var outcomes: [HistoryOutcome]
    }

    /// The result of one condition.
    struct Verdict {
        var holds: Bool
        var facts: [String] = []
        var records: [PatientExplanation.Record] = []
    }

    /// Evaluates conditions for the one patient.
    struct Context {
        let cohort: ResolvedCohort
        let d: LocalDate
        let patient: PatientExplanation.Patient
        let records: [Coded]
        let history: History

        func day(_ n: ResolvedNumber) -> LocalDate { d.adding(days: -n.value) }

        func describe(_ w: ResolvedWindow) -> String {
            let to = w.toDaysBefore.value == 0 ? "D (\(d))" : "D - \(w.toDaysBefore.note) (\(day(w.toDaysBefore)))"
            guard let from = w.fromDaysBefore else { return "on or before \(to)" }
            return "within [D - \(from.note) (\(day(from))), \(to)]"
        }

        func lists(holding code: SystemCode, among names: [String]) -> [String] {
            names.filter { cohort.codeList($0)?.codes.contains(code) ?? false }
        }

        func term(_ code: SystemCode, _ names: [String]) -> String? {
            let t = cohort.term(of: code, lists: names)
            return t.isEmpty ? nil : t
        }

        /// Why a record in the lists does not count, or nil when it does.
        func exclusion(_ r: Coded, window: ResolvedWindow, systems: [CodeSystem]?) -> String? {
            if r.date > d { return "dated after D" }
            if !window.contains(r.date.dayNumber, indexDay: d.dayNumber) { return "outside the window" }
            if let systems, !systems.contains(r.code.system) { return "coding system not read by this criterion" }
            return nil
        }

        func record(_ r: Coded, lists names: [String], window: ResolvedWindow, systems: [CodeSystem]?) -> PatientExplanation.Record {
            let why = exclusion(r, window: window, systems: systems)
            return .init(kind: r.source == .events ? "event" : "prescription", date: r.date, code: r.code.code,
                         codeSystem: r.code.system.rawValue, term: term(r.code, names), lists: lists(holding: r.code, among: names),
                         counted: why == nil, note: why)
        }

        func evaluate(_ condition: ResolvedCondition) -> Verdict {
            switch condition {
            case .registeredAtIndexDate:
                let started = patient.registrationStart <= d
                let notEnded = patient.registrationEnd.map { $0 > d } ?? true
                return Verdict(holds: started && notEnded, facts: [
                    "registration started \(patient.registrationStart) (\(started ? "on or before" : "after") D \(d))",
                    patient.registrationEnd.map { "registration ended \($0) (\(notEnded ? "after" : "on or before") D)" } ?? "registration has not ended",
                ])
            case .registeredFor(let days):
                let limit = day(days)
                let holds = patient.registrationStart <= limit
                return Verdict(holds: holds, facts: [
                    "registration started \(patient.registrationStart): \(holds ? "on or before" : "after") D - \(days.note) (\(limit))",
                ])
            case .aliveAtIndexDate:
                let holds = patient.deathDate.map { $0 > d } ?? true
                return Verdict(holds: holds, facts: [
                    patient.deathDate.map { "died \($0) (\(holds ? "after" : "on or before") D \(d))" } ?? "no date of death",
                ])
            case .age(let min, let max):
                let age = patient.ageAtIndexDate
                let holds = (min.map { age >= $0.value } ?? true) && (max.map { age <= $0.value } ?? true)
                let month = patient.monthOfBirth.map { "month \($0)" } ?? "no month of birth (1 July used)"
                var facts = ["born \(patient.yearOfBirth), \(month): date of birth \(patient.dateOfBirth), aged \(age) at D \(d)"]
                facts.append("needs \(min.map { "at least \($0.note)" } ?? "")\(min != nil && max != nil ? " and " : "")\(max.map { "at most \($0.note)" } ?? "")")
                return Verdict(holds: holds, facts: facts)
            case .sex(let codes):
                let holds = codes.contains(patient.sex)
                return Verdict(holds: holds, facts: ["sex \(patient.sex) (needs one of \(codes.joined(separator: ", ")))"])
            case .records(let r):
                let inLists = records.filter { $0.source == r.source && !lists(holding: $0.code, among: r.codeLists).isEmpty }
                let shown = inLists.map { record($0, lists: r.codeLists, window: r.window, systems: r.codeSystems) }
                let counted = zip(inLists, shown).filter { $0.1.counted }.map(\.0)
                var holds = counted.count >= r.minCount.value
                var facts = ["\(counted.count) \(r.source.noun)\(counted.count == 1 ? "" : "s") in \(r.codeLists.joined(separator: " or ")) "
                             + "\(describe(r.window))\(r.codeSystems.map { " coded in \($0.map(\.rawValue).joined(separator: ", "))" } ?? "")"
                             + " (at least \(r.minCount.note) needed)"]
                if let span = r.minSpanDays {
                    if let first = counted.map(\.date).min(), let last = counted.map(\.date).max() {
                        let days = first.days(to: last)
                        facts.append("the first (\(first)) and the last (\(last)) are \(days) days apart (at least \(span.note) needed)")
                        holds = holds && days >= span.value
                    } else {
                        facts.append("no first and last to be at least \(span.note) days apart")
                        holds = false
                    }
                }
                return Verdict(holds: holds, facts: facts, records: shown)
            case .latest(let l):
                let inLists = records.filter { $0.source == l.source && !lists(holding: $0.code, among: l.codeLists).isEmpty }
                let shown = inLists.map { record($0, lists: l.codeLists, window: l.window, systems: l.codeSystems) }
                let counted = zip(inLists, shown).filter { $0.1.counted }.map(\.0)
                let a = counted.filter { cohort.codeList(l.isIn)?.codes.contains($0.code) ?? false }.map(\.date).max()
                let b = counted.filter { !(cohort.codeList(l.isIn)?.codes.contains($0.code) ?? false) }.map(\.date).max()
                let holds: Bool
                if let a {
                    holds = b.map { a > $0 || (a == $0 && l.ties == .isInWins) } ?? true
                } else {
                    holds = false
                }
                let others = l.codeLists.filter { $0 != l.isIn }
                var facts = ["latest \(l.source.noun) in \(l.isIn) \(describe(l.window)): \(a?.description ?? "none")",
                             "latest in \(others.joined(separator: ", ")): \(b?.description ?? "none")"]
                if let a, let b, a == b {
                    facts.append("both on the same date: \(l.ties == .isInWins ? "\(l.isIn) wins" : "the others win")")
                }
                return Verdict(holds: holds, facts: facts, records: shown)
            case .previouslyInvited(let window):
                var shown: [PatientExplanation.Record] = []
                var holds = false
                for h in history.invitations {
                    var note: String?
                    if h.runID != nil && h.status != "issued" { note = "run is a \(h.status), not issued" }
                    else if !h.issuedBefore { note = h.runID == nil ? "recorded after this run was made" : "issued after this run was made" }
                    else if !h.notSuperseded { note = "superseded by run \(h.supersededBy.map(String.init) ?? "?") before this run was made" }
                    else if h.ignored { note = "superseded by this run" }
                    else if !window.contains(h.indexDate.dayNumber, indexDay: d.dayNumber) { note = "index date outside the window" }
                    holds = holds || note == nil
                    shown.append(.init(kind: h.runID == nil ? "history_invitation" : "run_invitation", date: h.indexDate,
                                       counted: note == nil, note: note, runID: h.runID))
                }
                let facts = ["\(shown.filter(\.counted).count) invitation\(shown.filter(\.counted).count == 1 ? "" : "s") of this cohort "
                             + "with an index date \(describe(window)), issued or imported before this run was made"]
                return Verdict(holds: holds, facts: facts, records: shown)
            case .contactEnded(let outcomes):
                var shown: [PatientExplanation.Record] = []
                for o in history.outcomes {
                    var note: String?
                    if !outcomes.contains(o.outcome) { note = "does not end contact" }
                    else if !o.recordedBefore { note = "recorded after this run was made" }
                    shown.append(.init(kind: "outcome", date: o.date, counted: note == nil, note: note, runID: o.runID, outcome: o.outcome))
                }
                let n = shown.filter(\.counted).count
                return Verdict(holds: n > 0, facts: ["\(n) outcome\(n == 1 ? "" : "s") ending contact (\(outcomes.joined(separator: ", "))) recorded before this run was made"],
                               records: shown)
            case .allOf(let cs):
                let parts = cs.map { evaluate($0) }
                return Verdict(holds: parts.allSatisfy(\.holds), facts: parts.flatMap(\.facts), records: parts.flatMap(\.records))
            case .anyOf(let cs):
                let parts = cs.map { evaluate($0) }
                let holds = parts.contains { $0.holds }
                return Verdict(holds: holds, facts: ["any of the following (\(parts.filter(\.holds).count) of \(parts.count) held):"] + parts.flatMap(\.facts),
                               records: parts.flatMap(\.records))
            case .not(let inner):
                let part = evaluate(inner)
                return Verdict(holds: !part.holds, facts: ["not: " + part.facts.joined(separator: "; ")], records: part.records)
            }
        }
    }
}
