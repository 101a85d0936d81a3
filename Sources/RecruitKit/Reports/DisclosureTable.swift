/// The counts of one published table, with every arithmetic fact a reader
/// could use to work out one count from the others.
///
/// A report is protected as one `DisclosureTable`: its cells are the counts
/// it prints (unrounded), and its relations say which cells add up to which.
/// ``SmallNumberSuppression`` decides how each cell is shown, using the
/// relations to make sure that no count shown as `≤7` can be worked out from
/// the totals, the differences and the rates printed beside it.
///
/// Relations state `total = parts[0] + parts[1] + …`. An attrition chain is a
/// relation too: the patients remaining before a criterion are those remaining
/// after it plus those it removed (`remaining[k-1] = remaining[k] + removed[k]`).
public struct DisclosureTable: Sendable {
    /// A cell of the table.
    public struct Cell: Hashable, Sendable, Comparable {
        public let index: Int
        public init(index: Int) { self.index = index }
        public static func < (a: Cell, b: Cell) -> Bool { a.index < b.index }
    }

    /// `total = Σ parts`, true of the unrounded counts.
    public struct Relation: Hashable, Sendable {
        public var total: Cell
        public var parts: [Cell]
        public var members: [Cell] { [total] + parts }
    }

    /// A rate printed beside the counts: `numerator / denominator × scale`,
    /// computed from the unrounded counts, shown only when both counts are.
    public struct Ratio: Hashable, Sendable {
        public var numerator: Cell
        public var denominator: Cell
        public var format: RateFormat
    }

    /// The unrounded counts.
    public private(set) var values: [Int] = []
    /// A name for each cell (used by tests and diagnostics; never a patient value).
    public private(set) var names: [String] = []
    /// Margins (totals, all-months rows): suppressed to protect another cell only when no other cell will do.
    public private(set) var isMargin: [Bool] = []
    public private(set) var relations: [Relation] = []
    public private(set) var ratios: [Ratio] = []

    public init() {}

    public var count: Int { values.count }

    /// Adds a count.
    ///
    /// - Parameters:
    ///   - value: the unrounded count (0 or more).
    ///   - name: a name for diagnostics and tests.
    ///   - isMargin: whether the cell is a total row or column.
    /// - Returns: the new cell.
    @discardableResult
    public mutating func add(_ value: Int, name: String = "", isMargin: Bool = false) -> Cell {
        precondition(value >= 0, "counts are never negative")
        values.append(value)
        names.append(name)
        self.isMargin.append(isMargin)
        return Cell(index: values.count - 1)
    }

    /// Records that `total` is the sum of `parts` (true of the unrounded counts).
    public mutating func relate(total: Cell, parts: [Cell]) {
        precondition(values[total.index] == parts.reduce(0) { $0 + values[$1.index] },
                     "relation does not hold: \(names[total.index]) ≠ Σ parts")
        guard !parts.isEmpty else { return }
        relations.append(Relation(total: total, parts: parts))
    }

    /// Records that a rate of two cells is printed (when both are shown).
    public mutating func publishRatio(_ numerator: Cell, over denominator: Cell, format: RateFormat) {
        ratios.append(Ratio(numerator: numerator, denominator: denominator, format: format))
    }

    public func value(_ cell: Cell) -> Int { values[cell.index] }
    public func name(_ cell: Cell) -> String { names[cell.index] }

    /// The cell with this name (tests).
    public func cell(named name: String) -> Cell? {
        names.firstIndex(of: name).map { Cell(index: $0) }
    }
}

/// How a rate is printed: `numerator / denominator × scale`, to a fixed number
/// of decimals, rounded half up, computed in integers so that every platform
/// prints the same text.
public struct RateFormat: Hashable, Sendable {
    /// 100 for a percentage, 1000 for "per 1,000".
    public var scale: Int
    public var decimals: Int

    public init(scale: Int, decimals: Int = 1) {
        self.scale = scale
        self.decimals = decimals
    }

    public static let percent = RateFormat(scale: 100)
    public static let perThousand = RateFormat(scale: 1000)

    /// The rate's text, or nil when the denominator is 0.
    public func text(_ numerator: Int, _ denominator: Int) -> String? {
        guard denominator > 0 else { return nil }
        var unit = 1
        for _ in 0..<decimals { unit *= 10 }
        let scaled = (2 * numerator * scale * unit + denominator) / (2 * denominator)
        guard decimals > 0 else { return String(scaled) }
        let whole = scaled / unit, fraction = scaled % unit
        let digits = String(fraction)
        return "\(whole).\(String(repeating: "0", count: decimals - digits.count))\(digits)"
    }
}
