/// Small helpers for writing inline SVG and HTML by hand: escaping, number
/// formatting, text wrapping and axis ticks. No scripts, no external fonts.
enum SVG {
    /// Escapes text for HTML and SVG content and attribute values.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// A number with thousands separators: 12,345.
    static func grouped(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// A published count for people: numbers grouped, `≤7` and `*` as they are.
    static func count(_ c: PublishedCount) -> String {
        c.number.map(grouped) ?? c.text
    }

    /// A decimal coordinate, short.
    static func f(_ x: Double) -> String {
        let r = (x * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    /// Splits text into lines of at most `width` characters, at spaces.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if line.isEmpty {
                line = String(word)
            } else if line.count + 1 + word.count <= width {
                line += " " + word
            } else {
                lines.append(line)
                line = String(word)
            }
        }
        if !line.isEmpty { lines.append(line) }
        // A single word longer than the line is cut, so boxes never overflow.
        return lines.isEmpty ? [""] : lines.flatMap { l -> [String] in
            guard l.count > width else { return [l] }
            return stride(from: 0, to: l.count, by: width).map { String(Array(l)[$0..<min($0 + width, l.count)]) }
        }
    }

    /// `<text>` with one `<tspan>` per line.
    static func text(_ lines: [String], x: Double, y: Double, lineHeight: Double, attributes: String = "") -> String {
        var out = "<text x=\"\(f(x))\" y=\"\(f(y))\"\(attributes.isEmpty ? "" : " " + attributes)>"
        for (i, line) in lines.enumerated() {
            out += "<tspan x=\"\(f(x))\" dy=\"\(i == 0 ? "0" : f(lineHeight))\">\(escape(line))</tspan>"
        }
        return out + "</text>"
    }

    /// Round axis ticks from 0 to at least `maximum`: 0, step, 2·step, … with
    /// step 1, 2 or 5 × 10ⁿ, about `count` of them (whole numbers only, for counts, when `integers`).
    static func ticks(upTo maximum: Double, count: Int = 5, integers: Bool = false) -> [Double] {
        guard maximum > 0 else { return integers ? [0, 5] : [0, 1] }
        let raw = max(maximum / Double(max(count, 1)), integers ? 1 : 0)
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        let step = [1.0, 2.0, 5.0, 10.0].map { $0 * magnitude }.first { $0 >= raw } ?? magnitude * 10
        var ticks: [Double] = [0]
        while ticks.last! < maximum - 1e-9 { ticks.append(ticks.last! + step) }
        return ticks
    }

    /// A tick's label: whole numbers grouped, else one decimal.
    static func tickLabel(_ v: Double) -> String {
        v == v.rounded() ? grouped(Int(v)) : String((v * 10).rounded() / 10)
    }

    /// The hatch pattern suppressed values are drawn with.
    static func hatchDefinition(id: String) -> String {
        """
        <defs><pattern id="\(id)" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">\
        <rect width="6" height="6" fill="#eef0f3"/><line x1="0" y1="0" x2="0" y2="6" stroke="#8a94a3" stroke-width="2.5"/></pattern></defs>
        """
    }

    /// `2024-03` as `Mar 2024`.
    static func monthLabel(_ month: String) -> String {
        let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let parts = month.split(separator: "-")
        guard parts.count == 2, let m = Int(parts[1]), (1...12).contains(m) else { return month }
        return "\(names[m - 1]) \(parts[0])"
    }
}
