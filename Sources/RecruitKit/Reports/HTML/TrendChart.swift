/// One small column chart of a funnel count by month (all practices), each on
/// its own scale so that consents are as legible as eligible patients.
struct TrendChart {
    var measure: FunnelMeasure
    var title: String
    /// (month, count), oldest first.
    var points: [(month: String, count: PublishedCount)]
    var colourClass: String

    static let width = 300.0, height = 180.0
    let left = 44.0, right = 8.0, top = 26.0, bottom = 34.0

    var svg: String {
        let plotWidth = Self.width - left - right, plotHeight = Self.height - top - bottom
        let threshold = 7
        let maximum = Double(max(points.compactMap(\.count.number).max() ?? 0, points.contains { $0.count.isSuppressed } ? threshold : 0))
        let ticks = SVG.ticks(upTo: maximum, count: 4, integers: true)
        let scaleMax = ticks.last!
        func y(_ v: Double) -> Double { top + plotHeight - v / scaleMax * plotHeight }
        var body = SVG.hatchDefinition(id: "trend-\(measure.rawValue)-hatch")
        body += SVG.text([title], x: 2, y: 15, lineHeight: 0, attributes: "class=\"panel-title\"")
        for t in ticks {
            body += "<line class=\"grid\" x1=\"\(SVG.f(left))\" y1=\"\(SVG.f(y(t)))\" x2=\"\(SVG.f(Self.width - right))\" y2=\"\(SVG.f(y(t)))\"/>"
            body += SVG.text([SVG.tickLabel(t)], x: left - 5, y: y(t) + 4, lineHeight: 0, attributes: "class=\"tick\" text-anchor=\"end\"")
        }
        let n = max(points.count, 1)
        let slot = plotWidth / Double(n)
        let barWidth = min(slot * 0.7, 40)
        let labelEvery = max(1, Int((Double(n) * 46 / plotWidth).rounded(.up)))
        let valueLabels = n <= 6
        for (i, p) in points.enumerated() {
            let cx = left + slot * (Double(i) + 0.5)
            let x = cx - barWidth / 2
            body += "<g class=\"month\" data-month=\"\(p.month)\">"
            if let v = p.count.number {
                let h = Double(v) / scaleMax * plotHeight
                body += "<rect class=\"\(colourClass)\" x=\"\(SVG.f(x))\" y=\"\(SVG.f(y(Double(v))))\" width=\"\(SVG.f(barWidth))\" height=\"\(SVG.f(h))\"/>"
            } else if p.count == .secondary {
                body += SVG.text(["*"], x: cx, y: y(0) - 4, lineHeight: 0, attributes: "class=\"value\" text-anchor=\"middle\"")
            } else {
                // Up to 7: hatched to 7, so the bar reads "somewhere below this".
                let top7 = y(Double(threshold))
                body += "<rect class=\"suppressed\" x=\"\(SVG.f(x))\" y=\"\(SVG.f(top7))\" width=\"\(SVG.f(barWidth))\" height=\"\(SVG.f(y(0) - top7))\" fill=\"url(#trend-\(measure.rawValue)-hatch)\"/>"
            }
            if valueLabels || i == points.count - 1 || p.count == .small {
                let v = Double(p.count.number ?? threshold)
                body += SVG.text([SVG.count(p.count)], x: cx, y: y(v) - 4, lineHeight: 0, attributes: "class=\"value\" text-anchor=\"middle\"")
            }
            if i % labelEvery == 0 || i == points.count - 1 {
                let label = SVG.monthLabel(p.month).split(separator: " ")
                body += SVG.text(label.map(String.init), x: cx, y: Self.height - bottom + 14, lineHeight: 12, attributes: "class=\"tick\" text-anchor=\"middle\"")
            }
            body += "</g>"
        }
        body += "<line class=\"axis\" x1=\"\(SVG.f(left))\" y1=\"\(SVG.f(y(0)))\" x2=\"\(SVG.f(Self.width - right))\" y2=\"\(SVG.f(y(0)))\"/>"
        return """
            <svg id="trend-\(measure.rawValue)" class="chart panel" role="img" viewBox="0 0 \(SVG.f(Self.width)) \(SVG.f(Self.height))" \
            width="\(SVG.f(Self.width))" height="\(SVG.f(Self.height))" font-size="12"><title>\(SVG.escape(title)) by month</title>\(body)</svg>
            """
    }
}
