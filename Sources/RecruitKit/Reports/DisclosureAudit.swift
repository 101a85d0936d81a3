/// What a reader can work out about each count of a published table.
///
/// The reader knows the rule (1–7 shown as `≤7`, other counts rounded to the
/// nearest 5, `*` only for counts of 8 or more), sees every printed number and
/// rate, and knows which cells add up to which. From that, each cell's value
/// lies in a range: `≤7` is 1…7, `10` is 8…12, `*` is 8 or more. The audit then
/// narrows every range with the relations (a total lies between the sums of its
/// parts' lower and upper bounds; a part lies between the total's bounds minus
/// the others') and with the printed rates (only some pairs of counts in their
/// ranges give exactly the printed text), until nothing changes.
///
/// This is interval constraint propagation: the ranges it returns always
/// contain the true value (it is sound), and a range of one value means the
/// count can certainly be recovered. It may miss a deduction that needs several
/// relations at once, so ``SmallNumberSuppression`` asks for a margin: a `≤7`
/// count must keep at least 3 possible values.
public enum DisclosureAudit {
    /// The values a reader cannot rule out for one cell.
    public struct Range: Hashable, Sendable, CustomStringConvertible {
        public var lower: Int
        /// nil: no upper bound.
        public var upper: Int?

        public init(_ lower: Int, _ upper: Int?) {
            self.lower = lower
            self.upper = upper
        }

        /// How many values the cell could take (nil: unbounded).
        public var count: Int? { upper.map { $0 - lower + 1 } }
        public func contains(_ value: Int) -> Bool { value >= lower && (upper.map { value <= $0 } ?? true) }
        public var description: String { "\(lower)…\(upper.map(String.init) ?? "∞")" }
    }

    static let infinity = Int.max / 4

    /// Works out each cell's range from what is published.
    ///
    /// - Parameters:
    ///   - table: the cells, relations and rates.
    ///   - published: how each cell is printed.
    ///   - rates: the printed text of each of `table.ratios` (nil where not printed).
    ///   - zeroPossible: cells printed as `≤7` that a reader must allow to be 0
    ///     (in a relation where a 0 was hidden as `≤7`).
    ///   - rule: the suppression rule the reader knows.
    /// - Returns: one range per cell.
    public static func readerRanges(of table: DisclosureTable, published: [PublishedCount], rates: [String?],
                                    zeroPossible: Set<Int> = [], rule: SmallNumberSuppression = .init()) -> [Range] {
        precondition(published.count == table.count && rates.count == table.ratios.count)
        let half = (rule.roundingBase - 1) / 2
        var lo = [Int](repeating: 0, count: table.count)
        var hi = [Int](repeating: infinity, count: table.count)
        for (i, p) in published.enumerated() {
            switch p {
            case .exact(let n):
                lo[i] = n; hi[i] = n
            case .rounded(let n):
                if n == 0 { lo[i] = 0; hi[i] = 0 } else { lo[i] = max(n - half, rule.threshold + 1); hi[i] = n + half }
            case .small:
                lo[i] = zeroPossible.contains(i) ? 0 : 1; hi[i] = rule.threshold
            case .secondary:
                lo[i] = rule.threshold + 1
            }
        }

        // Constraints: relations first, then ratios. Each cell lists those it is in.
        let relationCount = table.relations.count
        var constraintsOf = [[Int]](repeating: [], count: table.count)
        for (r, relation) in table.relations.enumerated() {
            for m in relation.members { constraintsOf[m.index].append(r) }
        }
        for (q, ratio) in table.ratios.enumerated() where rates[q] != nil {
            constraintsOf[ratio.numerator.index].append(relationCount + q)
            constraintsOf[ratio.denominator.index].append(relationCount + q)
        }

        let total = relationCount + table.ratios.count
        var queued = [Bool](repeating: true, count: total)
        var queue = Array(0..<total)
        var head = 0
        var changed: [Int] = []
        // Sound at any point, so a cap on the work only makes the answer less sharp.
        let budget = 400 * max(total, 1) + 100_000
        var visits = 0

        func tighten(_ i: Int, _ newLo: Int, _ newHi: Int) {
            var c = false
            if newLo > lo[i] { lo[i] = newLo; c = true }
            if newHi < hi[i] { hi[i] = newHi; c = true }
            if c { changed.append(i) }
        }

        while head < queue.count, visits < budget {
            let k = queue[head]
            head += 1
            queued[k] = false
            visits += 1
            changed.removeAll(keepingCapacity: true)
            if k < relationCount {
                let relation = table.relations[k]
                var sumLo = 0, sumHi = 0, infinite = 0
                for p in relation.parts {
                    sumLo += lo[p.index]
                    if hi[p.index] >= infinity { infinite += 1 } else { sumHi += hi[p.index] }
                }
                let t = relation.total.index
                tighten(t, sumLo, infinite > 0 ? infinity : sumHi)
                let tLo = lo[t], tHi = hi[t]
                for p in relation.parts {
                    let j = p.index
                    let othersInfinite = infinite - (hi[j] >= infinity ? 1 : 0)
                    let othersHi = sumHi - (hi[j] >= infinity ? 0 : hi[j])
                    let newLo = othersInfinite > 0 ? 0 : tLo - othersHi
                    let newHi = tHi >= infinity ? infinity : tHi - (sumLo - lo[j])
                    tighten(j, newLo, newHi)
                }
            } else {
                let ratio = table.ratios[k - relationCount]
                guard let text = rates[k - relationCount] else { continue }
                let n = ratio.numerator.index, d = ratio.denominator.index
                guard hi[n] < infinity, hi[d] < infinity,
                      (hi[n] - lo[n] + 1) * (hi[d] - lo[d] + 1) <= 40_000 else { continue }
                var nLo = Int.max, nHi = Int.min, dLo = Int.max, dHi = Int.min
                for x in lo[n]...max(lo[n], hi[n]) {
                    for y in lo[d]...max(lo[d], hi[d]) where ratio.format.text(x, y) == text {
                        nLo = min(nLo, x); nHi = max(nHi, x); dLo = min(dLo, y); dHi = max(dHi, y)
                    }
                }
                if nLo <= nHi {
                    tighten(n, nLo, nHi)
                    tighten(d, dLo, dHi)
                }
            }
            for i in changed {
                for c in constraintsOf[i] where !queued[c] {
                    queued[c] = true
                    queue.append(c)
                }
            }
            if head > 4096, head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
        }
        return (0..<table.count).map { Range(lo[$0], hi[$0] >= infinity ? nil : hi[$0]) }
    }
}
