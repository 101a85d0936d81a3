/// Walker's alias method: draws an index with probability proportional to its
/// weight in constant time, for sampling codes from lists of thousands.
public struct AliasTable: Sendable {
    private var probability: [Double]
    private var alias: [Int32]

    public var count: Int { probability.count }

    /// - Parameter weights: non-negative, not all zero.
    public init(weights: [Double]) {
        let n = weights.count
        precondition(n > 0, "an alias table needs at least one weight")
        let total = weights.reduce(0, +)
        precondition(total > 0, "an alias table needs a positive weight")
        var scaled = weights.map { $0 * Double(n) / total }
        probability = [Double](repeating: 1, count: n)
        alias = [Int32](repeating: 0, count: n)
        var small: [Int] = [], large: [Int] = []
        for (i, w) in scaled.enumerated() { if w < 1 { small.append(i) } else { large.append(i) } }
        while let s = small.popLast(), let l = large.last {
            probability[s] = scaled[s]
            alias[s] = Int32(l)
            scaled[l] -= 1 - scaled[s]
            if scaled[l] < 1 { large.removeLast(); small.append(l) }
        }
        for i in large { probability[i] = 1 }
        for i in small { probability[i] = 1 }
    }

    @inline(__always)
    public func sample(_ rng: inout SyntheticRandom) -> Int {
        let i = rng.below(probability.count)
        return rng.uniform() < probability[i] ? i : Int(alias[i])
    }
}
