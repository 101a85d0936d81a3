import Foundation
import Postgres

/// A folder of code lists: `NAME.csv` files, an optional manifest
/// (`codelists.yaml`) and an optional lock (`codelists.lock`).
///
/// This is what `recruit run --codelists DIR` uses:
///
/// ```swift
/// let library = try CodeListLibrary(directory: dir)
/// if library.isUnreviewed { logger.warning("\(CodeListLibrary.unreviewedWarning)") }
/// let lists = try library.resolve(names: ["chronic-pain", "cancer"], connection: db.connection)
/// for list in lists { let id = try list.store(on: db.connection) /* record id, list.summary */ }
/// ```
///
/// With a lock, every list used (and the manifest) must match it: a file
/// edited by hand without updating the lock is refused, naming the file.
/// Without a lock the lists are usable but unreviewed, and each file's
/// SHA-256 is still recorded.
public struct CodeListLibrary: Sendable {
    public let directory: URL
    /// The manifest, or nil when the folder has none.
    public let manifest: CodeListManifest?
    /// Problems reading the manifest (empty when it is fine or absent).
    public let manifestProblems: [CodeListProblem]
    /// The lock, or nil when the folder has none (the lists are unreviewed).
    public let lock: CodeListLock?
    /// Problems reading the lock.
    public let lockProblems: [CodeListProblem]

    /// The warning to show when a library has no lock.
    public static let unreviewedWarning =
        "the code lists have no codelists.lock: they are unreviewed (each file's SHA-256 is recorded all the same)"

    /// Opens the library in `directory`, reading its manifest and lock if present.
    ///
    /// - Throws: ``RecruitError`` (refused) when the folder does not exist.
    public init(directory: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RecruitError.refused("code-list folder \(directory.path) does not exist")
        }
        self.directory = directory
        let manifestURL = directory.appendingPathComponent(CodeListManifest.fileName)
        if let data = FileManager.default.contents(atPath: manifestURL.path) {
            if let text = String(data: data, encoding: .utf8) {
                (manifest, manifestProblems) = CodeListManifest.parse(text)
            } else {
                manifest = CodeListManifest()
                manifestProblems = [CodeListProblem(file: CodeListManifest.fileName, "the file is not valid UTF-8")]
            }
        } else {
            manifest = nil
            manifestProblems = []
        }
        let lockURL = directory.appendingPathComponent(CodeListLock.fileName)
        if let data = FileManager.default.contents(atPath: lockURL.path) {
            (lock, lockProblems) = CodeListLock.parse(String(decoding: data, as: UTF8.self))
        } else {
            lock = nil
            lockProblems = []
        }
    }

    /// True when the folder has no lock: its lists are unreviewed.
    public var isUnreviewed: Bool { lock == nil }

    /// The names of the lists in the folder (its `*.csv` files), sorted.
    public func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".csv") && !$0.hasPrefix(".") }
            .map { String($0.dropLast(4)) }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The URL of list `name`.
    public func url(of name: String) -> URL { directory.appendingPathComponent("\(name).csv") }

    /// Reads list `name` with every problem collected.
    ///
    /// - Throws: ``RecruitError`` (refused) when the file does not exist or cannot be read.
    public func file(_ name: String) throws -> CodeListFile {
        guard Self.isValidName(name) else { throw RecruitError.refused("\"\(name)\" is not a valid code-list name") }
        let url = url(of: name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RecruitError.refused("code list \(name): \(url.path) does not exist")
        }
        return try CodeListFile.read(url)
    }

    /// Whether `name` can name a list file (no path separators, not hidden).
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains("/") && !name.hasPrefix(".") && !name.contains("\0")
    }

    // MARK: Lock

    /// The lock problems of the named lists' files and of the manifest:
    /// a file missing from the lock, or whose SHA-256 differs from it.
    /// Empty when there is no lock.
    ///
    /// - Parameter names: the lists to check; nil for every list in the folder.
    public func lockMismatches(names: [String]? = nil) throws -> [CodeListProblem] {
        guard let lock else { return [] }
        var problems = lockProblems
        var files = try (names ?? self.names()).map { "\($0).csv" }
        let manifestURL = directory.appendingPathComponent(CodeListManifest.fileName)
        if FileManager.default.fileExists(atPath: manifestURL.path) || lock.hashes[CodeListManifest.fileName] != nil {
            files.append(CodeListManifest.fileName)
        }
        for file in files {
            let url = directory.appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: url.path) else {
                if let line = lock.lines[file] {
                    problems.append(CodeListProblem(file: CodeListLock.fileName, line: line, "\(file) is locked but does not exist"))
                }
                continue
            }
            let actual = try Hashing.sha256Hex(fileAt: url)
            guard let locked = lock.hashes[file] else {
                problems.append(CodeListProblem(file: file,
                    "not in \(CodeListLock.fileName): added by hand? Review it, then run `recruit codelists lock`"))
                continue
            }
            if locked != actual {
                problems.append(CodeListProblem(file: file,
                    "SHA-256 \(actual.prefix(12))… does not match \(CodeListLock.fileName) line \(lock.lines[file] ?? 0) (\(locked.prefix(12))…): edited without updating the lock. Review the change (recruit codelists diff), then run `recruit codelists lock`, or restore the file"))
            }
        }
        return problems
    }

    /// Refuses when the named lists' files (or the manifest) do not match the lock.
    ///
    /// Does nothing when the folder has no lock (check ``isUnreviewed`` and warn).
    ///
    /// - Parameter names: the lists to check; nil for every list in the folder.
    /// - Throws: ``RecruitError`` (refused) naming each file that does not match.
    public func verifyLock(names: [String]? = nil) throws {
        let problems = try lockMismatches(names: names)
        guard problems.isEmpty else {
            throw RecruitError.refused("code lists in \(directory.path) do not match their lock:\n" +
                                       problems.map { "  \($0)" }.joined(separator: "\n"))
        }
    }

    /// Rewrites the lock with the SHA-256 of every list file and of the
    /// manifest, as they are now. Use only after the change was reviewed
    /// (`recruit codelists lock` checks the library first).
    ///
    /// - Returns: the files whose locked hash changed, was added or removed.
    @discardableResult
    public func writeLock() throws -> [String] {
        var lock = CodeListLock()
        for name in try names() {
            lock.hashes["\(name).csv"] = try Hashing.sha256Hex(fileAt: url(of: name))
        }
        let manifestURL = directory.appendingPathComponent(CodeListManifest.fileName)
        if FileManager.default.fileExists(atPath: manifestURL.path) {
            lock.hashes[CodeListManifest.fileName] = try Hashing.sha256Hex(fileAt: manifestURL)
        }
        let old = self.lock?.hashes ?? [:]
        let changed = Set(lock.hashes.keys).union(old.keys).filter { lock.hashes[$0] != old[$0] }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        if !changed.isEmpty || self.lock == nil {
            try CodeListImporter.write(lock.text, to: directory.appendingPathComponent(CodeListLock.fileName))
        }
        return changed
    }

    // MARK: Resolve

    /// Resolves the named lists for a run: checks them (refusing a list with
    /// any error `recruit codelists check` would report, or a lock mismatch),
    /// applies the manifest's rules against the codes of every list file and,
    /// with a connection, of the loaded data (`current_events`,
    /// `current_prescriptions`), and hashes the expanded sets.
    ///
    /// - Parameters:
    ///   - names: the lists, in the order wanted.
    ///   - connection: a connection whose search_path is the project schema, to
    ///     find descendants recorded in the data; nil to use the list files only.
    ///   - verifyingLock: check the lock when there is one (default true).
    /// - Returns: one ``ResolvedCodeList`` per name, in order.
    /// - Throws: ``RecruitError`` (refused) naming the file and line of each problem.
    public func resolve(names: [String], connection: Connection? = nil,
                        verifyingLock: Bool = true) throws -> [ResolvedCodeList] {
        for name in names { _ = try file(name) }  // a missing list is named first
        let report = try check(names: names, checkingLock: verifyingLock)
        let errors = report.problems.filter { $0.severity == .error }
        guard errors.isEmpty else {
            let shown = errors.prefix(30).map { "  \($0)" }.joined(separator: "\n")
            throw RecruitError.refused("code lists in \(directory.path) have \(errors.count) problem(s):\n\(shown)" +
                                       (errors.count > 30 ? "\n  … (run recruit codelists check for all)" : ""))
        }
        // Known codes for descendant rules: every list file, plus the loaded data.
        var rulesByName: [String: [CodeSystem: [CodeListManifest.Rule]]] = [:]
        for name in names {
            rulesByName[name] = manifest?.lists[name]?.systems.compactMapValues { $0.rules.isEmpty ? nil : $0.rules } ?? [:]
        }
        let needed = rulesByName.values.reduce(into: Set<CodeSystem>()) { $0.formUnion(CodeListExpansion.systemsNeedingKnownCodes($1)) }
        var known: [CodeSystem: Set<String>] = [:]
        if !needed.isEmpty {
            for other in try self.names() {
                for row in try file(other).rows {
                    if let system = row.system, needed.contains(system) { known[system, default: []].insert(row.code) }
                }
            }
            if let connection {
                for system in needed {
                    let prefixes = rulesByName.values.flatMap { $0[system] ?? [] }
                        .filter { $0.action == .include && $0.descendants }
                        .map { String(ReadV2Hierarchy.significantPrefix($0.code)) }
                    known[system, default: []].formUnion(try Self.recordedCodes(system: system, prefixes: prefixes, on: connection))
                }
            }
        }
        var resolved: [ResolvedCodeList] = []
        for name in names {
            let file = try self.file(name)
            var terms: [SystemCode: String] = [:]
            var fileCodes = Set<SystemCode>()
            for entry in file.entries {
                let code = SystemCode(system: entry.system, code: entry.code)
                fileCodes.insert(code)
                if terms[code] == nil { terms[code] = entry.term }
            }
            let rules = rulesByName[name] ?? [:]
            let expanded = rules.isEmpty ? fileCodes : CodeListExpansion.expand(fileCodes, rules: rules, known: known)
            let entry = manifest?.lists[name]
            let reviewed = entry.map { e in !e.systems.isEmpty && e.systems.values.allSatisfy { $0.status == .reviewed } } ?? false
            resolved.append(ResolvedCodeList(
                name: name, version: entry?.versionSummary, sha256: file.sha256, codes: expanded,
                terms: terms.filter { expanded.contains($0.key) },
                manifestEntry: manifest?.json(for: name) ?? [:], locked: lock != nil && verifyingLock, reviewed: reviewed,
                addedByRules: expanded.subtracting(fileCodes).count, removedByRules: fileCodes.subtracting(expanded).count))
        }
        return resolved
    }

    /// The distinct codes of `system` recorded in the loaded data (events and
    /// prescriptions of each practice's current snapshot) that begin with one
    /// of `prefixes`.
    static func recordedCodes(system: CodeSystem, prefixes: [String], on connection: Connection) throws -> Set<String> {
        guard !prefixes.isEmpty else { return [] }
        let rows = try connection.query("""
            SELECT DISTINCT code FROM (
              SELECT code FROM current_events WHERE code_system = \(system.rawValue)
              UNION ALL
              SELECT code FROM current_prescriptions WHERE code_system = \(system.rawValue)
            ) AS recorded
            WHERE EXISTS (SELECT 1 FROM unnest(\(prefixes)::text[]) AS p(prefix) WHERE starts_with(recorded.code, p.prefix))
            """)
        return Set(rows.map { $0.string("code") })
    }
}
