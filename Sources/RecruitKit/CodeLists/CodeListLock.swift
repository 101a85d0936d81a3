import Foundation

/// The lock of a code-list library, `codelists.lock`: the SHA-256 of every
/// list file and of the manifest, written by the tool, checked on every use.
///
/// The format is `sha256sum`'s (`HASH  FILE`, one line per file, sorted by
/// file name), so `sha256sum -c codelists.lock` verifies it too.
public struct CodeListLock: Sendable, Equatable {
    public static let fileName = "codelists.lock"

    /// SHA-256 by file name.
    public var hashes: [String: String]
    /// The line each file is on (for messages); empty for a lock built in memory.
    public var lines: [String: Int]

    public init(hashes: [String: String] = [:]) {
        self.hashes = hashes
        self.lines = [:]
    }

    /// Parses a lock, reporting malformed and repeated lines.
    public static func parse(_ text: String) -> (CodeListLock, [CodeListProblem]) {
        var lock = CodeListLock()
        var problems: [CodeListProblem] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.isEmpty { continue }
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 64, parts[0].allSatisfy(\.isHexDigit),
                  parts[1].hasPrefix(" ") || parts[1].hasPrefix("*") else {
                problems.append(CodeListProblem(file: fileName, line: i + 1, "expected \"SHA256  FILE\" (two spaces between)"))
                continue
            }
            let file = String(parts[1].dropFirst())
            if lock.hashes[file] != nil {
                problems.append(CodeListProblem(file: fileName, line: i + 1, "\(file) is locked twice"))
                continue
            }
            lock.hashes[file] = parts[0].lowercased()
            lock.lines[file] = i + 1
        }
        return (lock, problems)
    }

    /// The lock's text.
    public var text: String {
        hashes.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { "\(hashes[$0]!)  \($0)\n" }.joined()
    }
}
