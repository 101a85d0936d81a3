import Postgres

/// The result of evaluating a cohort: the yield table and the invitation list
/// with its evidence, and the facts that make it reproducible.
public struct CohortEvaluation: Sendable {
    public var cohortName: String
    public var cohortVersion: String
    public var cohortSHA256: String
    public var indexDate: LocalDate
    /// History recorded before this instant was used (criteria 11 and 12).
    public var historyAsOf: String
    /// The parameter values used.
    public var parameters: [String: Int]
    /// The snapshot of each practice evaluated, in byte order of practice id.
    public var practices: [PracticeSnapshot]
    /// The criteria, in order (step 1 first).
    public var criteria: [CriterionSummary]
    /// Per practice (byte order), steps 0…N; then `__total__`.
    public var yields: [YieldRow]
    /// The invitees, by practice then patient in byte order.
    public var invitations: [Invitation]
    /// The evidence columns, one entry per inclusion criterion with records.
    public var evidence: [EvidenceSpec]

    public init(cohortName: String, cohortVersion: String, cohortSHA256: String, indexDate: LocalDate, historyAsOf: String,
                parameters: [String: Int], practices: [PracticeSnapshot], criteria: [CriterionSummary], yields: [YieldRow],
                invitations: [Invitation], evidence: [EvidenceSpec]) {
        self.cohortName = cohortName
        self.cohortVersion = cohortVersion
        self.cohortSHA256 = cohortSHA256
        self.indexDate = indexDate
        self.historyAsOf = historyAsOf
        self.parameters = parameters
        self.practices = practices
        self.criteria = criteria
        self.yields = yields
        self.invitations = invitations
        self.evidence = evidence
    }

    /// The `__total__` rows: patients left after each step over all practices.
    public var totals: [YieldRow] { yields.filter { $0.practiceID == YieldRow.totalPracticeID } }
}

/// A criterion as the yield table names it.
public struct CriterionSummary: Sendable, Hashable, Codable {
    public var step: Int
    public var id: String
    public var label: String
    public var effect: String

    public init(step: Int, id: String, label: String, effect: String) {
        self.step = step
        self.id = id
        self.label = label
        self.effect = effect
    }
}

/// The snapshot a practice's data came from.
public struct PracticeSnapshot: Sendable, Hashable, Codable {
    public var practiceID: String
    public var loadID: Int
    public var extractDate: LocalDate

    public init(practiceID: String, loadID: Int, extractDate: LocalDate) {
        self.practiceID = practiceID
        self.loadID = loadID
        self.extractDate = extractDate
    }

    enum CodingKeys: String, CodingKey {
        case practiceID = "practice_id", loadID = "load_id", extractDate = "extract_date"
    }
}

/// One row of the yield (attrition) table.
public struct YieldRow: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The `practice_id` of the rows for all practices together.
    public static let totalPracticeID = "__total__"

    public var practiceID: String
    public var step: Int
    /// The criterion's id; empty for step 0.
    public var criterion: String
    public var remaining: Int

    public init(practiceID: String, step: Int, criterion: String, remaining: Int) {
        self.practiceID = practiceID
        self.step = step
        self.criterion = criterion
        self.remaining = remaining
    }

    public var description: String { "\(practiceID),\(step),\(criterion),\(remaining)" }

    enum CodingKeys: String, CodingKey {
        case practiceID = "practice_id", step, criterion, remaining
    }
}

/// One invitee and the records that put them on the list.
public struct Invitation: Sendable, Hashable {
    public var practiceID: String
    public var patientID: String
    /// One entry per evidence criterion (``CohortEvaluation/evidence``), in the same order.
    public var evidence: [CriterionEvidence]

    public init(practiceID: String, patientID: String, evidence: [CriterionEvidence]) {
        self.practiceID = practiceID
        self.patientID = patientID
        self.evidence = evidence
    }
}

/// The record that satisfied an inclusion criterion: the latest matching one
/// (ties: smallest code, then coding system, in byte order), for
/// prescriptions how many matched and when the first and last were issued,
/// and for a sickness spell its start, the end of its cover and its days so far.
public struct CriterionEvidence: Sendable, Hashable, Codable {
    public var criterionID: String
    public var code: String
    public var codeSystem: String
    public var term: String
    public var date: LocalDate?
    public var count: Int?
    public var first: LocalDate?
    public var last: LocalDate?
    public var spellStart: LocalDate?
    public var spellEnd: LocalDate?
    public var spellDays: Int?

    public init(criterionID: String, code: String, codeSystem: String, term: String, date: LocalDate?,
                count: Int? = nil, first: LocalDate? = nil, last: LocalDate? = nil,
                spellStart: LocalDate? = nil, spellEnd: LocalDate? = nil, spellDays: Int? = nil) {
        self.criterionID = criterionID
        self.code = code
        self.codeSystem = codeSystem
        self.term = term
        self.date = date
        self.count = count
        self.first = first
        self.last = last
        self.spellStart = spellStart
        self.spellEnd = spellEnd
        self.spellDays = spellDays
    }

    enum CodingKeys: String, CodingKey {
        case criterionID = "criterion", code, codeSystem = "code_system", term, date, count, first, last
        case spellStart = "spell_start", spellEnd = "spell_end", spellDays = "spell_days_so_far"
    }
}

/// One patient's step: the criterion that removed them (0: on the list).
public struct PatientStep: Sendable, Hashable, CustomStringConvertible {
    public var practiceID: String
    public var patientID: String
    public var leftAt: Int

    public init(practiceID: String, patientID: String, leftAt: Int) {
        self.practiceID = practiceID
        self.patientID = patientID
        self.leftAt = leftAt
    }

    public var description: String { "\(practiceID)/\(patientID): \(leftAt)" }
}
