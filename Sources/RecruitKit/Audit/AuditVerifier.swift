import Foundation

/// Checks an audit chain one entry at a time, in entry order.
///
/// The same checks run on the database (``AuditTrail/verify(anchor:)``) and
/// on an export file (``AuditExportFile/verify(_:anchor:)``):
/// - the ids run 1, 2, 3, … without gaps (a gap is a deleted entry);
/// - each `prev_hash` is the `entry_hash` of the entry before (64 zeros for
///   entry 1): an entry altered and re-hashed breaks the next link;
/// - each `entry_hash` is `sha256(prev_hash || entry_text)`: an altered
///   entry_text breaks its own hash;
/// - each `entry_text` is a JSON object of the entry's facts naming its own id;
/// - in the database, each column agrees with `entry_text` (checked in SQL);
/// - with an anchor (an earlier export), every anchored entry is still there,
///   unchanged: a chain rewritten from some entry on, hashes and all, differs
///   from the anchor there.
///
/// Every entry is checked against its stored neighbours, so one altered entry
/// is reported once, not as a cascade.
public struct AuditVerifier {
    /// How many problems a result keeps (all are counted).
    public static let keptProblems = 20

    private let source: String
    private var anchor: [Int: String]
    private let anchorCount: Int?
    private var lastId: Int?
    private var lastHash = AuditEntry.genesisHash
    private var entries = 0
    private var verified = 0
    private var problemCount = 0
    private var problems: [AuditVerification.Problem] = []

    /// - Parameters:
    ///   - source: what is verified, for the report.
    ///   - anchor: entry id → entry_hash of an earlier export the chain must still contain.
    public init(source: String, anchor: [Int: String]? = nil) {
        self.source = source
        self.anchor = anchor ?? [:]
        self.anchorCount = anchor?.count
    }

    /// What was found about one entry on its own: its text, its hash, its columns.
    public struct Findings: Sendable, Hashable {
        /// Why entry_text is not the entry's facts, or nil.
        public var textProblem: String?
        /// Whether entry_hash is sha256(prev_hash || entry_text).
        public var hashMatches: Bool
        /// The columns (database only) that differ from entry_text.
        public var differingColumns: [String]

        public init(textProblem: String?, hashMatches: Bool, differingColumns: [String] = []) {
            self.textProblem = textProblem
            self.hashMatches = hashMatches
            self.differingColumns = differingColumns
        }

        static let notAnObject = "entry_text is not a JSON object"
        static let otherId = "entry_text names another entry id"
        static let wrongFields = "entry_text does not hold exactly the fields \(AuditEntry.factKeys.sorted().joined(separator: ", "))"

        /// Checks an entry's text and hash here (export files: no columns).
        public init(_ entry: AuditEntry) {
            hashMatches = entry.computedHash == entry.entryHash
            differingColumns = []
            let parsed = try? JSONSerialization.jsonObject(with: Data(entry.entryText.utf8), options: [.fragmentsAllowed])
            if let facts = parsed as? [String: Any] {
                if (facts["entry_id"] as? NSNumber).map({ $0.int64Value == Int64(entry.entryId) && $0.doubleValue == Double(entry.entryId) }) != true {
                    textProblem = Self.otherId
                } else if Set(facts.keys) != AuditEntry.factKeys {
                    textProblem = Self.wrongFields
                } else {
                    textProblem = nil
                }
            } else {
                textProblem = Self.notAnObject
            }
        }
    }

    /// Checks the next entry, computing its findings here (export files).
    ///
    /// - Parameters:
    ///   - entry: the chain fields.
    ///   - line: the export file's line, for the report.
    public mutating func check(_ entry: AuditEntry, line: Int? = nil) {
        check(entry, findings: Findings(entry), line: line)
    }

    /// Checks the next entry, given what was found about it on its own (the
    /// database computes the findings of its rows in SQL).
    public mutating func check(_ entry: AuditEntry, findings: Findings, line: Int? = nil) {
        entries += 1
        var kinds: [AuditVerification.Kind] = []
        var messages: [String] = []
        func fail(_ kind: AuditVerification.Kind, _ message: String) {
            kinds.append(kind)
            messages.append(message)
        }

        if let problem = findings.textProblem { fail(.entryTextInvalid, problem) }
        var linked = true
        if let lastId {
            if entry.entryId <= lastId {
                fail(.outOfOrder, "entry \(entry.entryId) comes after entry \(lastId)")
                linked = false
            } else if entry.entryId != lastId + 1 {
                fail(.gap, Self.missing(from: lastId + 1, to: entry.entryId - 1) + " missing before it")
                linked = false
            }
        } else if entry.entryId != 1 {
            fail(.gap, Self.missing(from: 1, to: entry.entryId - 1) + " missing: the chain starts at entry \(entry.entryId)")
            linked = false
        }
        if linked && entry.prevHash != lastHash {
            fail(.prevHashMismatch, lastId.map {
                "prev_hash is not the entry_hash of entry \($0) (entry \($0) was altered and re-hashed, or this link was)"
            } ?? "prev_hash of the first entry is not 64 zeros")
        }
        if !findings.hashMatches {
            fail(.hashMismatch, "entry_hash is not sha256(prev_hash || entry_text): the entry was altered")
        }
        let differing = findings.differingColumns
        if !differing.isEmpty {
            fail(.columnsDisagree, "column\(differing.count == 1 ? "" : "s") \(differing.joined(separator: ", ")) "
                 + "\(differing.count == 1 ? "differs" : "differ") from entry_text: the row was altered")
        }
        if let anchored = anchor.removeValue(forKey: entry.entryId), anchored != entry.entryHash {
            fail(.anchorMismatch, "entry_hash differs from the anchor export's (the chain was rewritten from here or before)")
        }

        if kinds.isEmpty {
            if problemCount == 0 { verified += 1 }
        } else {
            record(AuditVerification.Problem(entryId: entry.entryId, line: line, kinds: kinds,
                                             message: messages.joined(separator: "; ")))
        }
        if lastId.map({ entry.entryId > $0 }) ?? true { lastId = entry.entryId }
        lastHash = entry.entryHash
    }

    /// Records a line of an export file that is not an entry.
    public mutating func malformed(line: Int, _ message: String) {
        record(AuditVerification.Problem(entryId: nil, line: line, kinds: [.malformedLine], message: message))
    }

    private mutating func record(_ problem: AuditVerification.Problem) {
        problemCount += 1
        if problems.count < Self.keptProblems { problems.append(problem) }
    }

    /// The result, once every entry was checked.
    public mutating func finish() -> AuditVerification {
        if !anchor.isEmpty {
            let ids = anchor.keys.sorted()
            let contiguous = ids.last! - ids.first! + 1 == ids.count
            let which = contiguous ? Self.missing(from: ids.first!, to: ids.last!) : "\(ids.count) entries from entry \(ids.first!) on"
            record(AuditVerification.Problem(entryId: ids.first!, line: nil, kinds: [.missingFromChain],
                                             message: "\(which) of the anchor export \(ids.count == 1 ? "is" : "are") missing from the chain (truncated or rewritten)"))
            anchor = [:]
        }
        return AuditVerification(source: source, entries: entries, verified: verified, problemCount: problemCount,
                                 problems: problems, headEntryId: lastId, headHash: lastId == nil ? nil : lastHash,
                                 anchorEntries: anchorCount)
    }

    static func missing(from a: Int, to b: Int) -> String {
        a == b ? "entry \(a) is" : "entries \(a) to \(b) are"
    }
}
