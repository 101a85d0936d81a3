/// Paired horizontal bars of two percentages per group (replied and consented
/// of the invited), on a 0-100% scale: how responders compare with
/// non-responders across age bands, sexes, practices or kinds of evidence.
///
/// A rate the report does not print (a count is suppressed) is drawn as
/// "not shown", never as a bar.
struct RateBarChart {
    struct Group {
        var id: String
        var label: String
        var first: String?
        var second: String?
    }

    var id: String
    var title: String
    var firstLabel: String
    var secondLabel: String
    var groups: [Group]

    static let width = 560.0
    let labelWidth = 150.0, barHeight = 11.0, rowHeight = 34.0, top = 26.0

    var svg: String {
        let plot = Self.width - labelWidth - 70
        func x(_ pct: Double) -> Double { labelWidth + pct / 100 * plot }
        var body = ""
        body += "<rect class=\"bar\" x=\"\(SVG.f(labelWidth))\" y=\"4\" width=\"12\" height=\"10\"/>"
            + "<text x=\"\(SVG.f(labelWidth + 16))\" y=\"13\" class=\"tick\">\(SVG.escape(firstLabel))</text>"
            + "<rect class=\"bar c2\" x=\"\(SVG.f(labelWidth + 190))\" y=\"4\" width=\"12\" height=\"10\"/>"
            + "<text x=\"\(SVG.f(labelWidth + 206))\" y=\"13\" class=\"tick\">\(SVG.escape(secondLabel))</text>"
        for t in [0.0, 25, 50, 75, 100] {
            let tx = x(t)
            let bottom = top + Double(groups.count) * rowHeight
            body += "<line class=\"grid\" x1=\"\(SVG.f(tx))\" y1=\"\(SVG.f(top))\" x2=\"\(SVG.f(tx))\" y2=\"\(SVG.f(bottom))\"/>"
                + "<text class=\"tick\" x=\"\(SVG.f(tx))\" y=\"\(SVG.f(bottom + 13))\" text-anchor=\"middle\">\(Int(t))%</text>"
        }
        for (i, g) in groups.enumerated() {
            let y = top + Double(i) * rowHeight
            body += "<g id=\"\(id)-\(g.id)\">"
            body += "<text class=\"practice-label\" x=\"\(SVG.f(labelWidth - 6))\" y=\"\(SVG.f(y + 20))\" text-anchor=\"end\">\(SVG.escape(g.label))</text>"
            for (k, value) in [g.first, g.second].enumerated() {
                let by = y + 5 + Double(k) * (barHeight + 2)
                if let value, let pct = Double(value) {
                    let w = max(pct / 100 * plot, pct > 0 ? 1.5 : 0)
                    body += "<rect class=\"bar\(k == 1 ? " c2" : "")\" x=\"\(SVG.f(labelWidth))\" y=\"\(SVG.f(by))\" width=\"\(SVG.f(w))\" height=\"\(SVG.f(barHeight))\"/>"
                        + "<text class=\"tick\" x=\"\(SVG.f(labelWidth + w + 4))\" y=\"\(SVG.f(by + 9))\">\(SVG.escape(value))%</text>"
                } else {
                    body += "<text class=\"not-shown\" x=\"\(SVG.f(labelWidth + 4))\" y=\"\(SVG.f(by + 9))\" font-size=\"11\">not shown</text>"
                }
            }
            body += "</g>"
        }
        let height = top + Double(groups.count) * rowHeight + 20
        return """
            <svg id="\(id)" class="chart" role="img" viewBox="0 0 \(SVG.f(Self.width)) \(SVG.f(height))" width="\(SVG.f(Self.width))" \
            height="\(SVG.f(height))" font-size="12"><title>\(SVG.escape(title))</title>\(body)</svg>
            """
    }
}
