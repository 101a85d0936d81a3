/// The three data files of the canonical extract format and their columns
/// (shared/spec/extract-format.md).
public enum CanonicalFile: String, Sendable, CaseIterable, Codable, Comparable {
    case patients, events, prescriptions

    /// What a column holds, which decides whether the pseudonymisation guard checks its values.
    public enum Role: String, Sendable {
        case id, code, date, number
        /// Text that is not an id or code (an enumeration such as sex): guard-checked.
        case text
    }

    public struct Column: Sendable, Hashable {
        public let name: String
        /// Must be in the header (canonical) or mapped (custom profile).
        public let required: Bool
        public let role: Role
    }

    /// The file's name in a canonical extract.
    public var defaultFileName: String { "\(rawValue).csv" }

    public var columns: [Column] {
        switch self {
        case .patients:
            return [
                Column(name: "patient_id", required: true, role: .id),
                Column(name: "practice_id", required: true, role: .id),
                Column(name: "year_of_birth", required: true, role: .number),
                Column(name: "month_of_birth", required: false, role: .number),
                Column(name: "sex", required: true, role: .text),
                Column(name: "registration_start", required: true, role: .date),
                Column(name: "registration_end", required: false, role: .date),
                Column(name: "death_date", required: false, role: .date),
            ]
        case .events:
            return [
                Column(name: "patient_id", required: true, role: .id),
                Column(name: "event_date", required: true, role: .date),
                Column(name: "code", required: true, role: .code),
                Column(name: "code_system", required: true, role: .text),
                Column(name: "value", required: false, role: .number),
            ]
        case .prescriptions:
            return [
                Column(name: "patient_id", required: true, role: .id),
                Column(name: "issue_date", required: true, role: .date),
                Column(name: "code", required: true, role: .code),
                Column(name: "code_system", required: true, role: .text),
                Column(name: "quantity", required: false, role: .number),
                Column(name: "duration_days", required: false, role: .number),
                Column(name: "issue_type", required: false, role: .text),
            ]
        }
    }

    public func column(_ name: String) -> Column? { columns.first { $0.name == name } }

    /// The partitioned table a file's rows go into (same name).
    public var table: String { rawValue }

    public static func < (a: CanonicalFile, b: CanonicalFile) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
