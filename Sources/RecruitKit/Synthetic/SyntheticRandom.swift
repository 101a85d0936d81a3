import Foundation

/// The synthesiser's own seeded pseudo-random generator: xoshiro256** seeded
/// through SplitMix64, so the same seed gives the same numbers on every
/// platform and Swift version (Swift's own `random` is neither seedable nor stable).
///
/// Every patient draws from its own stream, derived from the run's seed and the
/// patient's sequence number, so one patient's draws never shift another's.
public struct SyntheticRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator for `seed`, optionally on an independent numbered `stream`.
    public init(seed: UInt64, stream: UInt64 = 0) {
        var x = seed ^ SyntheticRandom.splitMix(stream &+ 0x5851_F42D_4C95_7F2D)
        s0 = SyntheticRandom.splitMixNext(&x)
        s1 = SyntheticRandom.splitMixNext(&x)
        s2 = SyntheticRandom.splitMixNext(&x)
        s3 = SyntheticRandom.splitMixNext(&x)
        if s0 | s1 | s2 | s3 == 0 { s0 = 0x9E37_79B9_7F4A_7C15 }
    }

    /// SplitMix64's output function: a strong 64-bit mix of `x`.
    @inline(__always)
    public static func splitMix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    private static func splitMixNext(_ x: inout UInt64) -> UInt64 {
        let r = splitMix(x)
        x &+= 0x9E37_79B9_7F4A_7C15
        return r
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A double in [0, 1).
    @inline(__always)
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// An integer in `0..<n` (n > 0), by Lemire's multiply-shift (bias below 2^-32 for our n).
    @inline(__always)
    public mutating func below(_ n: Int) -> Int {
        Int(truncatingIfNeeded: ((next() >> 32) &* UInt64(n)) >> 32)
    }

    /// An integer in `range`.
    @inline(__always)
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    /// True with probability `p`.
    @inline(__always)
    public mutating func chance(_ p: Double) -> Bool {
        uniform() < p
    }

    /// An index into `weights` (non-negative, not all zero), with probability
    /// proportional to its weight (a linear scan: for short tables).
    public mutating func weightedIndex(_ weights: [Double]) -> Int {
        var x = uniform() * weights.reduce(0, +)
        for (i, w) in weights.enumerated() {
            if x < w { return i }
            x -= w
        }
        return weights.count - 1
    }

    /// An exponential variate with the given mean.
    @inline(__always)
    public mutating func exponential(mean: Double) -> Double {
        -mean * log(1 - uniform())
    }

    /// A normal variate (Box-Muller; one of the pair is discarded for simplicity).
    @inline(__always)
    public mutating func normal(mean: Double, sd: Double) -> Double {
        let u1 = 1 - uniform(), u2 = uniform()
        return mean + sd * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// A Poisson variate: Knuth's product method for small means, a rounded
    /// normal approximation above 30 (counts of events over years).
    public mutating func poisson(mean: Double) -> Int {
        guard mean > 0 else { return 0 }
        if mean > 30 { return max(0, Int(normal(mean: mean, sd: mean.squareRoot()).rounded())) }
        let limit = exp(-mean)
        var k = 0
        var p = uniform()
        while p > limit {
            k += 1
            p *= uniform()
        }
        return k
    }
}
