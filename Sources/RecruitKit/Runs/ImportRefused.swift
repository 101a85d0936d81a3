/// A feedback or history file was refused: nothing from it was recorded.
///
/// Carries every problem found (the first ``keptProblems`` of them, in line
/// order, and the total), so a practice can fix the file in one pass.
public struct ImportRefused: Error, Sendable, CustomStringConvertible {
    /// How many problems are kept; all are counted.
    public static let keptProblems = 100
    /// How many problems ``description`` lists.
    public static let listedProblems = 20

    /// The file's name (not its folder).
    public var file: String
    public var problems: [ImportProblem]
    public var problemCount: Int
    /// Why the refusal itself could not be recorded in the audit trail (nil: it was).
    public var auditFailure: String?

    public init(file: String, problems: [ImportProblem], problemCount: Int? = nil) {
        self.file = file
        self.problems = Array(problems.prefix(Self.keptProblems))
        self.problemCount = max(problemCount ?? problems.count, problems.count)
    }

    public var description: String {
        var lines = ["\(file): refused, nothing was imported: \(problemCount) problem\(problemCount == 1 ? "" : "s")"]
        for p in problems.prefix(Self.listedProblems) { lines.append("  \(file) \(p)") }
        if problemCount > Self.listedProblems { lines.append("  … and \(problemCount - Self.listedProblems) more") }
        if let auditFailure { lines.append("  (the refusal could not be recorded in the audit trail: \(auditFailure))") }
        return lines.joined(separator: "\n")
    }
}
