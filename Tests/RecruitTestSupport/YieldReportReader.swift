import RecruitKit
import Testing

/// What a reader can work out from a printed proxy table alone.
public enum YieldReportReader {
    /// For each measure, a ≤7 count of a class lies within the total minus
    /// the other classes; that must leave it at least 3 possible values.
    public static func expectNotRecoverable(_ proxy: YieldReport.ProxySection) {
        func range(_ c: PublishedCount) -> (Int, Int?) {
            switch c {
            case .exact(let n): return (n, n)
            case .rounded(0): return (0, 0)
            case .rounded(let n): return (max(8, n - 2), n + 2)
            case .small: return (1, 7)
            case .secondary: return (8, nil)
            }
        }
        guard let total = proxy.total else { Issue.record("no total row"); return }
        let classes = proxy.rows.filter { $0.proxy != YieldReport.total }
        for m in FunnelMeasure.allCases {
            let (tLow, tHigh) = range(total[m])
            for (i, row) in classes.enumerated() where row[m] == .small {
                let others = classes.indices.filter { $0 != i }.map { range(classes[$0][m]) }
                let othersLow = others.reduce(0) { $0 + $1.0 }
                let othersHigh = others.reduce(Optional(0)) { a, r in a.flatMap { a in r.1.map { a + $0 } } }
                let low = max(1, othersHigh.map { tLow - $0 } ?? 1)
                let high = min(7, tHigh.map { $0 - othersLow } ?? 7)
                #expect(high - low + 1 >= 3, "\(row.proxy) \(m.rawValue): the total leaves \(low)…\(high)")
            }
        }
    }
}
