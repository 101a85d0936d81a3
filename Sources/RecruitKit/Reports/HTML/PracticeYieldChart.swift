/// Eligible patients per 1,000 registered, one row per practice, sorted from
/// the highest yield down, so that practices of any size compare.
///
/// Up to 25 practices are drawn as bars; more as a dot plot (one dot per row,
/// 15 units apart) so 120 practices still fit and read. Practices whose rate
/// is not shown (too few eligible to show) are listed at the bottom, greyed.
/// The yield of all practices together is a vertical line.
struct PracticeYieldChart {
    var practices: [YieldReport.PracticeRow]
    var overall: YieldReport.PracticeRow?
    var denominatorLabel: String

    static let barLimit = 25
    static let width = 440.0
    let labelWidth = 92.0, valueWidth = 52.0
    let top = 60.0

    var usesBars: Bool { practices.count <= Self.barLimit }

    /// Rows: rates shown (highest first), then the rest (by practice).
    var ordered: [(row: YieldReport.PracticeRow, rate: Double?)] {
        let withRate = practices.compactMap { p in p.eligiblePer1000.flatMap(Double.init).map { (row: p, rate: Optional($0)) } }
            .sorted { $0.rate! != $1.rate! ? $0.rate! > $1.rate! : $0.row.practiceID.utf8.lexicographicallyPrecedes($1.row.practiceID.utf8) }
        let without = practices.filter { $0.eligiblePer1000 == nil }.map { (row: $0, rate: Double?.none) }
        return withRate + without
    }

    var svg: String {
        let rows = ordered
        let rowHeight = usesBars ? 26.0 : 17.0
        let plotX = labelWidth, plotWidth = Self.width - labelWidth - valueWidth
        let overallRate = overall?.eligiblePer1000.flatMap(Double.init)
        let maximum = max(rows.compactMap(\.rate).max() ?? 0, overallRate ?? 0)
        let ticks = SVG.ticks(upTo: maximum == 0 ? 1 : maximum)
        let scaleMax = ticks.last!
        func x(_ v: Double) -> Double { plotX + v / scaleMax * plotWidth }
        let plotHeight = Double(max(rows.count, 1)) * rowHeight
        let bottom = top + plotHeight
        let repeatAxis = rows.count > 30
        let height = bottom + (repeatAxis ? 40 : 14)

        var body = SVG.hatchDefinition(id: "practice-hatch")
        // Axis title, ticks and grid lines (at the top, and again at the bottom of a long chart).
        body += SVG.text(["Eligible per 1,000 registered"], x: plotX, y: 14, lineHeight: 0, attributes: "class=\"axis-title\"")
        for t in ticks {
            body += "<line class=\"grid\" x1=\"\(SVG.f(x(t)))\" y1=\"\(SVG.f(top - 4))\" x2=\"\(SVG.f(x(t)))\" y2=\"\(SVG.f(bottom))\"/>"
            body += SVG.text([SVG.tickLabel(t)], x: x(t), y: top - 9, lineHeight: 0, attributes: "class=\"tick\" text-anchor=\"middle\"")
            if repeatAxis {
                body += SVG.text([SVG.tickLabel(t)], x: x(t), y: bottom + 15, lineHeight: 0, attributes: "class=\"tick\" text-anchor=\"middle\"")
            }
        }
        if repeatAxis {
            body += SVG.text(["Eligible per 1,000 registered"], x: plotX, y: bottom + 32, lineHeight: 0, attributes: "class=\"axis-title\"")
        }
        for (i, item) in rows.enumerated() {
            let y = top + Double(i) * rowHeight
            let mid = y + rowHeight / 2
            let id = SVG.escape(item.row.practiceID)
            body += "<g class=\"practice\" id=\"practice-\(id)\">"
            if !usesBars, i % 2 == 0 {
                body += "<rect class=\"band\" x=\"0\" y=\"\(SVG.f(y))\" width=\"\(SVG.f(Self.width))\" height=\"\(SVG.f(rowHeight))\"/>"
            }
            body += SVG.text([item.row.practiceID], x: plotX - 8, y: mid + 4, lineHeight: 0, attributes: "class=\"practice-label\" text-anchor=\"end\"")
            if let rate = item.rate {
                let label = item.row.eligiblePer1000 ?? ""
                if usesBars {
                    body += "<rect class=\"bar\" x=\"\(SVG.f(plotX))\" y=\"\(SVG.f(y + 4))\" width=\"\(SVG.f(max(x(rate) - plotX, rate > 0 ? 2 : 0)))\" height=\"\(SVG.f(rowHeight - 8))\"/>"
                } else {
                    body += "<line class=\"stem\" x1=\"\(SVG.f(plotX))\" y1=\"\(SVG.f(mid))\" x2=\"\(SVG.f(x(rate)))\" y2=\"\(SVG.f(mid))\"/>"
                    body += "<circle class=\"dot\" cx=\"\(SVG.f(x(rate)))\" cy=\"\(SVG.f(mid))\" r=\"4\"/>"
                }
                body += SVG.text([label], x: x(rate) + (usesBars ? 5 : 8), y: mid + 4, lineHeight: 0, attributes: "class=\"value\"")
            } else {
                let reason = item.row.eligible == .small ? "not shown: ≤7 eligible" : "not shown (suppressed)"
                body += SVG.text([reason], x: plotX + 4, y: mid + 4, lineHeight: 0, attributes: "class=\"not-shown\"")
            }
            body += "</g>"
        }
        if let overallRate {
            let ox = x(overallRate)
            body += "<g id=\"overall-yield\"><line class=\"overall\" x1=\"\(SVG.f(ox))\" y1=\"\(SVG.f(top - 4))\" x2=\"\(SVG.f(ox))\" y2=\"\(SVG.f(bottom))\"/>"
            let anchorEnd = ox > plotX + plotWidth * 0.6
            body += SVG.text(["all practices: \(overall?.eligiblePer1000 ?? "")"], x: ox + (anchorEnd ? -4 : 4), y: 33,
                             lineHeight: 0, attributes: "class=\"overall-label\"\(anchorEnd ? " text-anchor=\"end\"" : "")")
            body += "</g>"
        }
        let title = "Eligible patients per 1,000 registered (\(denominatorLabel)), by practice, highest first"
        return """
            <svg id="practice-yield" class="chart" role="img" viewBox="0 0 \(SVG.f(Self.width)) \(SVG.f(height))" width="\(SVG.f(Self.width))" \
            height="\(SVG.f(height))" font-size="13" data-style="\(usesBars ? "bars" : "dots")"><title>\(SVG.escape(title))</title>\(body)</svg>
            """
    }
}
