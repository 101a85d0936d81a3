/// One criterion of a cohort: an id, the label a protocol or CONSORT box would
/// carry, and a condition that includes or excludes.
public struct Criterion: Sendable {
    /// Whether the condition must hold (include) or must not (exclude).
    public enum Effect: String, Sendable {
        case include, exclude
    }

    /// The criterion's id: the `criterion` column of the yield table.
    public var id: String
    /// The human label; `{name}` stands for a parameter's value.
    public var label: String
    /// An optional heading that groups criteria in `cohort explain` (e.g. "Population").
    public var section: String?
    public var effect: Effect
    public var condition: Condition
    public var location: SourceLocation

    public init(id: String, label: String, section: String?, effect: Effect, condition: Condition, location: SourceLocation) {
        self.id = id
        self.label = label
        self.section = section
        self.effect = effect
        self.condition = condition
        self.location = location
    }
}

/// A whole number in a criterion: written out, or the name of a parameter.
public struct Quantity: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        case literal(Int)
        case parameter(String)
    }

    public var value: Value
    public var location: SourceLocation

    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

/// A date relative to the index date: `D`, `D - N` or `D + N` (N a number or a parameter).
public struct DateExpression: Sendable, Hashable {
    /// -1 for `D - N`, +1 for `D + N`; `D` alone is `D - 0`.
    public var sign: Int
    public var days: Quantity
    public var location: SourceLocation

    public init(sign: Int, days: Quantity, location: SourceLocation) {
        self.sign = sign
        self.days = days
        self.location = location
    }

    /// The index date itself.
    public static func indexDate(at location: SourceLocation) -> DateExpression {
        DateExpression(sign: -1, days: Quantity(.literal(0), at: location), location: location)
    }
}

/// An inclusive window of dates relative to D: `[from, to]`; no `from` means
/// "any time up to `to`".
public struct DayWindow: Sendable, Hashable {
    public var from: DateExpression?
    public var to: DateExpression
    public var location: SourceLocation

    public init(from: DateExpression?, to: DateExpression, location: SourceLocation) {
        self.from = from
        self.to = to
        self.location = location
    }
}

/// A code list named in a criterion, where it was named.
public struct CodeListReference: Sendable, Hashable {
    public var name: String
    public var location: SourceLocation

    public init(name: String, location: SourceLocation) {
        self.name = name
        self.location = location
    }
}

/// Which coded records a condition reads.
public enum RecordSource: String, Sendable, Hashable {
    case events, prescriptions

    /// The singular noun for explanations.
    public var noun: String { self == .events ? "event" : "prescription" }
}

/// "Has events / has prescriptions": records in one or more code lists within a
/// window, with an optional minimum count, minimum span between the earliest
/// and latest, and a filter on the coding system.
public struct RecordCondition: Sendable, Hashable {
    public var source: RecordSource
    public var codeLists: [CodeListReference]
    public var window: DayWindow
    /// At least this many matching records (default 1).
    public var minCount: Quantity?
    /// At least this many days between the earliest and the latest matching record.
    public var minSpanDays: Quantity?
    /// Only records of these coding systems (default: any).
    public var codeSystems: [CodeSystem]?
    public var location: SourceLocation

    public init(source: RecordSource, codeLists: [CodeListReference], window: DayWindow, minCount: Quantity?,
                minSpanDays: Quantity?, codeSystems: [CodeSystem]?, location: SourceLocation) {
        self.source = source
        self.codeLists = codeLists
        self.window = window
        self.minCount = minCount
        self.minSpanDays = minSpanDays
        self.codeSystems = codeSystems
        self.location = location
    }
}

/// "Latest of": of the records within the window in any of `codeLists`, the
/// latest (by date) is in `isIn`. A record whose code is in `isIn` counts as in
/// it even when it is in another of the lists too.
public struct LatestCondition: Sendable, Hashable {
    /// What decides when records of `isIn` and of the other lists share the latest date.
    public enum TieRule: String, Sendable, Hashable, CaseIterable {
        /// A record in `isIn` on the latest date is enough (dissent wins over withdrawal on the same day).
        case isInWins = "is_in_wins"
        /// Any record of the other lists on the latest date defeats it.
        case othersWin = "others_win"
    }

    public var source: RecordSource
    public var codeLists: [CodeListReference]
    public var isIn: CodeListReference
    public var window: DayWindow
    public var ties: TieRule
    public var codeSystems: [CodeSystem]?
    public var location: SourceLocation

    public init(source: RecordSource, codeLists: [CodeListReference], isIn: CodeListReference, window: DayWindow,
                ties: TieRule, codeSystems: [CodeSystem]?, location: SourceLocation) {
        self.source = source
        self.codeLists = codeLists
        self.isIn = isIn
        self.window = window
        self.ties = ties
        self.codeSystems = codeSystems
        self.location = location
    }
}

/// "Sickness spell": a current spell of continuous sickness certification of
/// at least a minimum length, built from the fit-note events of the code
/// lists as `shared/spec/spells.md` fixes it. Every number is written out or
/// a parameter; an omitted one takes the spec's default.
public struct SpellCondition: Sendable, Hashable {
    public var codeLists: [CodeListReference]
    /// Which notes are seen: by default every one on or before D.
    public var window: DayWindow
    public var defaultCoverDays: Quantity?
    public var maxGapDays: Quantity?
    public var minSpellDays: Quantity?
    public var maxDaysSinceEnd: Quantity?
    public var location: SourceLocation

    public init(codeLists: [CodeListReference], window: DayWindow, defaultCoverDays: Quantity?, maxGapDays: Quantity?,
                minSpellDays: Quantity?, maxDaysSinceEnd: Quantity?, location: SourceLocation) {
        self.codeLists = codeLists
        self.window = window
        self.defaultCoverDays = defaultCoverDays
        self.maxGapDays = maxGapDays
        self.minSpellDays = minSpellDays
        self.maxDaysSinceEnd = maxDaysSinceEnd
        self.location = location
    }

    /// The numbers as the language names them, in ``SicknessSpellParameters/names`` order.
    public var numbers: [Quantity?] { [defaultCoverDays, maxGapDays, minSpellDays, maxDaysSinceEnd] }
}
