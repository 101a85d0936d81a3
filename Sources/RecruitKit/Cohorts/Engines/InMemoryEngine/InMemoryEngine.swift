import Postgres

/// Evaluates a resolved cohort for one patient, in plain Swift, one record at
/// a time, straight from the spec's words: the reference the SQL engine is
/// tested against (as ehrQL's in-memory engine is), and what `recruit runs
/// why` explains with. It keeps, for every criterion, the facts and records
/// its decision rests on.
///
/// Each kind of criterion has its one meaning here in ``verdict(_:)``; the
/// SQL engine's is in ``CohortSQLCompiler``. The spec suite runs both.
public struct InMemoryEngine: Sendable {
    public let cohort: ResolvedCohort
    /// Every code of the cohort's lists (records with other codes are ignored).
    let known: Set<SystemCode>

    public init(cohort: ResolvedCohort) {
        self.cohort = cohort
        self.known = cohort.codeLists.reduce(into: Set<SystemCode>()) { $0.formUnion($1.codes) }
    }

    /// Evaluates every criterion for `patient` at index date `indexDate`, with
    /// `history` the patient's contact history for this cohort as of the
    /// evaluation's instant.
    public func evaluate(_ patient: PatientRecords, indexDate: LocalDate, history: PatientHistory = PatientHistory()) -> PatientEvaluation {
        let records = patient.records.filter { known.contains($0.code) }.sorted { ($0.date, $0.code) < ($1.date, $1.code) }
        let context = Context(cohort: cohort, d: indexDate, patient: patient, records: records, history: history)
        var criteria: [CriterionVerdict] = []
        var leftAt = 0
        for criterion in cohort.criteria {
            let verdict = context.verdict(criterion.condition)
            let passed = criterion.effect == .include ? verdict.holds : !verdict.holds
            let removed = !passed && leftAt == 0
            if removed { leftAt = criterion.step }
            criteria.append(CriterionVerdict(step: criterion.step, id: criterion.id, label: criterion.label, effect: criterion.effect.rawValue,
                                             held: verdict.holds, passed: passed, removedHere: removed, facts: verdict.facts,
                                             records: verdict.records, safeguard: criterion.safeguard))
        }
        let evidence = cohort.criteria.filter { !$0.evidenceLeaves.isEmpty }.map { context.evidence($0) }
        return PatientEvaluation(step: PatientStep(practiceID: patient.practiceID, patientID: patient.patientID, leftAt: leftAt),
                                 criteria: criteria, evidence: evidence)
    }

    /// The result of one condition.
    struct Verdict {
        var holds: Bool
        var facts: [String] = []
        var records: [ExplainedRecord] = []
    }

    /// One patient at one index date.
    struct Context {
        let cohort: ResolvedCohort
        let d: LocalDate
        let patient: PatientRecords
        /// The records in the cohort's lists, by date then code.
        let records: [PatientRecords.Coded]
        let history: PatientHistory

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
        func exclusion(_ r: PatientRecords.Coded, window: ResolvedWindow, systems: [CodeSystem]?) -> String? {
            if r.date > d { return "dated after D" }
            if !window.contains(r.date.dayNumber, indexDay: d.dayNumber) { return "outside the window" }
            if let systems, !systems.contains(r.code.system) { return "coding system not read by this criterion" }
            return nil
        }

        func record(_ r: PatientRecords.Coded, lists names: [String], window: ResolvedWindow, systems: [CodeSystem]?) -> ExplainedRecord {
            let why = exclusion(r, window: window, systems: systems)
            return ExplainedRecord(kind: r.source.noun, date: r.date, code: r.code.code, codeSystem: r.code.system.rawValue,
                                   term: term(r.code, names), lists: lists(holding: r.code, among: names), counted: why == nil, note: why)
        }

        /// The records of `source` in `names`, each shown with whether it counts, and those that count.
        func read(_ source: RecordSource, _ names: [String], _ window: ResolvedWindow, _ systems: [CodeSystem]?)
            -> (shown: [ExplainedRecord], counted: [PatientRecords.Coded]) {
            let inLists = records.filter { $0.source == source && !lists(holding: $0.code, among: names).isEmpty }
            let shown = inLists.map { record($0, lists: names, window: window, systems: systems) }
            return (shown, zip(inLists, shown).filter { $0.1.counted }.map(\.0))
        }

        func verdict(_ condition: ResolvedCondition) -> Verdict {
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
                let age = patient.dateOfBirth.completedYears(at: d)
                let holds = (min.map { age >= $0.value } ?? true) && (max.map { age <= $0.value } ?? true)
                let month = patient.monthOfBirth.map { "month \($0)" } ?? "no month of birth (1 July used)"
                var facts = ["born \(patient.yearOfBirth), \(month): date of birth \(patient.dateOfBirth), aged \(age) at D \(d)"]
                facts.append("needs \(min.map { "at least \($0.note)" } ?? "")\(min != nil && max != nil ? " and " : "")\(max.map { "at most \($0.note)" } ?? "")")
                return Verdict(holds: holds, facts: facts)
            case .sex(let codes):
                let holds = codes.contains(patient.sex)
                return Verdict(holds: holds, facts: ["sex \(patient.sex) (needs one of \(codes.joined(separator: ", ")))"])
            case .records(let r):
                let (shown, counted) = read(r.source, r.codeLists, r.window, r.codeSystems)
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
                let (shown, counted) = read(l.source, l.codeLists, l.window, l.codeSystems)
                let isIn = cohort.codeList(l.isIn)?.codes ?? []
                let a = counted.filter { isIn.contains($0.code) }.map(\.date).max()
                let b = counted.filter { !isIn.contains($0.code) }.map(\.date).max()
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
            case .spell(let q):
                return spellVerdict(q)
            case .previouslyInvited(let window):
                return invitedVerdict(window, of: nil)
            case .invitedToOtherCohorts(let cohorts, let window):
                return invitedVerdict(window, of: Set(cohorts))
            case .contactEnded(let outcomes):
                var shown: [ExplainedRecord] = []
                for o in history.outcomes {
                    var note: String?
                    if !outcomes.contains(o.outcome) { note = "does not end contact" }
                    else if !o.beforeInstant { note = "recorded after this run was made" }
                    shown.append(ExplainedRecord(kind: "outcome", date: o.date, counted: note == nil, note: note, runID: o.runID, outcome: o.outcome))
                }
                let n = shown.filter(\.counted).count
                return Verdict(holds: n > 0, facts: ["\(n) outcome\(n == 1 ? "" : "s") ending contact (\(outcomes.joined(separator: ", "))) recorded before this run was made"],
                               records: shown)
            case .allOf(let cs):
                let parts = cs.map { verdict($0) }
                return Verdict(holds: parts.allSatisfy(\.holds), facts: parts.flatMap(\.facts), records: parts.flatMap(\.records))
            case .anyOf(let cs):
                let parts = cs.map { verdict($0) }
                let holds = parts.contains { $0.holds }
                return Verdict(holds: holds, facts: ["any of the following (\(parts.filter(\.holds).count) of \(parts.count) held):"] + parts.flatMap(\.facts),
                               records: parts.flatMap(\.records))
            case .not(let inner):
                let part = verdict(inner)
                return Verdict(holds: !part.holds, facts: ["not: " + part.facts.joined(separator: "; ")], records: part.records)
            }
        }

        /// The fit notes a spell condition sees (its lists, on or after its
        /// window's start; those after D too, which the spell rule ignores),
        /// and the spells they make.
        func spells(_ q: ResolvedSpellQuery) -> (notes: [PatientRecords.Coded], result: SicknessSpellResult) {
            let from = q.window.fromDaysBefore.map { d.adding(days: -$0.value) }
            let notes = records.filter { r in
                r.source == .events && !lists(holding: r.code, among: q.codeLists).isEmpty && from.map { r.date >= $0 } ?? true
            }
            let result = SicknessSpells.evaluate(notes: notes.map { FitNote(date: $0.date, value: $0.value) }, indexDate: d, parameters: q.parameters)
            return (notes, result)
        }

        /// A spell condition: every spell the notes make, the one that
        /// qualifies, and each note with the spell it belongs to.
        /// Invitations with an index date in `window`, issued or imported before
        /// the instant: this cohort's (`others` nil) or those of the `others` cohorts.
        func invitedVerdict(_ window: ResolvedWindow, of others: Set<String>?) -> Verdict {
            var shown: [ExplainedRecord] = []
            var holds = false
            for h in history.invitations {
                if let others { guard let name = h.otherCohort, others.contains(name) else { continue } }
                else if h.otherCohort != nil { continue }
                var note: String?
                if let status = h.status, h.runID != nil, status != .issued { note = "run is a \(status.rawValue), not issued" }
                else if !h.beforeInstant { note = h.runID == nil ? "recorded after this run was made" : "issued after this run was made" }
                else if !h.notSuperseded { note = "superseded by run \(h.supersededBy.map(String.init) ?? "?") before this run was made" }
                else if h.ignored { note = "superseded by this run" }
                else if !window.contains(h.indexDate.dayNumber, indexDay: d.dayNumber) { note = "index date outside the window" }
                holds = holds || note == nil
                shown.append(ExplainedRecord(kind: h.runID == nil ? "history_invitation" : "run_invitation", date: h.indexDate,
                                             lists: h.otherCohort.map { [$0] } ?? [], counted: note == nil, note: note, runID: h.runID))
            }
            let n = shown.filter(\.counted).count
            let whose = others.map { "of another cohort (\($0.sorted().joined(separator: ", ")))" } ?? "of this cohort"
            let facts = ["\(n) invitation\(n == 1 ? "" : "s") \(whose) "
                         + "with an index date \(describe(window)), issued or imported before this run was made"]
            return Verdict(holds: holds, facts: facts, records: shown)
        }

        func spellVerdict(_ q: ResolvedSpellQuery) -> Verdict {
            let p = q.parameters
            let (notes, result) = spells(q)
            let from = q.window.fromDaysBefore.map { d.adding(days: -$0.value) }
            let currentFrom = d.adding(days: -p.maxDaysSinceEnd)
            var facts = ["\(notes.filter { $0.date <= d }.count) fit note\(notes.filter { $0.date <= d }.count == 1 ? "" : "s") in "
                         + "\(q.codeLists.joined(separator: " or ")) \(from.map { "dated within [\($0), D (\(d))]" } ?? "dated on or before D (\(d))"), "
                         + "each covering its value in days (1 to 365; otherwise \(q.defaultCoverDays.note)); "
                         + "a spell needs at least \(q.minSpellDays.note) days so far and a cover ending on or after \(currentFrom) "
                         + "(D - \(q.maxDaysSinceEnd.note)); a gap of more than \(q.maxGapDays.note) days ends a spell"]
            for spell in result.spells {
                var line = "spell \(spell.start) to \(spell.end): \(spell.notes.count) note\(spell.notes.count == 1 ? "" : "s"), "
                    + "\(spell.daysSoFar) days so far, \(spell.isCurrent ? "current" : "not current (ended before \(currentFrom))")"
                if spell.qualifies {
                    line += ": qualifies"
                } else if spell.isCurrent {
                    line += ": fewer than \(p.minSpellDays) days so far"
                }
                if let gap = spell.gapFromPrevious {
                    line += "; broken from the spell before by a gap of \(gap) days (more than \(p.maxGapDays))"
                }
                facts.append(line)
            }
            if !result.notesAfterIndexDate.isEmpty {
                facts.append("\(result.notesAfterIndexDate.count) note\(result.notesAfterIndexDate.count == 1 ? "" : "s") dated after D ignored")
            }
            if let evidence = result.evidence {
                facts.append("the spell from \(evidence.start) is the evidence (the latest-starting one that qualifies)")
            }
            let shown = records.filter { $0.source == .events && !lists(holding: $0.code, among: q.codeLists).isEmpty }.map { r -> ExplainedRecord in
                var note: String?
                if r.date > d {
                    note = "dated after D"
                } else if let from, r.date < from {
                    note = "outside the window"
                } else if let spell = result.spells.first(where: { r.date >= $0.start && r.date <= $0.end }) {
                    let days = FitNote.wholeDays(r.value).map { "\($0) days" } ?? "\(p.defaultCoverDays) days by default"
                    if !spell.qualifies { note = "in the spell from \(spell.start), which does not qualify (covers \(days))" }
                    else if spell != result.evidence { note = "in an earlier qualifying spell, from \(spell.start) (covers \(days))" }
                }
                return ExplainedRecord(kind: r.source.noun, date: r.date, code: r.code.code, codeSystem: r.code.system.rawValue,
                                       term: term(r.code, q.codeLists), lists: lists(holding: r.code, among: q.codeLists),
                                       counted: note == nil, note: note)
            }
            return Verdict(holds: result.holds, facts: facts, records: shown)
        }

        /// The records a record condition counts (for latest: those in `is_in`).
        func evidenceRecords(_ leaf: ResolvedCondition) -> [PatientRecords.Coded] {
            switch leaf {
            case .records(let r): return read(r.source, r.codeLists, r.window, r.codeSystems).counted
            case .latest(let l): return read(l.source, [l.isIn], l.window, l.codeSystems).counted
            case .spell(let q):
                let (notes, result) = spells(q)
                guard let spell = result.evidence else { return [] }
                return notes.filter { $0.date >= spell.start && $0.date <= min(spell.end, d) }
            default: return []
            }
        }

        /// An inclusion criterion's evidence: over its record conditions that
        /// hold, the latest record (on one date the smallest code, then coding
        /// system, in byte order); with prescriptions, the count, first and
        /// last of the first prescription condition that holds.
        func evidence(_ criterion: ResolvedCriterion) -> CriterionEvidence {
            var candidates: [PatientRecords.Coded] = []
            var count: Int?, first: LocalDate?, last: LocalDate?
            var spell: SicknessSpell?
            for leaf in criterion.evidenceLeaves where verdict(leaf).holds {
                let matched = evidenceRecords(leaf)
                candidates += matched
                if case .spell(let q) = leaf, spell == nil { spell = spells(q).result.evidence }
                if case .records(let r) = leaf, r.source == .prescriptions, count == nil {
                    count = matched.count
                    first = matched.map(\.date).min()
                    last = matched.map(\.date).max()
                }
            }
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
            if criterion.hasSpellEvidence {
                e.spellStart = spell?.start
                e.spellEnd = spell?.end
                e.spellDays = spell?.daysSoFar
            }
            return e
        }
    }
}
