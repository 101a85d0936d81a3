import Foundation
import Postgres
import RecruitKit

/// A small extract written straight into the database for tests, as the loader
/// would leave it: one `loads` row, its partitions, the rows, and a
/// `practice_snapshots` row per practice pointing at it.
///
/// The same value drives the in-memory ``CohortOracle``, so a test states its
/// data once and checks the SQL engine against the oracle on it.
public struct ExtractFixture: Sendable {
    public struct Practice: Sendable, Hashable {
        public var id: String
        public var extractDate: LocalDate
        public init(_ id: String, extractDate: LocalDate) {
            self.id = id
            self.extractDate = extractDate
        }
    }

    public struct Patient: Sendable, Hashable {
        public var practiceID: String
        public var patientID: String
        public var yearOfBirth: Int
        public var monthOfBirth: Int?
        public var sex: String
        public var registrationStart: LocalDate
        public var registrationEnd: LocalDate?
        public var deathDate: LocalDate?

        public init(practiceID: String, patientID: String, yearOfBirth: Int, monthOfBirth: Int?, sex: String = "F",
                    registrationStart: LocalDate, registrationEnd: LocalDate? = nil, deathDate: LocalDate? = nil) {
            self.practiceID = practiceID
            self.patientID = patientID
            self.yearOfBirth = yearOfBirth
            self.monthOfBirth = monthOfBirth
            self.sex = sex
            self.registrationStart = registrationStart
            self.registrationEnd = registrationEnd
            self.deathDate = deathDate
        }
    }

    /// A coded event. Read v2 codes given with their term id (`N245.00`) are
    /// stored as the loader stores them: `N245.` with term id `00`.
    public struct Event: Sendable, Hashable {
        public var practiceID: String
        public var patientID: String
        public var date: LocalDate
        public var code: String
        public var termID: String?
        public var system: CodeSystem
        /// The event's `value` as the extract would give it (nil: empty).
        public var value: String?

        public init(practiceID: String, patientID: String, date: LocalDate, code: String, system: CodeSystem, value: String? = nil) {
            self.practiceID = practiceID
            self.patientID = patientID
            self.date = date
            self.system = system
            self.value = value
            if system == .read2 && code.count == 7 {
                self.code = String(code.prefix(5))
                self.termID = String(code.suffix(2))
            } else {
                self.code = code
                self.termID = nil
            }
        }
    }

    public struct Prescription: Sendable, Hashable {
        public var practiceID: String
        public var patientID: String
        public var date: LocalDate
        public var code: String
        public var system: CodeSystem

        public init(practiceID: String, patientID: String, date: LocalDate, code: String, system: CodeSystem) {
            self.practiceID = practiceID
            self.patientID = patientID
            self.date = date
            self.system = system
            self.code = system == .read2 && code.count == 7 ? String(code.prefix(5)) : code
        }
    }

    public var practices: [Practice]
    public var patients: [Patient] = []
    public var events: [Event] = []
    public var prescriptions: [Prescription] = []

    public init(practices: [Practice]) {
        self.practices = practices
    }

    public mutating func add(_ patient: Patient) { patients.append(patient) }

    public mutating func event(_ practiceID: String, _ patientID: String, _ date: LocalDate, _ code: String, _ system: CodeSystem = .read2,
                               value: String? = nil) {
        events.append(Event(practiceID: practiceID, patientID: patientID, date: date, code: code, system: system, value: value))
    }

    public mutating func prescription(_ practiceID: String, _ patientID: String, _ date: LocalDate, _ code: String, _ system: CodeSystem = .dmd) {
        prescriptions.append(Prescription(practiceID: practiceID, patientID: patientID, date: date, code: code, system: system))
    }

    /// Writes the extract as canonical files for the loader (`recruit load`), with
    /// the latest practice extract date as the extract's. Patient ids must be
    /// unique across the practices (events and prescriptions name only the patient).
    public func files() throws -> ExtractFiles {
        var p = "patient_id,practice_id,year_of_birth,month_of_birth,sex,registration_start,registration_end,death_date\n"
        for x in patients {
            p += "\(x.patientID),\(x.practiceID),\(x.yearOfBirth),\(x.monthOfBirth.map(String.init) ?? ""),\(x.sex),"
                + "\(x.registrationStart),\(x.registrationEnd?.description ?? ""),\(x.deathDate?.description ?? "")\n"
        }
        var e = "patient_id,event_date,code,code_system,value\n"
        for x in events { e += "\(x.patientID),\(x.date),\(x.code)\(x.termID ?? ""),\(x.system.rawValue),\(x.value ?? "")\n" }
        var r = "patient_id,issue_date,code,code_system,quantity,duration_days,issue_type\n"
        for x in prescriptions { r += "\(x.patientID),\(x.date),\(x.code),\(x.system.rawValue),,,\n" }
        return try ExtractFiles.make(patients: p, events: e, prescriptions: r,
                                     extractDate: practices.map(\.extractDate).max()?.description)
    }

    /// Writes the extract as a new load and makes it the current snapshot of its practices.
    ///
    /// - Returns: the load id.
    @discardableResult
    public func write(to database: Database) throws -> Int {
        let c = database.connection
        return try c.transaction {
            let loadID = try c.query("""
                INSERT INTO loads (status, os_user, tool_version, profile_name, profile_sha256, extract_date, finished_at)
                VALUES ('loaded', 'test', 'test', 'canonical', 'test', \(practices.map(\.extractDate).max()), now())
                RETURNING load_id
                """)[0].int("load_id")!
            try c.execute("SELECT create_load_partitions(\(loadID))")
            if !patients.isEmpty {
                try c.execute("""
                    INSERT INTO patients (load_id, practice_id, patient_id, year_of_birth, month_of_birth, sex,
                                          registration_start, registration_end, death_date)
                    SELECT \(loadID), practice_id, patient_id, yob, nullif(mob, '')::smallint, sex::"char", rs,
                           nullif(re, '')::date, nullif(dd, '')::date
                    FROM unnest(\(patients.map(\.practiceID))::text[], \(patients.map(\.patientID))::text[],
                        \(patients.map(\.yearOfBirth))::int[], \(patients.map { $0.monthOfBirth.map(String.init) ?? "" })::text[],
                        \(patients.map(\.sex))::text[], \(patients.map(\.registrationStart.description))::date[],
                        \(patients.map { $0.registrationEnd?.description ?? "" })::text[], \(patients.map { $0.deathDate?.description ?? "" })::text[])
                      AS x(practice_id, patient_id, yob, mob, sex, rs, re, dd)
                    """)
            }
            if !events.isEmpty {
                try c.execute("""
                    INSERT INTO events (load_id, practice_id, patient_id, event_date, code, term_id, code_system, value)
                    SELECT \(loadID), practice_id, patient_id, d, code, nullif(term_id, ''), code_system, nullif(v, '')::numeric
                    FROM unnest(\(events.map(\.practiceID))::text[], \(events.map(\.patientID))::text[], \(events.map(\.date.description))::date[],
                                \(events.map(\.code))::text[], \(events.map { $0.termID ?? "" })::text[], \(events.map(\.system.rawValue))::text[],
                                \(events.map { $0.value ?? "" })::text[])
                      AS x(practice_id, patient_id, d, code, term_id, code_system, v)
                    """)
            }
            if !prescriptions.isEmpty {
                try c.execute("""
                    INSERT INTO prescriptions (load_id, practice_id, patient_id, issue_date, code, code_system)
                    SELECT \(loadID), practice_id, patient_id, d, code, code_system
                    FROM unnest(\(prescriptions.map(\.practiceID))::text[], \(prescriptions.map(\.patientID))::text[],
                                \(prescriptions.map(\.date.description))::date[], \(prescriptions.map(\.code))::text[],
                                \(prescriptions.map(\.system.rawValue))::text[])
                      AS x(practice_id, patient_id, d, code, code_system)
                    """)
            }
            for practice in practices {
                let counts = (patients.filter { $0.practiceID == practice.id }.count,
                              events.filter { $0.practiceID == practice.id }.count,
                              prescriptions.filter { $0.practiceID == practice.id }.count)
                try c.execute("""
                    INSERT INTO practice_snapshots (practice_id, load_id, extract_date, patients, events, prescriptions)
                    VALUES (\(practice.id), \(loadID), \(practice.extractDate), \(counts.0), \(counts.1), \(counts.2))
                    ON CONFLICT (practice_id) DO UPDATE SET load_id = excluded.load_id, extract_date = excluded.extract_date,
                      replaced_at = now(), patients = excluded.patients, events = excluded.events, prescriptions = excluded.prescriptions
                    """)
            }
            try c.execute("ANALYZE patients, events, prescriptions, practice_snapshots")
            return loadID
        }
    }
}
