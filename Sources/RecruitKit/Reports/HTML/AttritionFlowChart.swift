/// The CONSORT-style attrition flow of one run: a box per step with the
/// criterion's label and the patients remaining, and beside each arrow a box
/// with the patients that criterion removed.
///
/// Drawn 440 units wide so that, scaled to a phone's width, the text stays
/// about 11 pixels high.
struct AttritionFlowChart {
    /// The run's `__total__` rows, by step.
    var rows: [YieldReport.AttritionRow]
    /// The run's criteria, for whether each includes or excludes.
    var steps: [YieldReport.StepFacts] = []

    static let width = 440.0
    let mainX = 4.0, mainWidth = 250.0
    let sideX = 274.0, sideWidth = 162.0
    let font = 14.0, lineHeight = 17.0
    let gap = 50.0

    /// What a box says about its criterion: the label, an exclusion marked as one
    /// ("Exclude: cancer" rather than a box reading "Cancer, 6,195 remain").
    static func boxLabel(_ row: YieldReport.AttritionRow, effect: String?) -> String {
        let label = row.label.prefix(1).uppercased() + row.label.dropFirst()
        guard effect == "exclude" else { return label }
        return "Exclude: " + row.label.prefix(1).lowercased() + row.label.dropFirst()
    }

    var svg: String {
        guard !rows.isEmpty else { return "<p class=\"empty\">This run recorded no attrition table.</p>" }
        var body = ""
        var y = 4.0
        let centre = mainX + mainWidth / 2
        for (i, row) in rows.enumerated() {
            let isFirst = i == 0, isLast = i == rows.count - 1
            if !isFirst, let removed = row.removed {
                // The arrow down from the previous box, and the removed box beside it.
                let top = y - gap
                body += "<line class=\"arrow\" x1=\"\(SVG.f(centre))\" y1=\"\(SVG.f(top))\" x2=\"\(SVG.f(centre))\" y2=\"\(SVG.f(y - 3))\" marker-end=\"url(#flow-arrow)\"/>"
                let sideHeight = 36.0
                let sideY = top + (gap - sideHeight) / 2
                body += "<line class=\"arrow\" x1=\"\(SVG.f(centre))\" y1=\"\(SVG.f(sideY + sideHeight / 2))\" x2=\"\(SVG.f(sideX - 3))\" y2=\"\(SVG.f(sideY + sideHeight / 2))\" marker-end=\"url(#flow-arrow)\"/>"
                body += "<g id=\"removed-\(row.step)\" class=\"removed\">"
                body += "<rect x=\"\(SVG.f(sideX))\" y=\"\(SVG.f(sideY))\" width=\"\(SVG.f(sideWidth))\" height=\"\(SVG.f(sideHeight))\" rx=\"4\"/>"
                body += SVG.text(["Removed \(SVG.count(removed))"], x: sideX + 10, y: sideY + 23, lineHeight: lineHeight, attributes: "class=\"removed-count\"")
                body += "</g>"
            }
            let labelLines = SVG.wrap(Self.boxLabel(row, effect: steps.first { $0.step == row.step }?.effect), width: 27)
            let countLine = isLast ? "\(SVG.count(row.remaining)) eligible"
                : isFirst ? "\(SVG.count(row.remaining)) patients" : "\(SVG.count(row.remaining)) remain"
            let noteLines = isLast ? ["the invitation list"] : []
            let height = Double(labelLines.count + noteLines.count) * lineHeight + lineHeight + 18
            let cls = isLast ? "step last" : isFirst ? "step first" : "step"
            body += "<g id=\"step-\(row.step)\" class=\"\(cls)\" data-criterion=\"\(SVG.escape(row.criterion))\">"
            body += "<rect x=\"\(SVG.f(mainX))\" y=\"\(SVG.f(y))\" width=\"\(SVG.f(mainWidth))\" height=\"\(SVG.f(height))\" rx=\"5\"/>"
            let prefix = isFirst ? "" : "\(row.step). "
            var lines = labelLines
            lines[0] = prefix + lines[0]
            body += SVG.text(lines, x: mainX + 10, y: y + 20, lineHeight: lineHeight, attributes: "class=\"step-label\"")
            body += SVG.text([countLine], x: mainX + 10, y: y + 20 + Double(labelLines.count) * lineHeight + 2,
                             lineHeight: lineHeight, attributes: "class=\"step-count\"")
            if !noteLines.isEmpty {
                body += SVG.text(noteLines, x: mainX + 10, y: y + 20 + Double(labelLines.count + 1) * lineHeight + 2,
                                 lineHeight: lineHeight, attributes: "class=\"step-note\"")
            }
            body += "</g>"
            y += height + (isLast ? 4 : gap)
        }
        let title = "Attrition flow: patients remaining after each criterion, and the number each removed"
        return """
            <svg id="attrition-flow" class="chart flow" role="img" viewBox="0 0 \(SVG.f(Self.width)) \(SVG.f(y))" width="\(SVG.f(Self.width))" \
            height="\(SVG.f(y))" font-size="\(SVG.f(font))"><title>\(title)</title>\
            <defs><marker id="flow-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">\
            <path d="M0,0 L10,5 L0,10 z" fill="#4a5563"/></marker></defs>\(body)</svg>
            """
    }
}
