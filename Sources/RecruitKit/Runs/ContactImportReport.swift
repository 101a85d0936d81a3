/// What a feedback or history import did.
public struct ContactImportReport: Sendable, Codable {
    public enum Status: String, Sendable, Codable {
        case imported
        /// The same file (same SHA-256) was imported before: nothing was done.
        case alreadyImported = "already_imported"
    }

    /// The earlier import of the same file.
    public struct Previous: Sendable, Codable, Hashable {
        public var importId: Int
        public var cohort: String
        public var rows: Int
        public var importedAt: String

        enum CodingKeys: String, CodingKey { case importId = "import_id", cohort, rows, importedAt = "imported_at" }
    }

    public var status: Status
    /// `feedback`, `history_invitations` or `history_screened_out` (contact_imports.kind).
    public var kind: String
    public var cohort: String?
    /// The file's name and SHA-256.
    public var file: String
    public var sha256: String
    public var importId: Int?
    /// Data rows recorded.
    public var rows: Int = 0
    /// Distinct practices in the file.
    public var practices: Int = 0
    /// The runs the feedback concerns.
    public var runIds: [Int] = []
    /// Rows per outcome (feedback, screened-out history).
    public var outcomes: [String: Int] = [:]
    /// Ineligible rows per reason (`not_recorded` when the reason was empty).
    public var ineligibleReasons: [String: Int] = [:]
    /// screened_out rows that came with a free-text reason: kept at the practice, never stored.
    public var screenedOutReasonsNotStored: Int = 0
    /// Rows per outcome and reason code (`reason_code`: stored and counted, unlike a free-text reason).
    public var reasonCodes: [String: [String: Int]] = [:]
    /// Rows per referral channel (`channel` other than `letter`).
    public var referrals: [String: Int] = [:]
    /// Lines of rows left empty (no outcome, date or reason: a pack's feedback.csv not filled in for them), skipped.
    public var skippedEmptyLines: [Int] = []
    /// The earliest and latest index date (history invitations).
    public var firstIndexDate: String?
    public var lastIndexDate: String?
    public var warnings: [String] = []
    /// The audit entry recording the import.
    public var auditEntryId: Int?
    public var previous: Previous?

    enum CodingKeys: String, CodingKey {
        case status, kind, cohort, file, sha256, importId = "import_id", rows, practices, runIds = "run_ids", outcomes
        case ineligibleReasons = "ineligible_reasons", screenedOutReasonsNotStored = "screened_out_reasons_not_stored"
        case skippedEmptyLines = "skipped_empty_lines", reasonCodes = "reason_codes", referrals
        case firstIndexDate = "first_index_date", lastIndexDate = "last_index_date", warnings
        case auditEntryId = "audit_entry_id", previous
    }

    init(status: Status, kind: String, cohort: String?, file: String, sha256: String) {
        self.status = status
        self.kind = kind
        self.cohort = cohort
        self.file = file
        self.sha256 = sha256
    }

    /// Human lines describing the result.
    public var summaryLines: [String] {
        if status == .alreadyImported, let p = previous {
            return ["\(file) was already imported (import #\(p.importId), \(p.rows) rows, \(p.importedAt), same SHA-256): nothing to do."]
        }
        var lines: [String] = []
        let what = kind == "feedback" ? "feedback" : kind == "history_invitations" ? "history invitations" : "history outcomes"
        lines.append("Imported \(rows) \(what) row\(rows == 1 ? "" : "s") from \(file) as import #\(importId ?? 0)"
                     + (cohort.map { " for cohort \($0)" } ?? "") + " (\(practices) practice\(practices == 1 ? "" : "s")).")
        if !runIds.isEmpty { lines.append("Runs: \(runIds.map(String.init).joined(separator: ", "))") }
        if !outcomes.isEmpty {
            lines.append("Outcomes: " + outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !ineligibleReasons.isEmpty {
            lines.append("Ineligible, by reason: " + ineligibleReasons.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        for (outcome, codes) in reasonCodes.sorted(by: { $0.key < $1.key }) {
            lines.append("Reason codes, \(outcome): " + codes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !referrals.isEmpty {
            lines.append("Referrals (rows by channel): " + referrals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if screenedOutReasonsNotStored > 0 {
            lines.append("\(screenedOutReasonsNotStored) screened-out reason\(screenedOutReasonsNotStored == 1 ? "" : "s") not stored (free text stays at the practice).")
        }
        if let first = firstIndexDate, let last = lastIndexDate { lines.append("Index dates: \(first) to \(last)") }
        for w in warnings { lines.append("warning: \(w)") }
        if let id = auditEntryId { lines.append("Audit entry \(id).") }
        return lines
    }
}
