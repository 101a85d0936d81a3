/// What `recruit audit export` wrote.
public struct AuditExport: Sendable, Codable {
    /// The export file (absolute path).
    public var file: String
    /// SHA-256 of the file.
    public var sha256: String
    /// Entries written (the whole chain, before the export's own entry).
    public var entries: Int
    /// The last entry written and its hash.
    public var headEntryId: Int?
    public var headHash: String?
    /// Whether the chain verified as it was exported (it is exported either way).
    public var chainVerified: Bool
    /// The first problem found while exporting, if any.
    public var firstProblem: AuditVerification.Problem?
    /// The audit entry that records this export.
    public var auditEntryId: Int

    enum CodingKeys: String, CodingKey {
        case file, sha256, entries, headEntryId = "head_entry_id", headHash = "head_hash"
        case chainVerified = "chain_verified", firstProblem = "first_problem", auditEntryId = "audit_entry_id"
    }
}
