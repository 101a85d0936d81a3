import Postgres

/// One patient's records as a cohort reads them: the in-memory engine's
/// input (the SQL engine reads the same facts from the loaded snapshots).
public struct PatientRecords: Sendable {
    /// A coded event or prescription.
    public struct Coded: Sendable, Hashable {
        public var source: RecordSource
        public var date: LocalDate
        public var code: SystemCode
        /// The record's `value` as the extract gives it (events; nil when empty).
        public var value: String?

        public init(source: RecordSource, date: LocalDate, code: SystemCode, value: String? = nil) {
            self.source = source
            self.date = date
            self.code = code
            self.value = value
        }
    }

    public var practiceID: String
    public var patientID: String
    public var yearOfBirth: Int
    public var monthOfBirth: Int?
    public var sex: String
    public var registrationStart: LocalDate
    public var registrationEnd: LocalDate?
    public var deathDate: LocalDate?
    /// The patient's records, any order; those whose code is in none of the cohort's lists are ignored.
    public var records: [Coded]

    public init(practiceID: String, patientID: String, yearOfBirth: Int, monthOfBirth: Int?, sex: String,
                registrationStart: LocalDate, registrationEnd: LocalDate?, deathDate: LocalDate?, records: [Coded]) {
        self.practiceID = practiceID
        self.patientID = patientID
        self.yearOfBirth = yearOfBirth
        self.monthOfBirth = monthOfBirth
        self.sex = sex
        self.registrationStart = registrationStart
        self.registrationEnd = registrationEnd
        self.deathDate = deathDate
        self.records = records
    }

    /// The date of birth the age rule uses: the 1st of the month, 1 July when the month is empty.
    public var dateOfBirth: LocalDate { LocalDate(year: yearOfBirth, month: monthOfBirth ?? 7, day: 1)! }
}

/// The state of a run as the contact history records it.
///
/// The `runs.status` column holds these raw values (sql/0005); every query
/// and comparison uses the enum, never the text.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    /// Recorded, its list not yet sent: invites nobody.
    case draft
    /// Its letters went out: its invitations count.
    case issued
    /// Computed and written, nothing recorded.
    case dryRun = "dry_run"

    /// The status as a quoted SQL literal, for statements whose text must not
    /// change from run to run (a constant of this enum, never a user value).
    public var sqlLiteral: String { "'\(rawValue)'" }
}

/// One patient's contact history for one cohort (and the invitations of the
/// other cohorts the cross-study safeguard names), as of an instant: each
/// invitation and outcome with whether it was recorded before that instant
/// (the history criteria count only what was).
public struct PatientHistory: Sendable {
    public struct Invitation: Sendable, Hashable {
        /// The run that listed the patient; nil for an invitation imported from before recruit.
        public var runID: Int?
        public var status: RunStatus?
        public var indexDate: LocalDate
        /// Issued (imported: recorded) before the instant.
        public var beforeInstant: Bool
        /// Not superseded for the patient's practice before the instant.
        public var notSuperseded: Bool
        public var supersededBy: Int?
        /// A run the evaluated run supersedes (its invitations do not count).
        public var ignored: Bool
        /// Another cohort's invitation (for the cross-study safeguard); nil: this cohort's.
        public var otherCohort: String?

        public init(runID: Int?, status: RunStatus?, indexDate: LocalDate, beforeInstant: Bool, notSuperseded: Bool = true,
                    supersededBy: Int? = nil, ignored: Bool = false, otherCohort: String? = nil) {
            self.otherCohort = otherCohort
            self.runID = runID
            self.status = status
            self.indexDate = indexDate
            self.beforeInstant = beforeInstant
            self.notSuperseded = notSuperseded
            self.supersededBy = supersededBy
            self.ignored = ignored
        }
    }

    public struct Outcome: Sendable, Hashable {
        public var outcome: String
        public var date: LocalDate?
        public var runID: Int?
        public var beforeInstant: Bool

        public init(outcome: String, date: LocalDate?, runID: Int?, beforeInstant: Bool) {
            self.outcome = outcome
            self.date = date
            self.runID = runID
            self.beforeInstant = beforeInstant
        }
    }

    public var invitations: [Invitation]
    public var outcomes: [Outcome]

    public init(invitations: [Invitation] = [], outcomes: [Outcome] = []) {
        self.invitations = invitations
        self.outcomes = outcomes
    }
}
