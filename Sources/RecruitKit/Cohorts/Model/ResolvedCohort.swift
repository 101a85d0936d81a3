/// A cohort made concrete: every number has its value (the file's defaults or
/// the run's overrides) and every code list its codes. The SQL compiler and the
/// tests' in-memory oracle both evaluate exactly this.
public struct ResolvedCohort: Sendable {
    public var definition: CohortDefinition
    /// Every parameter's value for this evaluation, by name.
    public var parameters: [String: Int]
    /// The code lists the criteria name, in order of first mention.
    public var codeLists: [ResolvedCodeList]
    /// The criteria, in order; criterion `n` is step `n` of the yield. The
    /// safeguards (``ResolvedCriterion/safeguard``) are the last.
    public var criteria: [ResolvedCriterion]
    /// The deployment's safeguards this cohort was resolved with.
    public var safeguards: Safeguards

    public init(definition: CohortDefinition, parameters: [String: Int], codeLists: [ResolvedCodeList], criteria: [ResolvedCriterion],
                safeguards: Safeguards = .notApplied) {
        self.definition = definition
        self.parameters = parameters
        self.codeLists = codeLists
        self.criteria = criteria
        self.safeguards = safeguards
    }

    public var name: String { definition.name }
    public var version: String { definition.version }

    public func codeList(_ name: String) -> ResolvedCodeList? { codeLists.first { $0.name == name } }

    /// The term of `code` for evidence: from the first of `lists` that holds it.
    public func term(of code: SystemCode, lists: [String]) -> String {
        for name in lists {
            if let term = codeList(name)?.terms[code] { return term }
        }
        return ""
    }
}

/// A number of a criterion with its value and where the value came from.
public struct ResolvedNumber: Sendable, Hashable {
    public var value: Int
    /// The parameter it came from, or nil when written out.
    public var parameter: String?

    public init(_ value: Int, parameter: String? = nil) {
        self.value = value
        self.parameter = parameter
    }

    /// "730 (chronic_pain_lookback_days)" or "730".
    public var note: String { parameter.map { "\(value) (\($0))" } ?? "\(value)" }
}

/// A window `[D - from, D - to]` in days before D (`from` nil: no lower bound). `to >= 0`.
public struct ResolvedWindow: Sendable, Hashable {
    public var fromDaysBefore: ResolvedNumber?
    public var toDaysBefore: ResolvedNumber

    public init(fromDaysBefore: ResolvedNumber?, toDaysBefore: ResolvedNumber) {
        self.fromDaysBefore = fromDaysBefore
        self.toDaysBefore = toDaysBefore
    }

    /// Whether a record dated `date` is in the window at index date `d`.
    public func contains(_ date: Int, indexDay d: Int) -> Bool {
        if let from = fromDaysBefore, date < d - from.value { return false }
        return date <= d - toDaysBefore.value
    }
}

/// One criterion with its values.
public struct ResolvedCriterion: Sendable {
    /// Its step in the yield table (1-based).
    public var step: Int
    public var id: String
    /// The label with parameter values filled in.
    public var label: String
    public var section: String?
    public var effect: Criterion.Effect
    public var condition: ResolvedCondition
    /// One of the deployment's safeguards (``Safeguards``): named by the cohort
    /// (and checked to be no weaker) or appended to it.
    public var safeguard: Bool

    public init(step: Int, id: String, label: String, section: String?, effect: Criterion.Effect, condition: ResolvedCondition,
                safeguard: Bool = false) {
        self.step = step
        self.id = id
        self.label = label
        self.section = section
        self.effect = effect
        self.condition = condition
        self.safeguard = safeguard
    }

    /// The record conditions whose matches are this criterion's evidence:
    /// those not under a `not`, of an include criterion, in file order.
    public var evidenceLeaves: [ResolvedCondition] {
        guard effect == .include else { return [] }
        return condition.positiveRecordLeaves
    }

    /// The code lists named by the evidence leaves, in order (for terms).
    public var evidenceLists: [String] {
        var seen = Set<String>()
        return evidenceLeaves.flatMap(\.recordLists).filter { seen.insert($0).inserted }
    }

    /// Whether the evidence includes a spell's start, end and days so far.
    public var hasSpellEvidence: Bool {
        evidenceLeaves.contains { if case .spell = $0 { return true } else { return false } }
    }

    /// Whether the evidence includes a prescription count and first/last dates.
    public var hasPrescriptionEvidence: Bool {
        evidenceLeaves.contains { if case .records(let r) = $0 { return r.source == .prescriptions } else { return false } }
    }
}

/// A condition bound: lists by name, every number with its value and the
/// parameter it came from, every default filled in.
public enum BoundStage: CohortStage {
    public typealias ListReference = String
    public typealias Number = ResolvedNumber
    public typealias DefaultedNumber = ResolvedNumber
    public typealias Window = ResolvedWindow
    public typealias Location = Unlocated
}

/// A bound condition's location: none (the model is not a file).
public struct Unlocated: Sendable, Hashable {
    public init() {}
}

/// A condition with its values.
public typealias ResolvedCondition = ConditionOf<BoundStage>
public typealias ResolvedRecordQuery = RecordQuery<BoundStage>
public typealias ResolvedLatestQuery = LatestQuery<BoundStage>
public typealias ResolvedSpellQuery = SpellQuery<BoundStage>

extension ConditionOf where Stage == BoundStage {
    /// The record conditions (has / latest) not under a `not`, in order.
    public var positiveRecordLeaves: [ResolvedCondition] {
        switch self {
        case .records, .latest, .spell: return [self]
        case .allOf(let cs), .anyOf(let cs): return cs.flatMap(\.positiveRecordLeaves)
        default: return []
        }
    }

    /// Every record condition, in order (under `not` too).
    public var recordLeaves: [ResolvedCondition] {
        switch self {
        case .records, .latest, .spell: return [self]
        case .allOf(let cs), .anyOf(let cs): return cs.flatMap(\.recordLeaves)
        case .not(let c): return c.recordLeaves
        default: return []
        }
    }

    /// For a record condition: the lists whose matches are its evidence (latest: only `is_in`).
    public var recordLists: [String] {
        switch self {
        case .records(let r): return r.codeLists
        case .latest(let l): return [l.isIn]
        case .spell(let s): return s.codeLists
        default: return []
        }
    }
}

extension RecordQuery where Stage == BoundStage {
    public init(source: RecordSource, codeLists: [String], window: ResolvedWindow, minCount: ResolvedNumber,
                minSpanDays: ResolvedNumber?, codeSystems: [CodeSystem]?) {
        self.init(source: source, codeLists: codeLists, window: window, minCount: minCount, minSpanDays: minSpanDays,
                  codeSystems: codeSystems, location: Unlocated())
    }
}

extension LatestQuery where Stage == BoundStage {
    public init(source: RecordSource, codeLists: [String], isIn: String, window: ResolvedWindow, ties: LatestTieRule,
                codeSystems: [CodeSystem]?) {
        self.init(source: source, codeLists: codeLists, isIn: isIn, window: window, ties: ties, codeSystems: codeSystems,
                  location: Unlocated())
    }
}

extension SpellQuery where Stage == BoundStage {
    public init(codeLists: [String], window: ResolvedWindow, defaultCoverDays: ResolvedNumber, maxGapDays: ResolvedNumber,
                minSpellDays: ResolvedNumber, maxDaysSinceEnd: ResolvedNumber) {
        self.init(codeLists: codeLists, window: window, defaultCoverDays: defaultCoverDays, maxGapDays: maxGapDays,
                  minSpellDays: minSpellDays, maxDaysSinceEnd: maxDaysSinceEnd, location: Unlocated())
    }

    /// The values as the spell computation takes them.
    public var parameters: SicknessSpellParameters {
        SicknessSpellParameters(defaultCoverDays: defaultCoverDays.value, maxGapDays: maxGapDays.value,
                                minSpellDays: minSpellDays.value, maxDaysSinceEnd: maxDaysSinceEnd.value)
    }
}
