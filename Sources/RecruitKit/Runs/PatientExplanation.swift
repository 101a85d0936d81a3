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

    /// A record a criterion read (as the in-memory engine shows it).
    public typealias Record = ExplainedRecord
    /// One criterion for this patient (as the in-memory engine decides it).
    public typealias Criterion = CriterionVerdict

    /// Whether a patient on the run's list was listed there for the first time by the cohort.
    public struct Listing: Sendable, Codable {
        /// The flag the run recorded (`run_invitations.first_listed`; nil: recorded before the flags).
        public var firstListed: Bool?
        /// Where they were listed before, as the run's history instant saw it (nil: nowhere).
        public var before: FirstListing.Before?

        enum CodingKeys: String, CodingKey { case firstListed = "first_listed", before }
    }

    public var runID: Int
    public var practiceID: String
    public var patientID: String
    public var indexDate: LocalDate
    public var historyAsOf: String
    public var loadID: Int
    /// Whether the patient is on the run's recorded list.
    public var onRecordedList: Bool
    /// For a patient on the recorded list: first listed by this run, or listed before.
    public var listing: Listing?
    /// The criterion that removed the patient (0: on the list), by this explanation.
    public var leftAt: Int
    /// The same, by the SQL engine on the run's inputs (they always agree).
    public var engineLeftAt: Int
    public var patient: Patient
    public var criteria: [Criterion]

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", practiceID = "practice_id", patientID = "patient_id", indexDate = "index_date"
        case historyAsOf = "history_as_of", loadID = "load_id", onRecordedList = "on_recorded_list", listing, leftAt = "left_at"
        case engineLeftAt = "engine_left_at", patient, criteria
    }
}
