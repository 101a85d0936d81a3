import CLibPQ
import Foundation

/// A connection to PostgreSQL through libpq.
///
/// Open one with a libpq connection string or URI; an empty string uses the
/// standard libpq environment (`PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`,
/// `PGPASSWORD`, `PGSERVICE`, `PGPASSFILE`, `PGSSLMODE`, …) exactly as `psql`
/// does, because libpq reads it itself.
///
/// Every statement is sent with `PQexecParams`: values are bound parameters,
/// never text pasted into SQL (see ``SQL``).
///
/// - Important: A connection is not `Sendable`: use it from one thread at a
///   time, and open one connection per thread for parallel work.
public final class Connection {
    /// The libpq handle; nil once closed.
    private var handle: OpaquePointer?
    /// Where the connection went (host or socket directory, port, database, user), for messages.
    public let target: String
    private var inTransaction = false

    /// Opens a connection.
    ///
    /// - Parameters:
    ///   - conninfo: a libpq connection string (`host=… dbname=…`) or URI
    ///     (`postgresql://…`); empty to use the libpq environment only.
    ///   - applicationName: shown in `pg_stat_activity`.
    /// - Throws: ``PostgresError`` with code `.connectionFailed`, whose message
    ///   is libpq's: it names the host or socket tried and why it failed.
    public init(conninfo: String = "", applicationName: String = "recruit") throws {
        // PQconnectdbParams with expand_dbname=1 treats the dbname value as a
        // full connection string or URI; fields it leaves out fall back to the
        // environment and then libpq's defaults.
        let keywords = ["dbname", "fallback_application_name", "client_encoding"]
        let values = [conninfo, applicationName, "UTF8"]
        let conn: OpaquePointer? = withCStrings(keywords) { kw in
            withCStrings(values) { vals in
                if conninfo.isEmpty {
                    // Skip the dbname entry so PGDATABASE applies.
                    return PQconnectdbParams(Array(kw.dropFirst()) + [nil], Array(vals.dropFirst()) + [nil], 0)
                }
                return PQconnectdbParams(kw + [nil], vals + [nil], 1)
            }
        }
        // "Note that these functions will always return a non-null object
        // pointer, unless perhaps there is too little memory even to allocate
        // the PGconn object." The handle must be freed with PQfinish even when
        // the connection failed.
        guard let conn else {
            throw PostgresError(code: .connectionFailed, message: "out of memory allocating a libpq connection")
        }
        if PQstatus(conn) != CONNECTION_OK {
            let message = PostgresError.libpqMessage(conn) ?? "connection failed"
            PQfinish(conn)
            throw PostgresError(code: .connectionFailed, message: message)
        }
        handle = conn
        let host = PQhost(conn).map { String(cString: $0) } ?? "?"
        let port = PQport(conn).map { String(cString: $0) } ?? "?"
        let db = PQdb(conn).map { String(cString: $0) } ?? "?"
        let user = PQuser(conn).map { String(cString: $0) } ?? "?"
        target = host.hasPrefix("/") ? "socket \(host) port \(port), database \(db), user \(user)"
            : "\(host):\(port), database \(db), user \(user)"
        // Notices (NOTICE, WARNING below client_min_messages) would otherwise
        // be printed to stderr by libpq's default processor; they can quote values.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    deinit {
        // Deterministic release: callers close explicitly; this only catches
        // a forgotten close on an error path.
        if let handle { PQfinish(handle) }
    }

    /// Closes the connection. Safe to call twice.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    public var isOpen: Bool { handle != nil && PQstatus(handle) == CONNECTION_OK }

    /// The server's version number (for example 150018).
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    func requireHandle(_ statement: String? = nil) throws -> OpaquePointer {
        guard let handle else {
            throw PostgresError(code: .connectionClosed, message: "the connection is closed", statement: statement)
        }
        return handle
    }

    /// Quotes an identifier with `PQescapeIdentifier`.
    public func quoteIdentifier(_ name: String) -> String {
        guard let handle, let p = PQescapeIdentifier(handle, name, name.utf8.count) else {
            return SQL.quoteIdentifier(name)
        }
        defer { PQfreemem(p) }
        return String(cString: p)
    }

    /// Renders a statement's text for this connection.
    public func render(_ sql: SQL) -> String {
        let text = sql.render(quote: quoteIdentifier)
        StatementTrace.record(text)
        statementObserver?(text)
        return text
    }

    /// Called with the text of every statement this connection sends (with
    /// `$n` placeholders, never bound values): for tests that check no value
    /// is spliced into SQL. See also `RECRUIT_SQL_TRACE` (``StatementTrace``).
    public var statementObserver: ((String) -> Void)?

    /// Runs a statement and returns its rows.
    ///
    /// - Throws: ``PostgresError`` carrying SQLSTATE, message, detail, hint,
    ///   position and the statement text.
    @discardableResult
    public func query(_ sql: SQL) throws -> QueryResult {
        let text = render(sql)
        let conn = try requireHandle(text)
        let binds = sql.binds
        let result: OpaquePointer? = withCStrings(binds.map(\.text)) { values in
            let types = binds.map { Oid($0.oid) }
            return PQexecParams(conn, text, Int32(binds.count), types, values, nil, nil, 0)
        }
        guard let result else {
            throw PostgresError(code: .connectionClosed, message: PostgresError.libpqMessage(conn) ?? "no result", statement: text)
        }
        defer { PQclear(result) }
        return try Self.collect(result, conn: conn, statement: text)
    }

    /// Runs a statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: SQL) throws -> Int {
        try query(sql).affectedRows
    }

    /// Runs a script of several statements with the simple query protocol.
    ///
    /// Only for SQL that ships with the program (migrations): it takes no
    /// parameters and must never be given user input.
    public func executeScript(unsafeSQL script: String) throws {
        let conn = try requireHandle(script)
        StatementTrace.record(script)
        statementObserver?(script)
        guard let result = PQexec(conn, script) else {
            throw PostgresError(code: .connectionClosed, message: PostgresError.libpqMessage(conn) ?? "no result", statement: script)
        }
        defer { PQclear(result) }
        _ = try Self.collect(result, conn: conn, statement: script)
    }

    static func collect(_ result: OpaquePointer, conn: OpaquePointer, statement: String) throws -> QueryResult {
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return QueryResult(columns: [], rows: [], affectedRows: affected(result))
        case PGRES_TUPLES_OK:
            let nFields = Int(PQnfields(result))
            let nRows = Int(PQntuples(result))
            let columns = (0..<nFields).map { String(cString: PQfname(result, Int32($0))) }
            var rows: [QueryResult.Row] = []
            rows.reserveCapacity(nRows)
            for r in 0..<nRows {
                var values: [String?] = []
                values.reserveCapacity(nFields)
                for c in 0..<nFields {
                    if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                        values.append(nil)
                    } else {
                        values.append(String(cString: PQgetvalue(result, Int32(r), Int32(c))))
                    }
                }
                rows.append(QueryResult.Row(values: values, columns: columns))
            }
            return QueryResult(columns: columns, rows: rows, affectedRows: nRows)
        default:
            throw PostgresError.from(result: result, connection: conn, statement: statement)
        }
    }

    static func affected(_ result: OpaquePointer) -> Int {
        guard let p = PQcmdTuples(result) else { return 0 }
        return Int(String(cString: p)) ?? 0
    }

    // MARK: Transactions

    /// The isolation level of a transaction.
    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    ///
    /// - Parameters:
    ///   - isolation: the isolation level (default READ COMMITTED).
    ///   - readOnly: start a READ ONLY transaction.
    /// - Returns: what `body` returns.
    /// - Throws: the error `body` threw (after the rollback), or a
    ///   ``PostgresError`` from BEGIN or COMMIT.
    @discardableResult
    public func transaction<T>(isolation: IsolationLevel = .readCommitted, readOnly: Bool = false,
                               _ body: () throws -> T) throws -> T {
        precondition(!inTransaction, "nested transactions are not supported")
        try executeScript(unsafeSQL: "BEGIN ISOLATION LEVEL \(isolation.rawValue)" + (readOnly ? " READ ONLY" : ""))
        inTransaction = true
        defer { inTransaction = false }
        let value: T
        do {
            value = try body()
        } catch {
            // A rollback on a broken connection fails too; the original error matters more.
            try? executeScript(unsafeSQL: "ROLLBACK")
            throw error
        }
        try executeScript(unsafeSQL: "COMMIT")
        return value
    }

    // MARK: Advisory locks

    /// Takes a session-level advisory lock named by `key`, waiting for it.
    ///
    /// The key is hashed by the server (`hashtextextended`), so any text names a lock.
    public func advisoryLock(_ key: String) throws {
        try execute("SELECT pg_advisory_lock(hashtextextended(\(key), 0))")
    }

    /// Tries to take a session-level advisory lock; returns false when another session holds it.
    public func tryAdvisoryLock(_ key: String) throws -> Bool {
        try query("SELECT pg_try_advisory_lock(hashtextextended(\(key), 0)) AS ok")[0].bool("ok") ?? false
    }

    /// Releases a session-level advisory lock taken by this session.
    public func advisoryUnlock(_ key: String) throws {
        try execute("SELECT pg_advisory_unlock(hashtextextended(\(key), 0))")
    }

    /// The backend process id of this session (for lock-holder messages).
    public var backendPID: Int { Int(PQbackendPID(handle)) }
}

/// Unavailable: a connection must stay on one thread at a time.
@available(*, unavailable)
extension Connection: Sendable {}

/// Calls `body` with C strings for `strings` (nil entries stay NULL), valid
/// for the duration of the call.
func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var owned: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    defer { for p in owned { free(p) } }
    return body(owned.map { $0.map { UnsafePointer($0) } })
}
