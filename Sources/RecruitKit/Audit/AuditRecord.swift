import Postgres

/// An audit entry as `recruit audit show` lists it.
public struct AuditRecord: Sendable, Codable, Hashable {
    public var entryId: Int
    /// UTC, milliseconds (as entry_text has it).
    public var recordedAt: String
    public var osUser: String
    public var dbUser: String
    public var action: String
    public var subjects: JSONValue
    public var payload: JSONValue
    public var entryHash: String

    enum CodingKeys: String, CodingKey {
        case entryId = "entry_id", recordedAt = "recorded_at", osUser = "os_user", dbUser = "db_user"
        case action, subjects, payload, entryHash = "entry_hash"
    }

    init(row: QueryResult.Row) {
        entryId = row.int("entry_id") ?? 0
        recordedAt = row.string("recorded_at")
        osUser = row.string("os_user")
        dbUser = row.string("db_user")
        action = row.string("action")
        subjects = (try? JSONValue.decode(row.string("subjects"))) ?? [:]
        payload = (try? JSONValue.decode(row.string("payload"))) ?? [:]
        entryHash = row.string("entry_hash")
    }
}
