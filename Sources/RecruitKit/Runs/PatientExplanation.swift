import Postgres

/// Why one patient was, or was not, on a run's list: each criterion in order,
/// whether its condition held, and the records that made it hold or fail.
///
/// - Important: it names the patient (the id the user asked about): print it
///   to standard output only, never to a log line.
public struct PatientExplanation: Sendable, Codable {
    /// The patient's own facts the population criteria read.
    public struct Patient: Sendable, Codable {
        public var yearOfBirth: Int
        public var monthOfBirth: Int?
        /// The date of birth the age rule uses: the 1st of the month, 1 July when the month is empty.
        public var dateOfBirth: LocalDate
        public var ageAtIndexDate: Int
        public var sex: String
        public var registrationStart: LocalDate
        public var registrationEnd: LocalDate?
        public var deathDate: LocalDate?

        enum CodingKeys: String, CodingKey {
            case yearOfBirth = "year_of_birth", monthOfBirth = "month_of_birth", dateOfBirth = "date_of_birth"
            case ageAtIndexDate = "age_at_index_date", sex, registrationStart = "registration_start"
            case registrationEnd = "registration_end", deathDate = "death_date"
        }
    }

    /// A record a criterion read: an event, a prescription, an invitation or an outcome.
    public struct Record: Sendable, Codable, Hashable {
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

    /// One criterion for this patient.
    public struct Criterion: Sendable, Codable {
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
        public var records: [Record]

        enum CodingKeys: String, CodingKey {
            case step, id, label, effect, held, passed, removedHere = "removed_here", facts, records
        }
    }

    public var runID: Int
    public var practiceID: String
    public var patientID: String
    public var indexDate: LocalDate
    public var historyAsOf: String
    public var loadID: Int
    /// Whether the patient is on the run's recorded list.
    public var onRecordedList: Bool
    /// The criterion that removed the patient (0: on the list), by this explanation.
    public var leftAt: Int
    /// The same, by the SQL engine on the run's inputs (they always agree).
    public var engineLeftAt: Int
    public var patient: Patient
    public var criteria: [Criterion]

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", practiceID = "practice_id", patientID = "patient_id", indexDate = "index_date"
        case historyAsOf = "history_as_of", loadID = "load_id", onRecordedList = "on_recorded_list", leftAt = "left_at"
        case engineLeftAt = "engine_left_at", patient, criteria
    }
}
