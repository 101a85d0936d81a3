import Foundation
import Postgres
import RecruitKit

/// Run history for tests of criteria 11 and 12, written straight into the
/// tables of sql/0005_runs.sql. Instants are seconds since 1970 (UTC).
public struct HistoryFixture: Sendable {
    public struct RunPractice: Sendable, Hashable {
        public var practiceID: String
        public var supersededBy: Int?
        public var supersededAt: Int?
        public init(_ practiceID: String, supersededBy: Int? = nil, supersededAt: Int? = nil) {
            self.practiceID = practiceID
            self.supersededBy = supersededBy
            self.supersededAt = supersededAt
        }
    }

    public struct Run: Sendable, Hashable {
        public var runID: Int
        public var cohortName: String
        public var indexDate: LocalDate
        public var status: String
        public var issuedAt: Int?
        public var practices: [RunPractice]
        public var invitations: [PatientKey]
        public init(runID: Int, cohortName: String, indexDate: LocalDate, status: String = "issued", issuedAt: Int?,
                    practices: [RunPractice], invitations: [PatientKey]) {
            self.runID = runID
            self.cohortName = cohortName
            self.indexDate = indexDate
            self.status = status
            self.issuedAt = issuedAt
            self.practices = practices
            self.invitations = invitations
        }
    }

    public struct ImportedInvitation: Sendable, Hashable {
        public var cohortName: String
        public var patient: PatientKey
        public var indexDate: LocalDate
        public var recordedAt: Int
        public init(cohortName: String, patient: PatientKey, indexDate: LocalDate, recordedAt: Int) {
            self.cohortName = cohortName
            self.patient = patient
            self.indexDate = indexDate
            self.recordedAt = recordedAt
        }
    }

    public struct Outcome: Sendable, Hashable {
        public var cohortName: String
        public var patient: PatientKey
        public var outcome: String
        public var recordedAt: Int
        public init(cohortName: String, patient: PatientKey, outcome: String, recordedAt: Int) {
            self.cohortName = cohortName
            self.patient = patient
            self.outcome = outcome
            self.recordedAt = recordedAt
        }
    }

    public var runs: [Run] = []
    public var invitations: [ImportedInvitation] = []
    public var outcomes: [Outcome] = []

    public init(runs: [Run] = [], invitations: [ImportedInvitation] = [], outcomes: [Outcome] = []) {
        self.runs = runs
        self.invitations = invitations
        self.outcomes = outcomes
    }

    public var isEmpty: Bool { runs.isEmpty && invitations.isEmpty && outcomes.isEmpty }

    /// An instant as PostgreSQL reads it (`history_as_of` for an evaluation).
    public static func timestamp(_ seconds: Int) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    /// Writes the history; run_practices point at `loadID` (any existing load).
    public func write(to database: Database, loadID: Int) throws {
        let c = database.connection
        try c.transaction {
            for name in Set(runs.map(\.cohortName)) {
                try c.execute("""
                    INSERT INTO cohort_definitions (cohort_sha256, name, version, definition)
                    VALUES (\("sha-" + name), \(name), '1', '') ON CONFLICT DO NOTHING
                    """)
            }
            for run in runs {
                try c.execute("""
                    INSERT INTO runs (run_id, cohort_name, cohort_version, cohort_sha256, index_date, status, history_as_of,
                                      os_user, tool_version, issued_at)
                    OVERRIDING SYSTEM VALUE
                    VALUES (\(run.runID), \(run.cohortName), '1', \("sha-" + run.cohortName), \(run.indexDate), \(run.status),
                            now(), 'test', 'test', to_timestamp(\(run.issuedAt.map(Double.init))))
                    """)
            }
            for run in runs {
                for p in run.practices {
                    try c.execute("""
                        INSERT INTO run_practices (run_id, practice_id, load_id, extract_date, superseded_by_run_id, superseded_at)
                        VALUES (\(run.runID), \(p.practiceID), \(loadID), \(run.indexDate), \(p.supersededBy),
                                to_timestamp(\(p.supersededAt.map(Double.init))))
                        """)
                }
                for key in Set(run.invitations) {
                    try c.execute("INSERT INTO run_invitations (run_id, practice_id, patient_id) VALUES (\(run.runID), \(key.practiceID), \(key.patientID))")
                }
            }
            guard !invitations.isEmpty || !outcomes.isEmpty else { return }
            let importID = try c.query("""
                INSERT INTO contact_imports (kind, cohort_name, file_name, file_sha256, rows, os_user)
                VALUES ('history_invitations', 'test', 'fixture.csv', \(UUID().uuidString), 0, 'test') RETURNING import_id
                """)[0].int("import_id")!
            for i in Set(invitations) {
                try c.execute("""
                    INSERT INTO history_invitations (import_id, cohort_name, practice_id, patient_id, index_date, recorded_at)
                    VALUES (\(importID), \(i.cohortName), \(i.patient.practiceID), \(i.patient.patientID), \(i.indexDate), to_timestamp(\(Double(i.recordedAt))))
                    ON CONFLICT DO NOTHING
                    """)
            }
            for o in outcomes {
                try c.execute("""
                    INSERT INTO contact_outcomes (import_id, cohort_name, practice_id, patient_id, outcome, recorded_at)
                    VALUES (\(importID), \(o.cohortName), \(o.patient.practiceID), \(o.patient.patientID), \(o.outcome), to_timestamp(\(Double(o.recordedAt))))
                    """)
            }
        }
    }
}

/// A patient: practice and patient id together.
public struct PatientKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var practiceID: String
    public var patientID: String
    public init(_ practiceID: String, _ patientID: String) {
        self.practiceID = practiceID
        self.patientID = patientID
    }
    /// Byte order of practice, then patient (C collation).
    public static func < (a: PatientKey, b: PatientKey) -> Bool {
        if a.practiceID != b.practiceID { return a.practiceID.utf8.lexicographicallyPrecedes(b.practiceID.utf8) }
        return a.patientID.utf8.lexicographicallyPrecedes(b.patientID.utf8)
    }
    public var description: String { "\(practiceID)/\(patientID)" }
}
