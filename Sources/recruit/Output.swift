import Foundation
import RecruitKit

/// Standard output helpers: human text or one JSON object for scripts.
enum Output {
    static func line(_ text: String = "") {
        print(text)
    }

    /// Prints an Encodable value as one JSON object (sorted keys, dates as text).
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        print(String(decoding: data, as: UTF8.self))
    }
}
