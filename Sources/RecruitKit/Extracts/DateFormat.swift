import Postgres

/// A date pattern such as `yyyy-MM-dd`, `dd/MM/yyyy` or `dd-MMM-yyyy`, compiled for the row loop.
///
/// Tokens: `yyyy` (four-digit year), `MM` (two-digit month), `M` (one or two
/// digits), `dd` / `d` (day, likewise), `MMM` (English month abbreviation,
/// any case), `MMMM` (English month name); any other character must appear
/// as it is. Parsing returns PostgreSQL's day number (days since 2000-01-01),
/// or nil when the text does not match or names no real day.
public struct DateFormat: Sendable, Hashable, CustomStringConvertible {
    enum Token: Sendable, Hashable {
        case year4, month2, month1or2, monthAbbrev, monthName, day2, day1or2
        case literal(UInt8)
    }

    let tokens: [Token]
    public let pattern: String
    /// `yyyy-MM-dd` exactly: parsed by a fixed-position fast path.
    let isISO: Bool

    public static let iso = DateFormat(pattern: "yyyy-MM-dd")!

    /// Compiles a pattern; nil when it has no year, month and day, or holds a letter that is not a token.
    public init?(pattern: String) {
        var tokens: [Token] = []
        let chars = Array(pattern.utf8)
        var i = 0
        var seen = (y: false, m: false, d: false)
        while i < chars.count {
            let c = chars[i]
            var run = 1
            while i + run < chars.count && chars[i + run] == c { run += 1 }
            switch (c, run) {
            case (UInt8(ascii: "y"), 4): tokens.append(.year4); seen.y = true
            case (UInt8(ascii: "M"), 1): tokens.append(.month1or2); seen.m = true
            case (UInt8(ascii: "M"), 2): tokens.append(.month2); seen.m = true
            case (UInt8(ascii: "M"), 3): tokens.append(.monthAbbrev); seen.m = true
            case (UInt8(ascii: "M"), 4): tokens.append(.monthName); seen.m = true
            case (UInt8(ascii: "d"), 1): tokens.append(.day1or2); seen.d = true
            case (UInt8(ascii: "d"), 2): tokens.append(.day2); seen.d = true
            default:
                if (c >= 65 && c <= 90) || (c >= 97 && c <= 122) { return nil }
                for _ in 0..<run { tokens.append(.literal(c)) }
            }
            i += run
        }
        guard seen.y && seen.m && seen.d else { return nil }
        self.tokens = tokens
        self.pattern = pattern
        isISO = pattern == "yyyy-MM-dd"
    }

    public var description: String { pattern }

    static let monthNames: [[UInt8]] = ["january", "february", "march", "april", "may", "june", "july",
                                        "august", "september", "october", "november", "december"].map { Array($0.utf8) }

    /// Parses `text`; returns days since 2000-01-01, or nil.
    @inline(__always)
    public func parse(_ text: UnsafeRawBufferPointer) -> Int32? {
        if isISO {
            guard text.count == 10, text[4] == 45, text[7] == 45 else { return nil }
            let y = Self.digits(text, 0, 4), m = Self.digits(text, 5, 2), d = Self.digits(text, 8, 2)
            guard y >= 0, m >= 0, d >= 0 else { return nil }
            return Self.dayNumber(year: y, month: m, day: d)
        }
        return parseGeneral(text)
    }

    @inline(__always)
    static func digits(_ t: UnsafeRawBufferPointer, _ at: Int, _ n: Int) -> Int {
        var v = 0
        for i in at..<(at + n) {
            let c = t[i] &- 48
            if c > 9 { return -1 }
            v = v * 10 + Int(c)
        }
        return v
    }

    private func parseGeneral(_ t: UnsafeRawBufferPointer) -> Int32? {
        var i = 0
        var y = -1, m = -1, d = -1
        let n = t.count
        func fixed(_ count: Int) -> Int? {
            guard i + count <= n else { return nil }
            let v = Self.digits(t, i, count)
            guard v >= 0 else { return nil }
            i += count
            return v
        }
        func oneOrTwo() -> Int? {
            guard i < n, t[i] &- 48 <= 9 else { return nil }
            if i + 1 < n, t[i + 1] &- 48 <= 9 {
                defer { i += 2 }
                return Int(t[i] - 48) * 10 + Int(t[i + 1] - 48)
            }
            defer { i += 1 }
            return Int(t[i] - 48)
        }
        func name(abbreviated: Bool) -> Int? {
            for (index, month) in Self.monthNames.enumerated() {
                let length = abbreviated ? 3 : month.count
                guard i + length <= n else { continue }
                var match = true
                for k in 0..<length where (t[i + k] | 0x20) != month[k] { match = false; break }
                if match { i += length; return index + 1 }
            }
            return nil
        }
        for token in tokens {
            switch token {
            case .year4: guard let v = fixed(4) else { return nil }; y = v
            case .month2: guard let v = fixed(2) else { return nil }; m = v
            case .day2: guard let v = fixed(2) else { return nil }; d = v
            case .month1or2: guard let v = oneOrTwo() else { return nil }; m = v
            case .day1or2: guard let v = oneOrTwo() else { return nil }; d = v
            case .monthAbbrev: guard let v = name(abbreviated: true) else { return nil }; m = v
            case .monthName: guard let v = name(abbreviated: false) else { return nil }; m = v
            case .literal(let c): guard i < n, t[i] == c else { return nil }; i += 1
            }
        }
        guard i == n else { return nil }
        return Self.dayNumber(year: y, month: m, day: d)
    }

    /// Days from 2000-01-01 to the date, or nil when it is not a real day (years 1-9999).
    @inline(__always)
    public static func dayNumber(year: Int, month: Int, day: Int) -> Int32? {
        guard year >= 1, year <= 9999, month >= 1, month <= 12, day >= 1 else { return nil }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let dim: Int
        switch month {
        case 2: dim = leap ? 29 : 28
        case 4, 6, 9, 11: dim = 30
        default: dim = 31
        }
        guard day <= dim else { return nil }
        // Howard Hinnant's days_from_civil, shifted from 1970-01-01 to 2000-01-01 (10957 days).
        let yy = month <= 2 ? year - 1 : year
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return Int32(era * 146_097 + doe - 719_468 - 10_957)
    }

    /// The year of a day number (days since 2000-01-01).
    public static func year(ofDay day: Int32) -> Int {
        LocalDate(dayNumber: Int(day) + 10_957).year
    }
}
