/// One synthetic patient: demographics, registration and records, as day
/// numbers (days since 1970-01-01) and code-book indices. The generator
/// refills one instance per patient, so records need no allocation per patient.
final class SyntheticPatient {
    struct Event {
        var day: Int32
        var code: Int32
        /// The value in tenths, or ``Event/noValue``.
        var value: Int32
        static let noValue = Int32.min
    }

    struct Prescription {
        var day: Int32
        var code: Int32
        var quantity: Int32
        /// Days the issue covers, 0 when not recorded.
        var duration: Int16
        /// 0 for an acute issue, else the issue's number in its repeat course.
        var issue: Int16
    }

    /// 0-based number of the patient in the extract (the id is derived from it).
    var sequence = 0
    var practice = 0
    var yearOfBirth = 0
    /// 1-12, or 0 when not recorded.
    var monthOfBirth = 0
    var birthDay = 0
    /// `M`, `F`, `I` or `U`.
    var sex = UInt8(ascii: "U")
    var registrationStart = 0
    /// The first registration date (CPRD `frd`): before `registrationStart` for re-registrations.
    var firstRegistration = 0
    var registrationEnd: Int?
    var deathDay: Int?
    var events: [Event] = []
    /// The true work status at the extract date (never written into the extract).
    var workStatus = SyntheticWorkStatus.notWorkingAge
    var prescriptions: [Prescription] = []

    init() {
        events.reserveCapacity(512)
        prescriptions.reserveCapacity(512)
    }

    func reset(sequence: Int, practice: Int) {
        self.sequence = sequence
        self.practice = practice
        registrationEnd = nil
        deathDay = nil
        workStatus = .notWorkingAge
        events.removeAll(keepingCapacity: true)
        prescriptions.removeAll(keepingCapacity: true)
    }

    /// Puts records in date order (stable for equal dates, so output is deterministic).
    func sortRecords() {
        if !events.isEmpty {
            events.sort { $0.day != $1.day ? $0.day < $1.day : ($0.code, $0.value) < ($1.code, $1.value) }
        }
        if !prescriptions.isEmpty {
            prescriptions.sort { $0.day != $1.day ? $0.day < $1.day : ($0.code, $0.issue) < ($1.code, $1.issue) }
        }
    }
}

/// A synthetic person's true work status at the extract date: what a study
/// would learn by asking, which the record only hints at. `recruit synth
/// --truth FILE` writes it beside the extract; the loader never reads it.
public enum SyntheticWorkStatus: String, CaseIterable, Sendable, Codable {
    /// Aged 16-66, registered and alive, working (past short fit notes at most).
    case inWork = "in_work"
    /// Working, and off sick now: a fit-note episode runs at the extract date.
    case offSickWithJob = "off_sick_with_job"
    /// Not working (unemployed or long-term sick), certified now, before, or never.
    case outOfWork = "out_of_work"
    /// Registered and alive, under 16 or over 66 at the extract date.
    case notWorkingAge = "not_working_age"
    /// Left the practice or died before the extract date.
    case notRegistered = "not_registered"
}
