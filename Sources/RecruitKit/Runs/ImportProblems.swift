/// Collects the problems of a file being imported: the first
/// ``ImportRefused/keptProblems`` in detail, all of them counted.
struct ImportProblems {
    private(set) var items: [ImportProblem] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func add(line: Int?, column: String? = nil, message: String) {
        add(ImportProblem(line: line, column: column, message: message))
    }

    mutating func add(_ problem: ImportProblem) {
        count += 1
        items.append(problem)
        // Keep the earliest lines: sort and trim now and then, not on every add.
        if items.count >= ImportRefused.keptProblems * 4 { trim() }
    }

    /// Adds problems found by a query that reported `total` of them.
    mutating func add(_ problems: [ImportProblem], total: Int) {
        for p in problems { add(p) }
        count += max(0, total - problems.count)
    }

    private mutating func trim() {
        items.sort { ($0.line ?? 0, $0.column ?? "") < ($1.line ?? 0, $1.column ?? "") }
        items.removeSubrange(min(items.count, ImportRefused.keptProblems)...)
    }

    /// The refusal for `file`, problems in line order.
    func refusal(file: String) -> ImportRefused {
        var copy = self
        copy.trim()
        return ImportRefused(file: file, problems: copy.items, problemCount: count)
    }
}
