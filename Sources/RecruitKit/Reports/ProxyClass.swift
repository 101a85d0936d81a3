/// The kind of out-of-work evidence that put an invitee on a list: what the
/// proxy report groups outcomes by.
///
/// Read from the evidence a run stored for the proxy criterion: a sickness
/// spell when the evidence has one; otherwise the code list that holds the
/// evidence's code (a fit note, an unemployment code, or another list a
/// cohort uses); otherwise ``other`` (no evidence for the criterion, or a code
/// in none of the run's lists).
public enum ProxyClass: Hashable, Sendable, Comparable {
    case spell
    case codeList(String)
    case other

    /// The fit-note list of the reference cohort.
    public static let fitNotes = "fit-notes"
    /// The unemployment list of the reference cohort.
    public static let unemployment = "unemployment"

    /// A stable key for CSV and JSON: `spell`, `list:NAME`, `other`.
    public var key: String {
        switch self {
        case .spell: return "spell"
        case .codeList(let name): return "list:\(name)"
        case .other: return "other"
        }
    }

    /// What the class means, for the report's tables.
    public var label: String {
        switch self {
        case .spell: return "Current sickness spell"
        case .codeList(Self.fitNotes): return "Fit note (no spell needed)"
        case .codeList(Self.unemployment): return "Unemployment code"
        case .codeList(let name): return "Code in \(name)"
        case .other: return "Other or no evidence"
        }
    }

    /// Spells first, then fit notes, unemployment, other lists by name, and other last.
    var rank: (Int, String) {
        switch self {
        case .spell: return (0, "")
        case .codeList(Self.fitNotes): return (1, "")
        case .codeList(Self.unemployment): return (2, "")
        case .codeList(let name): return (3, name)
        case .other: return (4, "")
        }
    }

    public static func < (a: ProxyClass, b: ProxyClass) -> Bool {
        a.rank.0 != b.rank.0 ? a.rank.0 < b.rank.0 : a.rank.1.utf8.lexicographicallyPrecedes(b.rank.1.utf8)
    }
}
