/// A count as a report prints it.
///
/// In CSV and HTML it is its ``text``; in JSON a number when a number is shown,
/// else the text (`"≤7"`, `"*"`).
public enum PublishedCount: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The exact count (suppression switched off).
    case exact(Int)
    /// The count rounded to the nearest 5 (0 stays 0).
    case rounded(Int)
    /// A count from 1 to 7: shown as `≤7`.
    case small
    /// Suppressed so that another, small count cannot be worked out: shown as `*`.
    case secondary

    public static let smallText = "≤7"
    public static let secondaryText = "*"

    public var text: String {
        switch self {
        case .exact(let n), .rounded(let n): return String(n)
        case .small: return Self.smallText
        case .secondary: return Self.secondaryText
        }
    }

    public var description: String { text }

    /// The number shown, or nil when the count is suppressed.
    public var number: Int? {
        switch self {
        case .exact(let n), .rounded(let n): return n
        case .small, .secondary: return nil
        }
    }

    public var isSuppressed: Bool { number == nil }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int.self) {
            self = .rounded(n)
            return
        }
        switch try c.decode(String.self) {
        case Self.smallText: self = .small
        case Self.secondaryText: self = .secondary
        case let other: throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a published count: \(other)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let n = number { try c.encode(n) } else { try c.encode(text) }
    }
}
