/// One reason a feedback or history file was refused: where, and what is wrong.
///
/// - Important: messages name lines, columns, run ids and the allowed values,
///   never a value from the file (a patient id, a date, free text).
public struct ImportProblem: Sendable, Codable, Hashable, CustomStringConvertible {
    /// The 1-based physical line of the file (nil for the file as a whole).
    public var line: Int?
    /// The column concerned, when one is.
    public var column: String?
    public var message: String

    public init(line: Int?, column: String? = nil, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        let place = [line.map { "line \($0)" }, column].compactMap { $0 }.joined(separator: ", ")
        return place.isEmpty ? message : "\(place): \(message)"
    }
}
