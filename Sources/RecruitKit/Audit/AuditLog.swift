import Foundation
import Postgres

/// The tamper-evident audit trail (`audit_log`, sql/0002_audit.sql).
///
/// Every load, stored code-list version, cohort definition, run, issue,
/// supersede, feedback import and export appends one entry. Entries are written
/// only through the database function `audit_append`, which hash-chains them.
/// Payloads name patients only by pseudonymised id, and only where the action
/// concerns them.
public enum AuditLog {
    /// Appends one entry on `connection` (inside the caller's transaction, if any:
    /// the entry then commits or rolls back with the work it records; append last,
    /// as the chain is locked until the transaction ends).
    ///
    /// - Returns: the new entry's id.
    @discardableResult
    public static func append(on connection: Connection, action: String,
                              subjects: [String: JSONValue] = [:], payload: JSONValue = [:]) throws -> Int {
        let result = try connection.query("""
            SELECT audit_append(\(ToolInfo.osUser), \(action), \(JSONB(JSONValue.object(subjects).text)), \(JSONB(payload.text))) AS entry_id
            """)
        guard let id = result.rows.first?.int("entry_id") else {
            throw PostgresError(code: .unexpectedResult, message: "audit_append returned no entry id")
        }
        return id
    }
}

/// Facts about the running tool that records carry.
public enum ToolInfo {
    /// The tool's version and the commit it was built from, e.g. "0.1.0 (commit abc123)".
    public static var version: String { BuildInfo.versionString }

    /// The operating-system user running the tool.
    public static var osUser: String {
        let env = ProcessInfo.processInfo.environment
        if let user = env["USER"] ?? env["LOGNAME"], !user.isEmpty { return user }
        if let pw = getpwuid(getuid()), let name = pw.pointee.pw_name { return String(cString: name) }
        return "uid:\(getuid())"
    }
}
