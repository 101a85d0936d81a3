/// Every patient id of an extract with its practice and state, built by the
/// first pass over the patients file and read by the events and prescriptions
/// streams (which carry no practice id and must name a loaded patient).
///
/// Filled on one thread before the streams start, then only read, so it is shared.
final class PatientRegistry: @unchecked Sendable {
    /// patient id → practice index (low 16 bits) | state flags.
    let patients: ByteMap
    /// practice id → practice index.
    let practices = ByteMap(expectedCount: 1024)
    private(set) var practiceIDs: [[UInt8]] = []

    static let practiceMask: UInt32 = 0xFFFF
    /// Some copy of the id was rejected (its row broke a rule).
    static let rejected: UInt32 = 1 << 16
    /// The id appears more than once: every copy is rejected.
    static let duplicate: UInt32 = 1 << 17
    /// The row was skipped by the profile (e.g. CPRD's accept = 0): its events are skipped too.
    static let skipped: UInt32 = 1 << 18
    /// No practice (the row was rejected before its practice was known).
    static let noPractice: UInt32 = 0xFFFF

    init(expectedPatients: Int) {
        patients = ByteMap(expectedCount: max(1024, expectedPatients))
    }

    /// The index of a practice id, registering it when new.
    /// - Throws: when an extract holds more practices than the index can number.
    func practiceIndex(_ id: UnsafeRawBufferPointer) throws -> Int {
        if let i = practices.lookup(id) { return Int(i) }
        guard practiceIDs.count < Int(Self.noPractice) else {
            throw RecruitError.refused("the extract holds more than \(Self.noPractice - 1) practices; split it")
        }
        let i = practiceIDs.count
        practices.insert(id, value: UInt32(i))
        practiceIDs.append(Array(id))
        return i
    }

    /// Records one patients row (first pass).
    func register(_ id: UnsafeRawBufferPointer, practice: Int?, state: UInt32) {
        let value = UInt32(practice ?? Int(Self.noPractice)) | state
        patients.insert(id, value: value) { existing in existing | Self.duplicate }
    }

    /// Patients per practice that will be loaded (valid, not duplicated, not skipped).
    func loadablePractices() -> Set<Int> {
        var out: Set<Int> = []
        patients.forEach { _, v in
            if v & (Self.rejected | Self.duplicate | Self.skipped) == 0 { out.insert(Int(v & Self.practiceMask)) }
        }
        return out
    }

    /// About the median loadable patient id (byte order), from a sample of up
    /// to 20,000 ids: the key that splits the events into two halves of
    /// roughly equal size. Nil when no patient is loadable.
    func medianPatientID() -> [UInt8]? {
        let step = max(1, patients.count / 20_000)
        var sample: [[UInt8]] = []
        var i = 0
        patients.forEach { key, v in
            if v & (Self.rejected | Self.duplicate | Self.skipped) == 0 {
                if i % step == 0 { sample.append(Array(key)) }
                i += 1
            }
        }
        guard !sample.isEmpty else { return nil }
        sample.sort { $0.lexicographicallyPrecedes($1) }
        return sample[sample.count / 2]
    }

    func practiceID(_ index: Int) -> String { String(decoding: practiceIDs[index], as: UTF8.self) }
}
