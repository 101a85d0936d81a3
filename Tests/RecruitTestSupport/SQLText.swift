import Foundation

/// Reads SQL text the way the server's lexer does, to tell where a string
/// occurs in a statement: in a quoted identifier (safe: that is how dynamic
/// table and schema names must travel), or anywhere else (a string literal,
/// a comment, bare code: a value spliced into SQL).
///
/// Used by the injection tests with statements recorded by
/// `Connection.statementObserver` or `RECRUIT_SQL_TRACE`.
public enum SQLText {
    public enum Context: String, Sendable {
        case code, stringLiteral, quotedIdentifier, comment, dollarQuoted
    }

    /// The lexical context of every byte of `sql`.
    public static func contexts(_ sql: String) -> [Context] {
        let b = Array(sql.utf8)
        var out = [Context](repeating: .code, count: b.count)
        var i = 0
        func mark(_ from: Int, _ to: Int, _ c: Context) { for k in from..<min(to, b.count) { out[k] = c } }
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "'") {
                // E'...' strings take backslash escapes.
                let escapes = i > 0 && (b[i - 1] == UInt8(ascii: "E") || b[i - 1] == UInt8(ascii: "e"))
                    && (i < 2 || !isIdentifierByte(b[i - 2]))
                var j = i + 1
                while j < b.count {
                    if escapes && b[j] == UInt8(ascii: "\\") { j += 2; continue }
                    if b[j] == UInt8(ascii: "'") {
                        if j + 1 < b.count && b[j + 1] == UInt8(ascii: "'") { j += 2; continue }
                        break
                    }
                    j += 1
                }
                mark(i, j + 1, .stringLiteral)
                i = j + 1
            } else if c == UInt8(ascii: "\"") {
                var j = i + 1
                while j < b.count {
                    if b[j] == UInt8(ascii: "\"") {
                        if j + 1 < b.count && b[j + 1] == UInt8(ascii: "\"") { j += 2; continue }
                        break
                    }
                    j += 1
                }
                mark(i, j + 1, .quotedIdentifier)
                i = j + 1
            } else if c == UInt8(ascii: "-") && i + 1 < b.count && b[i + 1] == UInt8(ascii: "-") {
                var j = i
                while j < b.count && b[j] != UInt8(ascii: "\n") { j += 1 }
                mark(i, j, .comment)
                i = j
            } else if c == UInt8(ascii: "/") && i + 1 < b.count && b[i + 1] == UInt8(ascii: "*") {
                var depth = 1
                var j = i + 2
                while j < b.count && depth > 0 {
                    if b[j] == UInt8(ascii: "/") && j + 1 < b.count && b[j + 1] == UInt8(ascii: "*") { depth += 1; j += 2; continue }
                    if b[j] == UInt8(ascii: "*") && j + 1 < b.count && b[j + 1] == UInt8(ascii: "/") { depth -= 1; j += 2; continue }
                    j += 1
                }
                mark(i, j, .comment)
                i = j
            } else if c == UInt8(ascii: "$") && (i == 0 || !isIdentifierByte(b[i - 1])) {
                // $tag$ ... $tag$ (a $1 placeholder is not a dollar quote).
                var j = i + 1
                while j < b.count && isIdentifierByte(b[j]) && !(j == i + 1 && isDigit(b[j])) { j += 1 }
                if j < b.count && b[j] == UInt8(ascii: "$") {
                    let tag = Array(b[i...j])
                    var k = j + 1
                    var end = b.count
                    while k + tag.count <= b.count {
                        if Array(b[k..<(k + tag.count)]) == tag { end = k + tag.count; break }
                        k += 1
                    }
                    mark(i, end, .dollarQuoted)
                    i = end
                } else {
                    i += 1
                }
            } else {
                i += 1
            }
        }
        return out
    }

    /// Where `marker` occurs in `sql`: the context of each occurrence.
    public static func occurrences(of marker: String, in sql: String) -> [Context] {
        let b = Array(sql.utf8)
        let m = Array(marker.utf8)
        guard !m.isEmpty, b.count >= m.count else { return [] }
        let contexts = contexts(sql)
        var out: [Context] = []
        var i = 0
        while i + m.count <= b.count {
            if b[i] == m[0] && Array(b[i..<(i + m.count)]) == m {
                // An occurrence is safe only when all of it is inside one quoted identifier.
                let inside = (i..<(i + m.count)).allSatisfy { contexts[$0] == .quotedIdentifier }
                out.append(inside ? .quotedIdentifier : contexts[i] == .quotedIdentifier ? .code : contexts[i])
                i += m.count
            } else {
                i += 1
            }
        }
        return out
    }

    /// The statements in which `marker` occurs other than inside a quoted identifier.
    public static func spliced(_ marker: String, in statements: [String]) -> [String] {
        statements.filter { s in occurrences(of: marker, in: s).contains { $0 != .quotedIdentifier } }
    }

    static func isIdentifierByte(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || isDigit(c) || c == UInt8(ascii: "_") || c >= 0x80
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
}

/// Statements recorded from a connection (in-process) or a trace file (commands).
public final class StatementLog: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [String] = []
    /// The trace file commands write to (pass ``environment`` to `RecruitCLI.run`).
    public let traceFile: URL

    public init() {
        traceFile = FileManager.default.temporaryDirectory.appendingPathComponent("recruit-sql-trace-\(UUID().uuidString).log")
    }

    /// The environment that makes a `recruit` command record its statements here.
    public var environment: [String: String] { ["RECRUIT_SQL_TRACE": traceFile.path] }

    public func record(_ text: String) {
        lock.lock()
        recorded.append(text)
        lock.unlock()
    }

    /// Every statement recorded in-process and by commands.
    public var statements: [String] {
        lock.lock()
        defer { lock.unlock() }
        let traced = (try? Data(contentsOf: traceFile)).map { data in
            data.split(separator: 0, omittingEmptySubsequences: true).map { String(decoding: $0, as: UTF8.self) }
        } ?? []
        return recorded + traced
    }

    deinit { try? FileManager.default.removeItem(at: traceFile) }
}
