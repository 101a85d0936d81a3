/// What a criterion tests about one patient at the index date D: one
/// declaration for both stages (``Condition`` as written, ``ResolvedCondition``
/// bound).
public indirect enum ConditionOf<Stage: CohortStage>: Sendable, Hashable {
    /// `registration_start <= D` and (`registration_end` empty or `> D`).
    case registeredAtIndexDate
    /// `registration_start <= D - days`.
    case registeredFor(days: Stage.Number)
    /// `death_date` empty or `> D`.
    case aliveAtIndexDate
    /// Age in completed years at D within `[min, max]` (either may be absent).
    /// The date of birth is the 1st of `month_of_birth`, or 1 July when the month is empty.
    case age(min: Stage.Number?, max: Stage.Number?)
    /// `sex` is one of these codes (M, F, I, U).
    case sex([String])
    /// Has events / has prescriptions.
    case records(RecordQuery<Stage>)
    /// The latest matching record is in a given list.
    case latest(LatestQuery<Stage>)
    /// A current sickness-certification spell (`shared/spec/spells.md`).
    case spell(SpellQuery<Stage>)
    /// On the invitation list of an issued, not superseded run of this cohort, or
    /// of imported history for it, whose index date is in the window.
    case previouslyInvited(window: Stage.Window)
    /// An outcome that ends contact was recorded for this cohort before the run.
    case contactEnded(outcomes: [String])
    /// On the invitation list of an issued, not superseded run of one of these
    /// other cohorts, or of imported history for one, whose index date is in the
    /// window (the cross-study safeguard: ``Safeguards/otherCohorts``; not written in cohort files).
    case invitedToOtherCohorts(cohorts: [String], window: Stage.Window)
    case allOf([ConditionOf<Stage>])
    case anyOf([ConditionOf<Stage>])
    case not(ConditionOf<Stage>)
}

/// A condition as the cohort file writes it.
public typealias Condition = ConditionOf<WrittenStage>

extension ConditionOf where Stage == WrittenStage {
    /// The outcomes of practice feedback and imported history (sql/0005_runs.sql).
    public static let knownOutcomes = ["screened_out", "invited", "not_invited", "declined", "opted_out",
                                       "responded", "ineligible", "consented", "withdrawn"]

    /// The code lists this condition names, in order, with where each is named.
    public var codeListReferences: [CodeListReference] {
        switch self {
        case .records(let r): return r.codeLists
        case .latest(let l): return l.codeLists + [l.isIn]
        case .spell(let s): return s.codeLists
        case .allOf(let cs), .anyOf(let cs): return cs.flatMap(\.codeListReferences)
        case .not(let c): return c.codeListReferences
        default: return []
        }
    }

    /// The parameters and numbers this condition uses.
    public var quantities: [Quantity] {
        func window(_ w: DayWindow) -> [Quantity] { [w.from?.days, w.to.days].compactMap { $0 } }
        switch self {
        case .registeredFor(let days): return [days]
        case .age(let min, let max): return [min, max].compactMap { $0 }
        case .records(let r): return window(r.window) + [r.minCount, r.minSpanDays].compactMap { $0 }
        case .latest(let l): return window(l.window)
        case .spell(let s): return window(s.window) + s.numbers.compactMap { $0 }
        case .previouslyInvited(let w), .invitedToOtherCohorts(_, let w): return window(w)
        case .allOf(let cs), .anyOf(let cs): return cs.flatMap(\.quantities)
        case .not(let c): return c.quantities
        default: return []
        }
    }
}
