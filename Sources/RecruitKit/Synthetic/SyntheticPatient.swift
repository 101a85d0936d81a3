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
