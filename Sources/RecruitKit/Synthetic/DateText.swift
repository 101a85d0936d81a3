import Postgres

/// Pre-rendered date text for a range of day numbers, so that writing a date
/// is a ten-byte copy: `YYYY-MM-DD` (canonical) or `DD/MM/YYYY` (CPRD GOLD).
struct DateText {
    enum Style { case iso, dayMonthYear }
    private let first: Int
    private let text: [UInt8]
    private let style: Style

    init(from: Int, through: Int, style: Style) {
        first = from
        self.style = style
        var t = [UInt8]()
        t.reserveCapacity((through - from + 1) * 10)
        for day in from...through {
            t.append(contentsOf: DateText.render(day, style))
        }
        text = t
    }

    static func render(_ day: Int, _ style: Style) -> [UInt8] {
        let d = LocalDate(dayNumber: day)
        func two(_ v: Int) -> [UInt8] { [UInt8(48 + v / 10), UInt8(48 + v % 10)] }
        let year = Array(String(d.year).utf8)
        let y4 = [UInt8](repeating: 48, count: max(0, 4 - year.count)) + year
        switch style {
        case .iso: return y4 + [45] + two(d.month) + [45] + two(d.day)
        case .dayMonthYear: return two(d.day) + [47] + two(d.month) + [47] + y4
        }
    }

    func string(_ day: Int) -> String { String(decoding: DateText.render(day, style), as: UTF8.self) }

    /// Writes the date of `day` to `sink`.
    @inline(__always)
    func write(_ day: Int, to sink: ByteSink) throws {
        let offset = (day - first) * 10
        if offset >= 0 && offset + 10 <= text.count {
            try text.withUnsafeBufferPointer { try sink.bytes(UnsafeBufferPointer(rebasing: $0[offset..<(offset + 10)])) }
        } else {
            try sink.bytes(DateText.render(day, style))
        }
    }
}
