import Postgres

/// A record a criterion read for one patient: an event, a prescription, an
/// invitation or an outcome, and whether it counted.
public struct ExplainedRecord: Sendable, Codable, Hashable {
    /// `event`, `prescription`, `run_invitation`, `history_invitation` or `outcome`.
    public var kind: String
    public var date: LocalDate?
    public var code: String?
    public var codeSystem: String?
    public var term: String?
    /// The criterion's code lists holding the code.
    public var lists: [String]
    /// Whether it counted for the criterion (in the window, list and coding system; for history: before the run, issued, not superseded).
    public var counted: Bool
    /// Why it did not count, when it did not.
    public var note: String?
    public var runID: Int?
    public var outcome: String?

    enum CodingKeys: String, CodingKey {
        case kind, date, code, codeSystem = "code_system", term, lists, counted, note, runID = "run_id", outcome
    }

    public init(kind: String, date: LocalDate?, code: String? = nil, codeSystem: String? = nil, term: String? = nil,
                lists: [String] = [], counted: Bool, note: String? = nil, runID: Int? = nil, outcome: String? = nil) {
        self.kind = kind
        self.date = date
        self.code = code
        self.codeSystem = codeSystem
        self.term = term
        self.lists = lists
        self.counted = counted
        self.note = note
        self.runID = runID
        self.outcome = outcome
    }
}

/// One criterion for one patient: whether its condition held, whether the
/// patient passed it, and what was checked.
public struct CriterionVerdict: Sendable, Codable {
    public var step: Int
    public var id: String
    public var label: String
    /// `include` or `exclude`.
    public var effect: String
    /// Whether the criterion's condition held.
    public var held: Bool
    /// Whether the patient passed it (an inclusion held, an exclusion did not).
    public var passed: Bool
    /// Whether this is the criterion that removed the patient (the first not passed).
    public var removedHere: Bool
    /// What was checked, in words, with dates.
    public var facts: [String]
    public var records: [ExplainedRecord]
    /// One of the deployment's safeguards (``Safeguards``), applied after the cohort's own criteria.
    public var safeguard: Bool = false

    enum CodingKeys: String, CodingKey {
        case step, id, label, effect, held, passed, removedHere = "removed_here", facts, records, safeguard
    }
}

/// One patient evaluated by the in-memory engine: the step (as the SQL
/// engine's ``PatientStep``), every criterion's verdict, and the evidence of
/// each inclusion criterion (as the SQL engine's ``Invitation`` carries it).
public struct PatientEvaluation: Sendable {
    public var step: PatientStep
    public var criteria: [CriterionVerdict]
    public var evidence: [CriterionEvidence]

    /// The criterion that removed the patient (0: on the list).
    public var leftAt: Int { step.leftAt }
}
