/// Pseudonymous patient identifiers: a seed-keyed permutation (a four-round
/// Feistel network on 50 bits) of the patient's sequence number, written as ten
/// Crockford base-32 characters. Being a permutation, distinct sequence numbers
/// never share an id, so ids are unique across the whole extract without a
/// lookup table, and numbers beyond the extract's patients give ids that are
/// certainly unknown (for injected "unknown patient" rows).
struct PseudonymousID: Sendable {
    private let keys: (UInt64, UInt64, UInt64, UInt64)
    private static let halfBits: UInt64 = 25
    private static let halfMask: UInt64 = (1 << 25) - 1
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    static let length = 10

    init(seed: UInt64) {
        keys = (SyntheticRandom.splitMix(seed ^ 0xA1), SyntheticRandom.splitMix(seed ^ 0xB2),
                SyntheticRandom.splitMix(seed ^ 0xC3), SyntheticRandom.splitMix(seed ^ 0xD4))
    }

    /// The permuted 50-bit value for sequence number `n` (n < 2^50).
    func permuted(_ n: Int) -> UInt64 {
        var left = (UInt64(n) >> Self.halfBits) & Self.halfMask
        var right = UInt64(n) & Self.halfMask
        for key in [keys.0, keys.1, keys.2, keys.3] {
            let f = SyntheticRandom.splitMix(right ^ key) & Self.halfMask
            (left, right) = (right, left ^ f)
        }
        return left << Self.halfBits | right
    }

    /// Writes the id of patient `n` into `out` (10 bytes).
    func write(_ n: Int, into out: inout [UInt8]) {
        var v = permuted(n)
        out.removeAll(keepingCapacity: true)
        for _ in 0..<Self.length {
            out.append(Self.alphabet[Int(v & 31)])
            v >>= 5
        }
    }

    func string(_ n: Int) -> String {
        var out: [UInt8] = []
        write(n, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
