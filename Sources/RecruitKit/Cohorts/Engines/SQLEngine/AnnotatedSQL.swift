import Postgres

/// A statement whose every bound value carries a note saying what it is, so
/// `recruit cohort sql` can print `$5 = 730  -- chronic_pain_lookback_days`.
///
/// Built by interpolation like ``SQL``: `\(bind: value, "note")` binds a value,
/// `\(other)` nests another statement fragment, `\(raw: text)` adds SQL the
/// program generated itself (never user input).
public struct AnnotatedSQL: Sendable, ExpressibleByStringInterpolation {
    /// The statement, with `$n` placeholders.
    public private(set) var sql: SQL
    /// One note per bound value, in `$1`, `$2`, … order.
    public private(set) var notes: [String]

    public init(stringLiteral value: String) {
        sql = SQL(unsafeSQL: value)
        notes = []
    }

    public init(stringInterpolation: StringInterpolation) {
        sql = stringInterpolation.sql
        notes = stringInterpolation.notes
    }

    /// A plain statement fragment, its bound values noted as such (`recruit
    /// cohort sql` prints them without a meaning).
    public init(sql: SQL) {
        self.sql = sql
        notes = Array(repeating: "a value of the fragment", count: sql.binds.count)
    }

    /// Fragments joined by a separator.
    public init(joining parts: [AnnotatedSQL], separator: String) {
        var s = StringInterpolation(literalCapacity: 0, interpolationCount: parts.count)
        for (i, part) in parts.enumerated() {
            if i > 0 { s.appendLiteral(separator) }
            s.appendInterpolation(part)
        }
        self.init(stringInterpolation: s)
    }

    public mutating func append(_ other: AnnotatedSQL) {
        sql.append(other.sql)
        notes += other.notes
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = SQL(unsafeSQL: "")
        var notes: [String] = []

        public init(literalCapacity: Int, interpolationCount: Int) {}

        public mutating func appendLiteral(_ literal: String) {
            if !literal.isEmpty { sql.append(SQL(unsafeSQL: literal)) }
        }

        public mutating func appendInterpolation(_ other: AnnotatedSQL) {
            sql.append(other.sql)
            notes += other.notes
        }

        /// A value bound as the next parameter, with what it means.
        public mutating func appendInterpolation<T: PostgresBindable>(bind value: T, _ note: String) {
            sql.append("\(value)")
            notes.append(note)
        }

        /// An optional value (nil binds NULL).
        public mutating func appendInterpolation<T: PostgresBindable>(bind value: T?, _ note: String) {
            sql.append("\(value)")
            notes.append(note)
        }

        /// SQL text the program generated itself. Never user input.
        public mutating func appendInterpolation(raw text: String) {
            sql.append(SQL(unsafeSQL: text))
        }
    }
}
