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
        var propagator = IntervalPropagator(table: table, rule: rule)
        propagator.start(published: published, rates: rates, zeroPossible: zeroPossible)
        return propagator.ranges
    }
}

/// The propagation behind ``DisclosureAudit``, kept between audits so that
/// showing one more cell only propagates what that changes.
struct IntervalPropagator {
    static let infinity = Int.max / 4

    let table: DisclosureTable
    let rule: SmallNumberSuppression
    /// Relation r's members are `members[start[r]..<start[r+1]]`, its total first.
    let start: [Int]
    let members: [Int]
    let relationCount: Int
    /// Constraint ids (relations, then relationCount + ratio index) each cell is in.
    let constraintsOf: [[Int]]

    var lo: [Int]
    var hi: [Int]
    /// The constraint that last raised each lower bound / lowered each upper
    /// bound (-1: the cell's own printed form), to explain a narrowed cell.
    var loWhy: [Int32]
    var hiWhy: [Int32]
    var rates: [String?]
    /// Constraint visits so far (a measure of the work done).
    private(set) var visits = 0

    init(table: DisclosureTable, rule: SmallNumberSuppression) {
        self.table = table
        self.rule = rule
        var start = [0], members: [Int] = []
        var constraintsOf = [[Int]](repeating: [], count: table.count)
        for (r, relation) in table.relations.enumerated() {
            members.append(relation.total.index)
            constraintsOf[relation.total.index].append(r)
            for p in relation.parts {
                members.append(p.index)
                constraintsOf[p.index].append(r)
            }
            start.append(members.count)
        }
        relationCount = table.relations.count
        for (q, ratio) in table.ratios.enumerated() {
            constraintsOf[ratio.numerator.index].append(relationCount + q)
            constraintsOf[ratio.denominator.index].append(relationCount + q)
        }
        self.start = start
        self.members = members
        self.constraintsOf = constraintsOf
        lo = [Int](repeating: 0, count: table.count)
        hi = [Int](repeating: Self.infinity, count: table.count)
        loWhy = [Int32](repeating: -1, count: table.count)
        hiWhy = [Int32](repeating: -1, count: table.count)
        rates = [String?](repeating: nil, count: table.ratios.count)
    }

    var ranges: [DisclosureAudit.Range] {
        (0..<table.count).map { DisclosureAudit.Range(lo[$0], hi[$0] >= Self.infinity ? nil : hi[$0]) }
    }

    func count(_ i: Int) -> Int { hi[i] >= Self.infinity ? Int.max : hi[i] - lo[i] + 1 }

    /// The range a reader gives a cell from its printed form alone.
    func initialDomain(_ p: PublishedCount, zeroPossible: Bool) -> (Int, Int) {
        let half = (rule.roundingBase - 1) / 2
        switch p {
        case .exact(let n): return (n, n)
        case .rounded(let n): return n == 0 ? (0, 0) : (max(n - half, rule.threshold + 1), n + half)
        case .small: return (zeroPossible ? 0 : 1, rule.threshold)
        case .secondary: return (rule.threshold + 1, Self.infinity)
        }
    }

    /// Starts afresh from a published table and propagates to the end.
    mutating func start(published: [PublishedCount], rates: [String?], zeroPossible: Set<Int>) {
        for (i, p) in published.enumerated() {
            (lo[i], hi[i]) = initialDomain(p, zeroPossible: zeroPossible.contains(i))
            loWhy[i] = -1
            hiWhy[i] = -1
        }
        self.rates = rates
        propagate(Array(0..<(relationCount + table.ratios.count)))
    }

    /// Narrows cells to what a change of publication says about them (showing
    /// a suppressed count, printing a rate): only ever narrows, so the ranges
    /// found so far stay sound and only the affected constraints run again.
    mutating func narrow(cells: [(Int, PublishedCount, Bool)], newRates: [(Int, String)]) {
        var queue: [Int] = []
        for (i, p, zeroPossible) in cells {
            let (l, h) = initialDomain(p, zeroPossible: zeroPossible)
            if l > lo[i] { lo[i] = l; loWhy[i] = -1 }
            if h < hi[i] { hi[i] = h; hiWhy[i] = -1 }
            queue += constraintsOf[i]
        }
        for (q, text) in newRates {
            rates[q] = text
            queue.append(relationCount + q)
        }
        propagate(queue)
    }

    private mutating func propagate(_ initial: [Int]) {
        let total = relationCount + table.ratios.count
        var queued = [Bool](repeating: false, count: total)
        var queue: [Int] = []
        for k in initial where !queued[k] {
            queued[k] = true
            queue.append(k)
        }
        var head = 0
        // Sound at any point, so a cap on the work only makes the answer less sharp.
        let budget = 60 * max(total, 1) + 50_000
        var used = 0
        var changed: [Int] = []
        let inf = Self.infinity

        while head < queue.count, used < budget {
            let k = queue[head]
            head += 1
            queued[k] = false
            used += 1
            changed.removeAll(keepingCapacity: true)
            if k < relationCount {
                let a = start[k], b = start[k + 1]
                let t = members[a]
                var sumLo = 0, sumHi = 0, infinite = 0
                for m in (a + 1)..<b {
                    let j = members[m]
                    sumLo += lo[j]
                    if hi[j] >= inf { infinite += 1 } else { sumHi += hi[j] }
                }
                let tHiNew = infinite > 0 ? inf : sumHi
                let why = Int32(k)
                if sumLo > lo[t] { lo[t] = sumLo; loWhy[t] = why; changed.append(t) }
                if tHiNew < hi[t] { hi[t] = tHiNew; hiWhy[t] = why; changed.append(t) }
                let tLo = lo[t], tHi = hi[t]
                for m in (a + 1)..<b {
                    let j = members[m]
                    let jInfinite = hi[j] >= inf
                    let othersInfinite = infinite - (jInfinite ? 1 : 0)
                    let newLo = othersInfinite > 0 ? 0 : tLo - (sumHi - (jInfinite ? 0 : hi[j]))
                    let newHi = tHi >= inf ? inf : tHi - (sumLo - lo[j])
                    if newLo > lo[j] { lo[j] = newLo; loWhy[j] = why; changed.append(j) }
                    if newHi < hi[j] { hi[j] = newHi; hiWhy[j] = why; changed.append(j) }
                }
            } else {
                let ratio = table.ratios[k - relationCount]
                guard let text = rates[k - relationCount] else { continue }
                let n = ratio.numerator.index, d = ratio.denominator.index
                guard hi[n] < inf, hi[d] < inf, (hi[n] - lo[n] + 1) * (hi[d] - lo[d] + 1) <= 10_000 else { continue }
                var nLo = Int.max, nHi = Int.min, dLo = Int.max, dHi = Int.min
                for x in lo[n]...max(lo[n], hi[n]) {
                    for y in lo[d]...max(lo[d], hi[d]) where ratio.format.text(x, y) == text {
                        nLo = min(nLo, x); nHi = max(nHi, x); dLo = min(dLo, y); dHi = max(dHi, y)
                    }
                }
                guard nLo <= nHi else { continue }
                let why = Int32(k)
                if nLo > lo[n] { lo[n] = nLo; loWhy[n] = why; changed.append(n) }
                if nHi < hi[n] { hi[n] = nHi; hiWhy[n] = why; changed.append(n) }
                if dLo > lo[d] { lo[d] = dLo; loWhy[d] = why; changed.append(d) }
                if dHi < hi[d] { hi[d] = dHi; hiWhy[d] = why; changed.append(d) }
            }
            // Every range holds the true count; anything else is a bug in the rule or the audit.
            assert(changed.allSatisfy { lo[$0] <= table.values[$0] && table.values[$0] <= hi[$0] },
                   "audit lost a true count at constraint \(k)")
            for i in changed {
                for c in constraintsOf[i] where !queued[c] {
                    queued[c] = true
                    queue.append(c)
                }
            }
            if head > 65_536 {
                queue.removeFirst(head)
                head = 0
            }
        }
        visits += used
    }

    /// The members of constraint `k` (a relation's total first; a ratio's numerator, then denominator).
    func members(of k: Int) -> [Int] {
        if k < relationCount { return Array(members[start[k]..<start[k + 1]]) }
        let ratio = table.ratios[k - relationCount]
        return [ratio.numerator.index, ratio.denominator.index]
    }

    /// The cells whose bounds constraint `k` used to set `cell`'s lower
    /// (`upper == false`) or upper bound, with which of their bounds.
    func sources(of cell: Int, upper: Bool, in k: Int) -> [(cell: Int, upper: Bool)] {
        guard k < relationCount else {
            // A ratio narrows both of its counts from both bounds of the other.
            return members(of: k).filter { $0 != cell }.flatMap { [($0, false), ($0, true)] }
        }
        let all = members(of: k)
        if all[0] == cell { return all.dropFirst().map { ($0, upper) } }
        // A part's upper bound is the total's upper bound less the others' lower bounds, and the reverse.
        return [(all[0], upper)] + all.dropFirst().filter { $0 != cell }.map { ($0, !upper) }
    }
}
