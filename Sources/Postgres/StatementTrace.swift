import Foundation

/// Records the text of every statement sent to the server, for the tests that
/// check no value is ever spliced into SQL.
///
/// Off unless the environment variable `RECRUIT_SQL_TRACE` names a file: each
/// statement's text (with `$n` placeholders, quoted identifiers and COPY
/// statements; bound values and COPY data are never part of it) is appended
/// to the file, followed by a NUL byte. The injection tests run commands with
/// hostile names and check that the names appear in no statement text except
/// inside a quoted identifier.
enum StatementTrace {
    private static let descriptor: Int32 = {
        guard let path = ProcessInfo.processInfo.environment["RECRUIT_SQL_TRACE"], !path.isEmpty else { return -1 }
        return open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
    }()

    static func record(_ text: String) {
        guard descriptor >= 0 else { return }
        var bytes = Array(text.utf8)
        bytes.append(0)
        // One write per statement: O_APPEND keeps concurrent writers' statements whole.
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}
