import Foundation

/// Plants bad rows for `--inject-errors RATE` and records each one (file,
/// line, kind) in `injected.csv`, including the rows rejected only because
/// their patient is (`patient_rejected`), so a loader's reject record can be
/// checked exactly.
///
/// Each row is chosen with probability RATE; the kinds of a file are taken in
/// turn, so every kind appears once enough rows are chosen. A bad row breaks
/// exactly one rule. Patients with an invalid `patient_id` get no events or
/// prescriptions (what a loader would call them is not defined); a duplicate
/// `patient_id` is planted by giving the next patient the same id, so both
/// rows and all their records are rejected.
final class ErrorInjector {
    let rate: Double
    private var rng: SyntheticRandom
    private var cursor: [String: Int] = [:]
    private let sinks: [String: ByteSink]
    private(set) var counts: [InjectedErrorKind: Int] = [:]
    /// The id the next patient must reuse (a planted duplicate).
    var pendingDuplicate: [UInt8]?
    private var unknownSequence: Int
    let ids: PseudonymousID

    static let patients = "patients.csv", events = "events.csv", prescriptions = "prescriptions.csv"

    init(rate: Double, seed: UInt64, patients: Int, ids: PseudonymousID, staging: URL) throws {
        self.rate = rate
        self.ids = ids
        rng = SyntheticRandom(seed: seed, stream: 0xBAD0_BAD0)
        unknownSequence = patients + 1_000_000
        var s: [String: ByteSink] = [:]
        for name in [Self.patients, Self.events, Self.prescriptions] {
            s[name] = try ByteSink(url: staging.appendingPathComponent("injected-\(name)"), capacity: 1 << 20)
        }
        sinks = s
    }

    /// Decides whether this row is bad and which kind, among `kinds` that `applicable` accepts.
    func choose(_ file: String, _ kinds: [InjectedErrorKind], applicable: (InjectedErrorKind) -> Bool = { _ in true }) -> InjectedErrorKind? {
        guard rng.chance(rate) else { return nil }
        let start = cursor[file, default: 0]
        for step in 0..<kinds.count {
            let kind = kinds[(start + step) % kinds.count]
            if applicable(kind) {
                cursor[file] = start + step + 1
                return kind
            }
        }
        return nil
    }

    func record(_ file: String, line: Int, _ kind: InjectedErrorKind) throws {
        counts[kind, default: 0] += 1
        let sink = sinks[file]!
        try sink.text(file)
        try sink.byte(UInt8(ascii: ","))
        try sink.int(line)
        try sink.byte(UInt8(ascii: ","))
        try sink.text(kind.rawValue)
        try sink.byte(UInt8(ascii: "\n"))
    }

    func nextUnknownID() -> String {
        unknownSequence += 1
        return ids.string(unknownSequence)
    }

    @inline(__always)
    func pick<T>(_ options: [T]) -> T { options[rng.below(options.count)] }

    func int(in range: ClosedRange<Int>) -> Int { rng.int(in: range) }

    /// Writes `injected.csv` (header, then the rows of patients, events and
    /// prescriptions in that order) and removes the partial files.
    func finish(to url: URL) throws -> Int {
        let out = try ByteSink(url: url)
        try out.text("file,line,kind\n")
        for name in [Self.patients, Self.events, Self.prescriptions] {
            let sink = sinks[name]!
            try sink.close()
            try appendFile(sink.url, to: out)
            try? FileManager.default.removeItem(at: sink.url)
        }
        try out.close()
        return counts.values.reduce(0, +)
    }

    private func appendFile(_ url: URL, to out: ByteSink) throws {
        guard let f = fopen(url.path, "rb") else { throw RecruitError.environment("cannot read \(url.path)") }
        defer { fclose(f) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n == 0 { break }
            try buffer.withUnsafeBufferPointer { try out.bytes(UnsafeBufferPointer(rebasing: $0[0..<n])) }
        }
    }
}
