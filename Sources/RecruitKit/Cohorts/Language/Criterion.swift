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

/// The two stages a condition lives in, which its queries are generic over so
/// that each kind of condition is declared once: ``WrittenStage`` (as the file
/// writes it: code lists as named, numbers as written or parameters, with
/// where) and ``BoundStage`` (the model: lists by name, every number with its
/// value, defaults filled in).
public protocol CohortStage {
    /// A code list named by a condition.
    associatedtype ListReference: Sendable, Hashable
    /// A number of a condition.
    associatedtype Number: Sendable, Hashable
    /// A number the language lets a file leave out and the model fills with its default.
    associatedtype DefaultedNumber: Sendable, Hashable
    /// A window of days relative to D.
    associatedtype Window: Sendable, Hashable
    /// Where a condition is written (nothing, once bound).
    associatedtype Location: Sendable, Hashable
}

/// A condition as the cohort file writes it.
public enum WrittenStage: CohortStage {
    public typealias ListReference = CodeListReference
    public typealias Number = Quantity
    public typealias DefaultedNumber = Quantity?
    public typealias Window = DayWindow
    public typealias Location = SourceLocation
}

/// "Has events / has prescriptions": records in one or more code lists within a
/// window, with a minimum count (default 1), an optional minimum span between
/// the earliest and latest, and an optional filter on the coding system.
public struct RecordQuery<Stage: CohortStage>: Sendable, Hashable {
    public var source: RecordSource
    public var codeLists: [Stage.ListReference]
    public var window: Stage.Window
    /// At least this many matching records.
    public var minCount: Stage.DefaultedNumber
    /// At least this many days between the earliest and the latest matching record.
    public var minSpanDays: Stage.Number?
    /// Only records of these coding systems (default: any).
    public var codeSystems: [CodeSystem]?
    public var location: Stage.Location

    public init(source: RecordSource, codeLists: [Stage.ListReference], window: Stage.Window, minCount: Stage.DefaultedNumber,
                minSpanDays: Stage.Number?, codeSystems: [CodeSystem]?, location: Stage.Location) {
        self.source = source
        self.codeLists = codeLists
        self.window = window
        self.minCount = minCount
        self.minSpanDays = minSpanDays
        self.codeSystems = codeSystems
        self.location = location
    }
}

/// What decides when records of a "latest of" condition's `isIn` and of its
/// other lists share the latest date.
public enum LatestTieRule: String, Sendable, Hashable, CaseIterable {
    /// A record in `isIn` on the latest date is enough (dissent wins over withdrawal on the same day).
    case isInWins = "is_in_wins"
    /// Any record of the other lists on the latest date defeats it.
    case othersWin = "others_win"
}

/// "Latest of": of the records within the window in any of `codeLists`, the
/// latest (by date) is in `isIn`. A record whose code is in `isIn` counts as in
/// it even when it is in another of the lists too.
public struct LatestQuery<Stage: CohortStage>: Sendable, Hashable {
    public var source: RecordSource
    public var codeLists: [Stage.ListReference]
    public var isIn: Stage.ListReference
    public var window: Stage.Window
    public var ties: LatestTieRule
    public var codeSystems: [CodeSystem]?
    public var location: Stage.Location

    public init(source: RecordSource, codeLists: [Stage.ListReference], isIn: Stage.ListReference, window: Stage.Window,
                ties: LatestTieRule, codeSystems: [CodeSystem]?, location: Stage.Location) {
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
public struct SpellQuery<Stage: CohortStage>: Sendable, Hashable {
    public var codeLists: [Stage.ListReference]
    /// Which notes are seen: by default every one on or before D.
    public var window: Stage.Window
    public var defaultCoverDays: Stage.DefaultedNumber
    public var maxGapDays: Stage.DefaultedNumber
    public var minSpellDays: Stage.DefaultedNumber
    public var maxDaysSinceEnd: Stage.DefaultedNumber
    public var location: Stage.Location

    public init(codeLists: [Stage.ListReference], window: Stage.Window, defaultCoverDays: Stage.DefaultedNumber,
                maxGapDays: Stage.DefaultedNumber, minSpellDays: Stage.DefaultedNumber, maxDaysSinceEnd: Stage.DefaultedNumber,
                location: Stage.Location) {
        self.codeLists = codeLists
        self.window = window
        self.defaultCoverDays = defaultCoverDays
        self.maxGapDays = maxGapDays
        self.minSpellDays = minSpellDays
        self.maxDaysSinceEnd = maxDaysSinceEnd
        self.location = location
    }

    /// The numbers as the language names them, in ``SicknessSpellParameters/names`` order.
    public var numbers: [Stage.DefaultedNumber] { [defaultCoverDays, maxGapDays, minSpellDays, maxDaysSinceEnd] }
}

public typealias RecordCondition = RecordQuery<WrittenStage>
public typealias LatestCondition = LatestQuery<WrittenStage>
public typealias SpellCondition = SpellQuery<WrittenStage>
