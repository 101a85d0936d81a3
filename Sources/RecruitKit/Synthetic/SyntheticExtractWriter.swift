/// Writes synthetic patients in one output layout (a profile).
protocol SyntheticExtractWriter: AnyObject {
    /// Writes one patient and its records. `hasNext` tells whether another patient follows.
    func write(_ patient: SyntheticPatient, hasNext: Bool) throws
    /// The patient id and practice id the last `write` wrote (for the truth file).
    var lastWritten: (patientID: String, practiceID: String) { get }
    /// Closes the files; returns the row counts.
    func finish() throws -> SyntheticExtractCounts
}

/// Rows written, by kind.
struct SyntheticExtractCounts {
    var patients = 0
    var events = 0
    var prescriptions = 0
    var injected = 0
    var injectedByKind: [InjectedErrorKind: Int] = [:]
}
