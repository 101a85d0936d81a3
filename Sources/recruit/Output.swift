import Foundation
import RecruitKit

/// Standard output helpers: human text or one JSON object for scripts.
enum Output {
    static func line(_ text: String = "") {
        print(text)
    }

    /// Prints a table indented by two spaces: column `leftAligned` padded on
    /// the right, the others on the left (numbers), columns three spaces apart,
    /// no trailing blanks.
    static func table(header: [String], rows: [[String]], leftAligned: Int) {
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
        for cells in [header] + rows {
            let text = cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i == leftAligned ? cell + pad : pad + cell
            }.joined(separator: "   ")
            line(("  " + text).replacingOccurrences(of: " +$", with: "", options: .regularExpression))
        }
    }

    /// Prints an Encodable value as one JSON object (sorted keys, dates as text).
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        print(String(decoding: data, as: UTF8.self))
    }
}
