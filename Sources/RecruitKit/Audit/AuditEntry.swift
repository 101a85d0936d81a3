import Foundation

/// One link of the audit chain: the JSON text fixed when the entry was
/// appended, and the hashes that chain it to the entry before.
///
/// `entryHash` is `hex(sha256(prevHash || entryText))` over the UTF-8 bytes;
/// the first entry's `prevHash` is ``genesisHash``. This is all an export
/// carries, and all an offline verification needs.
public struct AuditEntry: Sendable, Hashable, Codable {
    public var entryId: Int
    public var prevHash: String
    public var entryHash: String
    /// The entry's facts as JSON text: `entry_id`, `recorded_at`, `os_user`,
    /// `db_user`, `action`, `subjects`, `payload`.
    public var entryText: String

    /// The `prev_hash` of entry 1: 64 zeros.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// The keys every entry_text holds, and nothing else.
    public static let factKeys: Set<String> = ["entry_id", "recorded_at", "os_user", "db_user", "action", "subjects", "payload"]

    enum CodingKeys: String, CodingKey {
        case entryId = "entry_id", prevHash = "prev_hash", entryHash = "entry_hash", entryText = "entry_text"
    }

    public init(entryId: Int, prevHash: String, entryHash: String, entryText: String) {
        self.entryId = entryId
        self.prevHash = prevHash
        self.entryHash = entryHash
        self.entryText = entryText
    }

    /// `hex(sha256(prevHash || entryText))`: what `entryHash` must be.
    public var computedHash: String {
        var bytes = Data(prevHash.utf8)
        bytes.append(contentsOf: entryText.utf8)
        return Hashing.sha256Hex(bytes)
    }

    /// Parses one line of an export file; nil when it is not an entry.
    public init?(exportLine: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(exportLine.utf8)) as? [String: Any],
              let id = object["entry_id"] as? NSNumber, let entryId = Int(exactly: id.doubleValue), id.int64Value == Int64(entryId),
              let prevHash = object["prev_hash"] as? String, let entryHash = object["entry_hash"] as? String,
              let entryText = object["entry_text"] as? String else { return nil }
        self.init(entryId: entryId, prevHash: prevHash, entryHash: entryHash, entryText: entryText)
    }

    /// The entry as one line of an export file (JSON, sorted keys, no line end).
    public var exportLine: String {
        JSONValue.object(["entry_id": .int(entryId), "prev_hash": .string(prevHash),
                          "entry_hash": .string(entryHash), "entry_text": .string(entryText)]).text
    }
}
