import Foundation

extension JSONValue {
    /// Parses JSON text.
    ///
    /// - Throws: `DecodingError` when `text` is not JSON.
    public static func decode(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}
