import CLibPQ
import Foundation

extension Connection {
    /// Sends a COPY statement and checks that the server entered the copy
    /// state `expected`; returns the handle and the statement's text.
    private func startCopy(_ sql: SQL, expecting expected: ExecStatusType, _ what: String) throws -> (OpaquePointer, String) {
        precondition(sql.binds.isEmpty, "COPY statements cannot take bound parameters")
        let text = render(sql)
        let conn = try requireHandle(text)
        guard let start = PQexec(conn, text) else {
            throw PostgresError(code: .connectionClosed, message: PostgresError.libpqMessage(conn) ?? "no result", statement: text)
        }
        defer { PQclear(start) }
        let status = PQresultStatus(start)
        guard status == expected else {
            if status == PGRES_FATAL_ERROR { throw PostgresError.from(result: start, connection: conn, statement: text) }
            throw PostgresError(code: .unexpectedResult, message: "statement did not start \(what)", statement: text)
        }
        return (conn, text)
    }

    /// Streams data into a `COPY … FROM STDIN` statement.
    ///
    /// `body` is given a writer and sends the data in chunks of any size; the
    /// rows must be in the format the COPY statement names. When `body`
    /// returns, the copy is ended and the server's verdict is read; when it
    /// throws, the copy is aborted (`PQputCopyEnd` with an error message, so
    /// the server discards everything sent) and the error is rethrown.
    ///
    /// - Parameters:
    ///   - sql: the COPY statement (identifiers only; COPY takes no parameters).
    ///   - body: writes the data.
    /// - Returns: the number of rows the server copied.
    /// - Throws: ``PostgresError`` with code `.copyFailed` and the server's
    ///   SQLSTATE, message and the COPY data line it rejected; or `body`'s error.
    @discardableResult
    public func copyIn(_ sql: SQL, _ body: (CopyInWriter) throws -> Void) throws -> Int {
        let (conn, text) = try startCopy(sql, expecting: PGRES_COPY_IN, "COPY FROM STDIN")
        let writer = CopyInWriter(conn: conn, statement: text)
        do {
            try body(writer)
            try writer.flush()
        } catch {
            // "If errormsg is not NULL then the COPY is forced to fail, with
            // the string pointed to by errormsg used as the error message."
            _ = PQputCopyEnd(conn, "COPY aborted by the client")
            drainResults(conn)
            throw error
        }
        // "Ends the COPY_IN operation successfully if errormsg is NULL."
        guard PQputCopyEnd(conn, nil) == 1 else {
            throw PostgresError(code: .copyFailed, message: PostgresError.libpqMessage(conn) ?? "could not end COPY", statement: text)
        }
        return try finishCommand(conn, statement: text, code: .copyFailed)
    }

    /// Streams the output of a `COPY … TO STDOUT` statement to `body`, a row at a time.
    ///
    /// - Returns: the number of rows copied.
    @discardableResult
    public func copyOut(_ sql: SQL, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let (conn, text) = try startCopy(sql, expecting: PGRES_COPY_OUT, "COPY TO STDOUT")
        var failure: (any Error)?
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            // "Returns the length of the row (> 0); -1 when the COPY is done; -2 on error."
            let n = PQgetCopyData(conn, &buffer, 0)
            if n > 0, let buffer {
                defer { PQfreemem(buffer) }
                if failure == nil {
                    do { try body(UnsafeRawBufferPointer(start: buffer, count: Int(n))) } catch { failure = error }
                }
            } else if n == -1 {
                break
            } else {
                throw PostgresError(code: .copyFailed, message: PostgresError.libpqMessage(conn) ?? "COPY failed", statement: text)
            }
        }
        let rows = try finishCommand(conn, statement: text, code: .copyFailed)
        if let failure { throw failure }
        return rows
    }

    /// Reads results until libpq has none left; returns the first one's row count or throws its error.
    func finishCommand(_ conn: OpaquePointer, statement: String, code: PostgresError.Code) throws -> Int {
        var rows = 0
        var error: PostgresError?
        while let result = PQgetResult(conn) {
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
                rows = Connection.affected(result)
            default:
                if error == nil { error = PostgresError.from(result: result, connection: conn, statement: statement, code: code) }
            }
        }
        if let error { throw error }
        return rows
    }

    func drainResults(_ conn: OpaquePointer) {
        while let result = PQgetResult(conn) { PQclear(result) }
    }
}

/// Sends COPY data in chunks; given to the body of ``Connection/copyIn(_:_:)``.
///
/// Small writes are gathered into a 256 KiB buffer before `PQputCopyData`.
public final class CopyInWriter {
    private let conn: OpaquePointer
    private let statement: String
    private var buffer: [UInt8] = []
    private let capacity = 1 << 18

    init(conn: OpaquePointer, statement: String) {
        self.conn = conn
        self.statement = statement
        buffer.reserveCapacity(capacity)
    }

    /// Appends bytes to the COPY stream.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > capacity { try flush() }
        if bytes.count >= capacity {
            try put(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Sends what is buffered.
    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try put($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func put(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        // "The result is 1 if the data was queued, zero if it was not queued
        // because of full buffers (this will only happen in nonblocking mode),
        // or -1 if an error occurred."
        let rc = PQputCopyData(conn, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        if rc != 1 {
            throw PostgresError(code: .copyFailed, message: PostgresError.libpqMessage(conn) ?? "could not send COPY data", statement: statement)
        }
    }
}

@available(*, unavailable)
extension CopyInWriter: Sendable {}
