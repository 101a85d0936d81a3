import Foundation

extension CodeListLibrary {
    /// Checks the library: every file parses; every code is valid for its
    /// system; no code appears twice in a list; the manifest describes every
    /// list and system, and its rules name valid codes of their system; the
    /// lock (when there is one) matches every file.
    ///
    /// - Parameters:
    ///   - names: the lists to check; nil for every list in the folder (then
    ///     manifest entries and lock lines without a file are reported too).
    ///   - checkingLock: compare the files with the lock (default true).
    /// - Returns: every problem, with file and line.
    public func check(names: [String]? = nil, checkingLock: Bool = true) throws -> CodeListCheckReport {
        let all = try self.names()
        let selected = names ?? all
        var problems = manifestProblems
        if all.isEmpty && names == nil {
            problems.append(CodeListProblem(.warning, file: directory.lastPathComponent, "no code lists (*.csv) in the folder"))
        }
        for name in selected {
            guard FileManager.default.fileExists(atPath: url(of: name).path) else {
                problems.append(CodeListProblem(file: "\(name).csv", "does not exist"))
                continue
            }
            let file = try self.file(name)
            problems += Self.problems(in: file)
            if let manifest {
                problems += Self.manifestProblems(for: file, entry: manifest.lists[name])
            }
        }
        if let manifest, names == nil {
            for name in manifest.lists.keys.sorted() where !all.contains(name) {
                problems.append(CodeListProblem(file: CodeListManifest.fileName, line: manifest.lists[name]?.line,
                                                "list \(name) has no file \(name).csv"))
            }
        }
        if checkingLock {
            if lock == nil {
                problems.append(CodeListProblem(.warning, file: CodeListLock.fileName, Self.unreviewedWarning))
            } else {
                problems += try lockMismatches(names: selected)
                if names == nil, let lock {
                    let present = Set(all.map { "\($0).csv" } + [CodeListManifest.fileName])
                    for file in lock.hashes.keys.sorted() where !present.contains(file) {
                        problems.append(CodeListProblem(file: CodeListLock.fileName, line: lock.lines[file],
                                                        "\(file) is locked but does not exist"))
                    }
                }
            }
        }
        var seen = Set<CodeListProblem>()
        problems = problems.filter { seen.insert($0).inserted }
        return CodeListCheckReport(directory: directory.path, lists: selected, locked: lock != nil, problems: problems)
    }

    /// The problems of one list file on its own: parse problems, invalid
    /// codes, duplicate codes, an empty list.
    public static func problems(in file: CodeListFile) -> [CodeListProblem] {
        var problems = file.problems
        var firstLine: [SystemCode: Int] = [:]
        for row in file.rows {
            guard let system = row.system else { continue }
            if let problem = system.problem(with: row.code) {
                problems.append(CodeListProblem(file: file.fileName, line: row.line, problem))
                continue
            }
            let key = SystemCode(system: system, code: row.code)
            if let first = firstLine[key] {
                problems.append(CodeListProblem(file: file.fileName, line: row.line,
                    "duplicate code \"\(row.code)\" (\(system.rawValue)), first on line \(first)"))
            } else {
                firstLine[key] = row.line
            }
        }
        if file.rows.isEmpty && !problems.contains(where: { $0.severity == .error }) {
            problems.append(CodeListProblem(.warning, file: file.fileName, "the list has no codes"))
        }
        return problems
    }

    /// The problems between a list file and its manifest entry: no entry, a
    /// system in the file the entry does not describe (or the reverse), rules
    /// naming invalid codes or asking for descendants a system cannot give.
    public static func manifestProblems(for file: CodeListFile, entry: CodeListManifest.ListEntry?) -> [CodeListProblem] {
        let manifestFile = CodeListManifest.fileName
        guard let entry else {
            return [CodeListProblem(file: manifestFile, "list \(file.name) (\(file.fileName)) has no entry: its source is not recorded")]
        }
        var problems: [CodeListProblem] = []
        let inFile = file.systems
        for system in inFile.sorted() where entry.systems[system] == nil {
            let line = file.rows.first { $0.system == system }?.line
            problems.append(CodeListProblem(file: file.fileName, line: line,
                "has \(system.rawValue) codes but \(manifestFile) records no \(system.rawValue) source for list \(file.name)"))
        }
        for (system, systemEntry) in entry.systems.sorted(by: { $0.key < $1.key }) {
            if !inFile.contains(system) {
                problems.append(CodeListProblem(.warning, file: manifestFile, line: systemEntry.line,
                    "list \(file.name): \(system.rawValue) is described but \(file.fileName) has no \(system.rawValue) codes"))
            }
            for rule in systemEntry.rules {
                if let problem = system.problem(with: rule.code) {
                    problems.append(CodeListProblem(file: manifestFile, line: rule.line,
                        "list \(file.name): \(rule.action.rawValue) rule: \(problem)"))
                }
                if rule.descendants && !system.hasHierarchyInCode {
                    problems.append(CodeListProblem(file: manifestFile, line: rule.line,
                        "list \(file.name): \(rule.action.rawValue) \(rule.code): descendants cannot be found from \(system.displayName) codes; list the codes, or add descendants: false"))
                }
            }
        }
        return problems
    }
}
