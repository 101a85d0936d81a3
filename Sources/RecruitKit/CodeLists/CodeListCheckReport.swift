/// What `recruit codelists check` found.
public struct CodeListCheckReport: Sendable, Codable {
    public var directory: String
    public var lists: [String]
    public var locked: Bool
    public var problems: [CodeListProblem]

    public var errors: [CodeListProblem] { problems.filter { $0.severity == .error } }
    public var warnings: [CodeListProblem] { problems.filter { $0.severity == .warning } }
    /// True when there is no error (warnings allowed).
    public var ok: Bool { errors.isEmpty }

    enum CodingKeys: String, CodingKey { case directory, lists, locked, problems, ok }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(directory, forKey: .directory)
        try c.encode(lists, forKey: .lists)
        try c.encode(locked, forKey: .locked)
        try c.encode(problems, forKey: .problems)
        try c.encode(ok, forKey: .ok)
    }

    public init(directory: String, lists: [String], locked: Bool, problems: [CodeListProblem]) {
        self.directory = directory
        self.lists = lists
        self.locked = locked
        self.problems = problems
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        directory = try c.decode(String.self, forKey: .directory)
        lists = try c.decode([String].self, forKey: .lists)
        locked = try c.decode(Bool.self, forKey: .locked)
        problems = try c.decode([CodeListProblem].self, forKey: .problems)
    }
}
