/// A list of labelled horizontal bars, each with its count and a note, the
/// label above the bar so long labels never squeeze it: the recruitment
/// funnel and the reasons responders were ineligible.
///
/// Suppressed counts are drawn as a short hatched stub with their text
/// (`≤7`, `*`) so a reader sees that something is there but not how much.
struct BarListChart {
    struct Item {
        var id: String
        var label: String
        var count: PublishedCount
        /// e.g. "80.0% of eligible"; nil for none.
        var note: String?
    }

    var id: String
    var title: String
    var items: [Item]
    /// The count bars are scaled to (the first bar's, for a funnel); nil: the largest.
    var scaleTo: Int?
    var barClass = "bar"

    static let width = 440.0
    let rowHeight = 46.0, barHeight = 18.0

    var svg: String {
        let shown = items.compactMap(\.count.number)
        let maximum = Double(max(scaleTo ?? 0, shown.max() ?? 0, 1))
        let plotWidth = Self.width - 6
        var body = SVG.hatchDefinition(id: "\(id)-hatch")
        for (i, item) in items.enumerated() {
            let y = Double(i) * rowHeight
            body += "<g id=\"\(id)-\(item.id)\" class=\"bar-item\">"
            let valueText = SVG.count(item.count) + (item.note.map { "  (\($0))" } ?? "")
            body += "<text x=\"2\" y=\"\(SVG.f(y + 15))\"><tspan class=\"bar-label\">\(SVG.escape(item.label)):</tspan> "
                + "<tspan class=\"value\">\(SVG.escape(valueText))</tspan></text>"
            let barY = y + 22
            if let n = item.count.number {
                let w = n == 0 ? 0 : max(Double(n) / maximum * plotWidth, 2)
                body += "<rect class=\"\(barClass)\" x=\"2\" y=\"\(SVG.f(barY))\" width=\"\(SVG.f(w))\" height=\"\(SVG.f(barHeight))\"/>"
                if n == 0 { body += "<line class=\"zero\" x1=\"2\" y1=\"\(SVG.f(barY))\" x2=\"2\" y2=\"\(SVG.f(barY + barHeight))\"/>" }
            } else {
                body += "<rect class=\"suppressed\" x=\"2\" y=\"\(SVG.f(barY))\" width=\"16\" height=\"\(SVG.f(barHeight))\" fill=\"url(#\(id)-hatch)\"/>"
            }
            body += "</g>"
        }
        let height = Double(items.count) * rowHeight + 2
        return """
            <svg id="\(id)" class="chart" role="img" viewBox="0 0 \(SVG.f(Self.width)) \(SVG.f(height))" width="\(SVG.f(Self.width))" \
            height="\(SVG.f(height))" font-size="13"><title>\(SVG.escape(title))</title>\(body)</svg>
            """
    }
}
