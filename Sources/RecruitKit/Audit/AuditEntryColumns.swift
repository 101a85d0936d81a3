import Foundation

/// The queryable columns of an `audit_log` row, as text, to check against the
/// row's `entry_text` (an export has only entry_text, so only the database has these).
public struct AuditEntryColumns: Sendable, Hashable {
    /// `recorded_at` formatted as entry_text has it (UTC, milliseconds).
    public var recordedAt: String
    /// Whether `recorded_at` has a finer part than milliseconds (entry_text cannot).
    public var recordedAtHasSubMilliseconds: Bool
    public var osUser: String
    public var dbUser: String
    public var action: String
    /// `subjects::text` and `payload::text`.
    public var subjects: String
    public var payload: String

    public init(recordedAt: String, recordedAtHasSubMilliseconds: Bool = false, osUser: String, dbUser: String,
                action: String, subjects: String, payload: String) {
        self.recordedAt = recordedAt
        self.recordedAtHasSubMilliseconds = recordedAtHasSubMilliseconds
        self.osUser = osUser
        self.dbUser = dbUser
        self.action = action
        self.subjects = subjects
        self.payload = payload
    }

    /// The names of the columns whose value differs from `facts` (entry_text parsed).
    func disagreements(with facts: [String: JSONValue]) -> [String] {
        func json(_ text: String) -> JSONValue? { try? JSONValue.decode(text) }
        var out: [String] = []
        if facts["recorded_at"] != .string(recordedAt) || recordedAtHasSubMilliseconds { out.append("recorded_at") }
        if facts["os_user"] != .string(osUser) { out.append("os_user") }
        if facts["db_user"] != .string(dbUser) { out.append("db_user") }
        if facts["action"] != .string(action) { out.append("action") }
        if facts["subjects"] == nil || facts["subjects"] != json(subjects) { out.append("subjects") }
        if facts["payload"] == nil || facts["payload"] != json(payload) { out.append("payload") }
        return out
    }
}
