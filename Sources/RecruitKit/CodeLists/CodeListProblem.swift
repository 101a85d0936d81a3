/// One problem found in a code-list library, with the file and line it is on.
public struct CodeListProblem: Sendable, Codable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Codable {
        /// Makes `recruit codelists check` fail (exit 1) and a run refuse the list.
        case error
        /// Reported, but the library is usable (an empty list, no lock).
        case warning
    }

    public var severity: Severity
    /// The file's name within the library folder (`cancer.csv`, `codelists.yaml`, `codelists.lock`).
    public var file: String
    /// 1-based line, when the problem is on one line.
    public var line: Int?
    public var message: String

    public init(_ severity: Severity = .error, file: String, line: Int? = nil, _ message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: message` (`warning: ` before warnings).
    public var description: String {
        (severity == .warning ? "warning: " : "") + "\(file)" + (line.map { ":\($0)" } ?? "") + ": \(message)"
    }
}
