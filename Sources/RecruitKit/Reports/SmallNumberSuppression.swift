/// Small-number suppression for everything a report publishes.
///
/// 1. **Primary:** a count from 1 to 7 is shown as `≤7`.
/// 2. **Rounding:** every other count is rounded to the nearest 5 (0 stays 0).
/// 3. **Secondary:** the published table is audited as a reader would read it
///    (``DisclosureAudit``): every relation (totals, and the attrition chain
///    `remaining[k-1] = remaining[k] + removed[k]`) and every printed rate is
///    used to narrow each `≤7` count. Where a `≤7` count could be narrowed to
///    fewer than ``minimumCandidates`` values, one more count is suppressed,
///    shown as `*`: the smallest non-zero shown count of a relation the
///    narrowed count is in (a margin only when no other count will do). Then
///    the audit runs again, until no `≤7` count can be narrowed that far.
///    If every count of those relations is already suppressed, a 0 in them is
///    shown as `≤7` instead (a small total spread over many cells would
///    otherwise tell that each is exactly 1).
///
/// Rates are computed from the unrounded counts and shown only where neither
/// count is suppressed; the audit takes the printed rates into account.
///
/// Why not the textbook rule "no relation with exactly one suppressed cell"?
/// In an attrition chain, each remaining count is in two chain relations and
/// a total, so that rule spreads one suppressed `removed` count along the
/// whole chain and across every practice. Rounding already hides a single
/// `≤7` count in one relation in most cases (950 − 945 leaves it anywhere
/// from 1 to 7); leaks come from particular combinations (a total of four
/// rounded counts; a row total and a column total together; a rate that
/// fixes its two counts exactly). The audit finds those, and suppresses only
/// there.
public struct SmallNumberSuppression: Sendable {
    /// Counts from 1 to `threshold` are suppressed (7).
    public var threshold: Int
    /// Other counts are rounded to the nearest multiple of this (5).
    public var roundingBase: Int
    /// A `≤7` count must keep at least this many possible values (3).
    public var minimumCandidates: Int

    public init(threshold: Int = 7, roundingBase: Int = 5, minimumCandidates: Int = 3) {
        precondition(roundingBase % 2 == 1, "rounding to an odd base has no ties")
        self.threshold = threshold
        self.roundingBase = roundingBase
        self.minimumCandidates = minimumCandidates
    }

    /// The rule in words, as the report states it.
    public var statement: String {
        "Counts from 1 to \(threshold) are shown as ≤\(threshold); every other count is rounded to the nearest \(roundingBase) (0 stays 0). "
            + "Where the totals, the differences between steps or the rates printed in the same table would narrow a ≤\(threshold) count "
            + "to fewer than \(minimumCandidates) possible values, further counts are suppressed and shown as *. "
            + "Rates are computed from unrounded counts and are not shown where either count is suppressed."
    }

    /// How one cell ends up.
    enum Status: Equatable {
        case shown, primary, secondary, hiddenZero
    }

    /// Decides how each cell of `table` is published.
    public func protect(_ table: DisclosureTable) -> ProtectedTable {
        var status = table.values.map { (1...threshold).contains($0) ? Status.primary : .shown }
        var relationsOf = [[Int]](repeating: [], count: table.count)
        for (r, relation) in table.relations.enumerated() {
            for m in relation.members { relationsOf[m.index].append(r) }
        }
        let primaries = (0..<table.count).filter { status[$0] == .primary }
        var propagator = IntervalPropagator(table: table, rule: self)
        var rounds = 0
        var state = publish(table, status, relationsOf: relationsOf)
        func audit() {
            rounds += 1
            state = publish(table, status, relationsOf: relationsOf)
            propagator.start(published: state.published, rates: state.rates, zeroPossible: state.zeroPossible)
        }
        func weakCells() -> [Int] {
            primaries.filter { propagator.count($0) < minimumCandidates }
        }

        // Suppress more until no ≤7 count can be narrowed too far.
        var added: [Int] = []
        var unresolved: [DisclosureTable.Cell] = []
        audit()
        var weak = weakCells()
        while !weak.isEmpty {
            var progress = false
            for i in weak where propagator.count(i) < minimumCandidates {
                if let c = culprit(for: i, table: table, status: status, propagator: propagator)
                    ?? secondaryCandidate(for: i, table: table, status: status, relationsOf: relationsOf) {
                    status[c] = table.values[c] == 0 ? .hiddenZero : .secondary
                    added.append(c)
                    progress = true
                }
            }
            if !progress {
                unresolved = weak.map { DisclosureTable.Cell(index: $0) }
                break
            }
            audit()
            weak = weakCells()
        }

        // Then show again, latest first, every suppressed cell that turned out
        // not to be needed. Showing a cell only adds information, so the audit
        // goes on from the ranges it has rather than starting again.
        if unresolved.isEmpty, added.count > 1 {
            for c in added.reversed() {
                let savedStatus = status[c], savedPropagator = propagator
                status[c] = .shown
                let shown = PublishedCount.rounded(round(table.values[c]))
                var cells: [(Int, PublishedCount, Bool)] = [(c, shown, false)]
                var zeroPossible = state.zeroPossible
                if savedStatus == .hiddenZero {
                    zeroPossible = publish(table, status, relationsOf: relationsOf).zeroPossible
                    for i in state.zeroPossible.subtracting(zeroPossible) where i != c { cells.append((i, state.published[i], false)) }
                }
                var newRates: [(Int, String)] = []
                for k in propagator.constraintsOf[c] where k >= propagator.relationCount {
                    let q = k - propagator.relationCount, ratio = table.ratios[q]
                    guard status[ratio.numerator.index] == .shown, status[ratio.denominator.index] == .shown,
                          let text = ratio.format.text(table.value(ratio.numerator), table.value(ratio.denominator)) else { continue }
                    newRates.append((q, text))
                }
                propagator.narrow(cells: cells, newRates: newRates)
                if weakCells().isEmpty {
                    state.published[c] = shown
                    for (q, text) in newRates { state.rates[q] = text }
                    state.zeroPossible = zeroPossible
                } else {
                    status[c] = savedStatus
                    propagator = savedPropagator
                }
            }
        }
        return ProtectedTable(published: state.published, rates: state.rates, readerRanges: propagator.ranges,
                              zeroPossible: state.zeroPossible, unresolved: unresolved, rounds: rounds, work: propagator.visits, rule: self)
    }

    /// Publishes every count exactly, and every rate (suppression switched off).
    public static func unsuppressed(_ table: DisclosureTable) -> ProtectedTable {
        let published = table.values.map { PublishedCount.exact($0) }
        let rates = table.ratios.map { $0.format.text(table.value($0.numerator), table.value($0.denominator)) }
        return ProtectedTable(published: published, rates: rates,
                              readerRanges: table.values.map { DisclosureAudit.Range($0, $0) },
                              zeroPossible: [], unresolved: [], rounds: 0, work: 0, rule: nil)
    }

    /// Primary suppression and rounding only, with no secondary suppression:
    /// what a naive report would print (tests show what it leaks).
    public func naive(_ table: DisclosureTable) -> ProtectedTable {
        let status = table.values.map { (1...threshold).contains($0) ? Status.primary : .shown }
        let state = publish(table, status)
        let ranges = DisclosureAudit.readerRanges(of: table, published: state.published, rates: state.rates, rule: self)
        return ProtectedTable(published: state.published, rates: state.rates, readerRanges: ranges,
                              zeroPossible: [], unresolved: [], rounds: 1, work: 0, rule: self)
    }

    /// Rounds to the nearest multiple of the base.
    public func round(_ value: Int) -> Int {
        (value + roundingBase / 2) / roundingBase * roundingBase
    }

    struct State {
        var published: [PublishedCount]
        var rates: [String?]
        var zeroPossible: Set<Int>
    }

    func publish(_ table: DisclosureTable, _ status: [Status], relationsOf: [[Int]]? = nil) -> State {
        let published: [PublishedCount] = zip(table.values, status).map { value, s in
            switch s {
            case .shown: return .rounded(round(value))
            case .primary, .hiddenZero: return .small
            case .secondary: return .secondary
            }
        }
        let rates = table.ratios.map { ratio -> String? in
            guard status[ratio.numerator.index] == .shown, status[ratio.denominator.index] == .shown else { return nil }
            return ratio.format.text(table.value(ratio.numerator), table.value(ratio.denominator))
        }
        // Where a 0 was hidden as ≤7, a reader must allow every ≤7 of that relation to be 0.
        var zeroPossible = Set<Int>()
        for h in status.indices where status[h] == .hiddenZero {
            let relations = relationsOf?[h] ?? table.relations.indices.filter { table.relations[$0].members.contains { $0.index == h } }
            for r in relations {
                for m in table.relations[r].members where published[m.index] == .small { zeroPossible.insert(m.index) }
            }
        }
        return State(published: published, rates: rates, zeroPossible: zeroPossible)
    }

    /// The shown count to suppress to widen cell `i`'s narrowed range: among
    /// the counts the constraints that set its bounds used, the smallest
    /// non-zero shown one (non-margins first); failing that, the same one step
    /// further back, through the suppressed cells those constraints used, and
    /// so on; a 0 (hidden as ≤7) only when no non-zero count is on the way.
    func culprit(for i: Int, table: DisclosureTable, status: [Status], propagator: IntervalPropagator) -> Int? {
        var seen: Set<Int> = [2 * i, 2 * i + 1]
        var level: [(cell: Int, upper: Bool)] = [(i, false), (i, true)]
        var zeroFallback: Int?
        let key = { (c: Int) in (table.isMargin[c] ? 1 : 0, table.values[c], c) }
        for _ in 0..<8 where !level.isEmpty {
            var shown: [Int] = []
            var next: [(cell: Int, upper: Bool)] = []
            for (cell, up) in level {
                let why = Int(up ? propagator.hiWhy[cell] : propagator.loWhy[cell])
                guard why >= 0 else { continue }
                for s in propagator.sources(of: cell, upper: up, in: why) where s.cell != i {
                    if status[s.cell] == .shown {
                        shown.append(s.cell)
                    } else if seen.insert(2 * s.cell + (s.upper ? 1 : 0)).inserted {
                        next.append(s)
                    }
                }
            }
            if let best = shown.filter({ table.values[$0] > 0 }).min(by: { key($0) < key($1) }) { return best }
            if zeroFallback == nil { zeroFallback = shown.min(by: { key($0) < key($1) }) }
            level = next
        }
        return zeroFallback
    }

    /// The next cell to suppress to protect cell `i`: the smallest non-zero
    /// shown count (non-margins first) of the relations `i` is in, else a 0 of
    /// them (hidden as ≤7); when all their counts are suppressed already, the
    /// same among the relations those suppressed counts are in, and so on.
    func secondaryCandidate(for i: Int, table: DisclosureTable, status: [Status], relationsOf: [[Int]]) -> Int? {
        var seenRelations = Set<Int>()
        var seenCells: Set<Int> = [i]
        var frontier = [i]
        let key = { (c: Int) in (table.isMargin[c] ? 1 : 0, table.values[c], c) }
        for _ in 0..<8 {
            var level: [Int] = []
            var next: [Int] = []
            for cell in frontier {
                for r in relationsOf[cell] where seenRelations.insert(r).inserted {
                    for m in table.relations[r].members where seenCells.insert(m.index).inserted {
                        if status[m.index] == .shown { level.append(m.index) } else { next.append(m.index) }
                    }
                }
            }
            if let best = level.filter({ table.values[$0] > 0 }).min(by: { key($0) < key($1) }) ?? level.min(by: { key($0) < key($1) }) {
                return best
            }
            if next.isEmpty { break }
            frontier = next
        }
        return nil
    }
}

/// A table as it will be published.
public struct ProtectedTable: Sendable {
    /// How each cell is printed.
    public let published: [PublishedCount]
    /// Each rate's printed text, nil where not printed.
    public let rates: [String?]
    /// What a reader can work out about each cell (see ``DisclosureAudit``).
    public let readerRanges: [DisclosureAudit.Range]
    /// Cells shown as ≤7 that a reader must allow to be 0 (beside a 0 hidden as ≤7).
    public let zeroPossible: Set<Int>
    /// `≤7` cells that could still be narrowed too far (empty unless every
    /// count near them was already suppressed).
    public let unresolved: [DisclosureTable.Cell]
    /// Audit rounds run.
    public let rounds: Int
    /// Constraint visits the audit made (a measure of its work).
    public let work: Int
    /// The rule applied, nil when suppression was switched off.
    public let rule: SmallNumberSuppression?

    public subscript(cell: DisclosureTable.Cell) -> PublishedCount { published[cell.index] }
    public func rate(_ index: Int) -> String? { rates[index] }
    public func readerRange(_ cell: DisclosureTable.Cell) -> DisclosureAudit.Range { readerRanges[cell.index] }

    /// Cells suppressed to protect another one (`*`).
    public var secondaryCount: Int { published.filter { $0 == .secondary }.count }
    /// Cells shown as `≤7`.
    public var smallCount: Int { published.filter { $0 == .small }.count }
}
