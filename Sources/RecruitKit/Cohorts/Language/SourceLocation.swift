/// Where something was written in a cohort file: file, line and column (1-based).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `FILE:LINE:COLUMN`, the form editors and compilers use.
    public var description: String { "\(file):\(line):\(column)" }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// One problem found in a cohort file, at the place it was written.
public struct CohortDiagnostic: Hashable, Sendable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }

    /// `FILE:LINE:COLUMN: message`.
    public var description: String { "\(location): \(message)" }
}

/// The problems that make a cohort file unusable, in file order.
///
/// Converts to a refusal (exit 1) whose message lists every problem with its location.
public struct CohortDefinitionError: Error, CustomStringConvertible, Sendable {
    public var diagnostics: [CohortDiagnostic]

    public init(_ diagnostics: [CohortDiagnostic]) {
        self.diagnostics = diagnostics.sorted { $0.location < $1.location }
    }

    public var description: String {
        let n = diagnostics.count
        return "\(n) problem\(n == 1 ? "" : "s") in the cohort definition:\n"
            + diagnostics.map(\.description).joined(separator: "\n")
    }

    /// The same problems as a ``RecruitError`` (refused, exit 1).
    public var recruitError: RecruitError { .refused(description) }
}
