import CLibPQ

/// An error from PostgreSQL or from libpq.
///
/// Carries what the server said (SQLSTATE, message, detail, hint, the
/// statement and the position in it) so callers can decide what to do.
///
/// - Important: ``description`` never contains `detail` or the server's
///   context, which can quote row values (for example the key of a unique
///   violation or the bad field of a COPY row). It holds the primary message,
///   the SQLSTATE and, for COPY, the line number only.
public struct PostgresError: Error, CustomStringConvertible, CustomDebugStringConvertible, Sendable {
    /// What kind of failure this is. Extensible: new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String, Sendable {
            case connectionFailed, server, copyFailed, connectionClosed, unexpectedResult, invalidArgument
        }
        let base: Base
        public var description: String { base.rawValue }
        /// The connection could not be opened (host or socket, authentication, database).
        public static let connectionFailed = Code(base: .connectionFailed)
        /// The server rejected a statement; see ``PostgresError/sqlState``.
        public static let server = Code(base: .server)
        /// A COPY failed, on the server or because the caller aborted it.
        public static let copyFailed = Code(base: .copyFailed)
        /// The connection was closed or lost.
        public static let connectionClosed = Code(base: .connectionClosed)
        /// libpq returned something this layer did not expect.
        public static let unexpectedResult = Code(base: .unexpectedResult)
        /// The caller passed something this layer cannot send.
        public static let invalidArgument = Code(base: .invalidArgument)
    }

    public var code: Code
    /// The five-character SQLSTATE, when the server sent one (`42601`, `23505`, …).
    public var sqlState: String?
    /// The server's (or libpq's) primary message.
    public var message: String
    /// The server's detail. May quote values: never logged by this layer.
    public var detail: String?
    public var hint: String?
    /// 1-based character position of the error in ``statement``.
    public var position: Int?
    /// The server's context line (for COPY: table, line and column). May quote values.
    public var context: String?
    /// For a failed COPY: the line of the COPY data the server rejected.
    public var copyLine: Int?
    /// The SQL text sent (with `$n` placeholders; bound values are never part of it).
    public var statement: String?
    /// The error the caller threw to abort a COPY, if that is what ended it.
    public var underlying: (any Error)?

    public init(code: Code, message: String, sqlState: String? = nil, statement: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.statement = statement
    }

    public var description: String {
        var s = message
        if let sqlState { s += " (SQLSTATE \(sqlState)" + (position.map { ", at character \($0)" } ?? "") + ")" }
        if let copyLine { s += " [COPY data line \(copyLine)]" }
        if let hint { s += ". Hint: \(hint)" }
        return s
    }

    public var debugDescription: String {
        var s = "PostgresError(\(code)): \(description)"
        if let detail { s += "\nDETAIL: \(detail)" }
        if let context { s += "\nCONTEXT: \(context)" }
        if let statement { s += "\nSTATEMENT: \(statement)" }
        return s
    }

    /// Builds an error from a failed `PGresult`, reading its error fields.
    static func from(result: OpaquePointer, connection: OpaquePointer?, statement: String?, code: Code = .server) -> PostgresError {
        func field(_ f: Int32) -> String? {
            guard let p = PQresultErrorField(result, f) else { return nil }
            return String(cString: p)
        }
        let primary = field(Int32(UInt8(ascii: "M"))) ?? libpqMessage(connection) ?? "unknown error"
        var error = PostgresError(code: code, message: primary, sqlState: field(Int32(UInt8(ascii: "C"))), statement: statement)
        error.detail = field(Int32(UInt8(ascii: "D")))
        error.hint = field(Int32(UInt8(ascii: "H")))
        error.position = field(Int32(UInt8(ascii: "P"))).flatMap { Int($0) }
        error.context = field(Int32(UInt8(ascii: "W")))
        if let context = error.context { error.copyLine = Self.copyLine(in: context) }
        if error.sqlState == nil, PQstatus(connection) != CONNECTION_OK { error.code = .connectionClosed }
        return error
    }

    /// The line number in a COPY context such as `COPY t, line 3, column d: "…"`.
    static func copyLine(in context: String) -> Int? {
        guard let range = context.range(of: ", line ") else { return nil }
        let digits = context[range.upperBound...].prefix { $0.isNumber }
        return Int(digits)
    }

    static func libpqMessage(_ connection: OpaquePointer?) -> String? {
        guard let connection, let p = PQerrorMessage(connection) else { return nil }
        let s = String(cString: p).trimmingCharacters(in: .whitespacesAndNewlines)
        return s.isEmpty ? nil : s
    }
}

import Foundation
