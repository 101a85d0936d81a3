import Foundation

/// A CSV file of practice feedback or contact history, read a row at a time.
///
/// The conventions of the extract format: UTF-8 (a byte-order mark is
/// tolerated), RFC 4180 CSV with a header row; columns matched by name,
/// case-insensitive, in any order; unknown columns ignored with a warning
/// (never stored); a header naming a direct identifier (NHS number, name,
/// address, …) refuses the file: pseudonymised data only.
final class ContactFile {
    /// The file's name, for messages.
    let name: String
    /// Header name (lower case) → field index.
    private let index: [String: Int]
    private let width: Int
    /// Header columns that are not used (warned about, never stored).
    let ignoredColumns: [String]
    private let reader: CSVReader

    /// One data row.
    struct Row {
        let line: Int
        private let fields: [String]
        private let index: [String: Int]

        init(line: Int, fields: [String], index: [String: Int]) {
            self.line = line
            self.fields = fields
            self.index = index
        }

        /// The value of `column`, or nil when the file has no such column.
        subscript(_ column: String) -> String? { index[column].map { fields[$0] } }
    }

    /// Headers (lower-cased, `_`, `-` and spaces removed) that name a direct
    /// identifier, as in the extract format.
    static let directIdentifierHeaders: Set<String> = [
        "nhsnumber", "nhsno", "chinumber", "name", "forename", "surname", "firstname", "lastname", "fullname",
        "address", "addressline1", "postcode", "dob", "dateofbirth", "email", "phone", "telephone", "mobile",
    ]

    /// Opens `url` and checks its header.
    ///
    /// - Throws: ``ImportRefused`` for a missing, empty or unusable header;
    ///   ``RecruitError`` (refused) when the file cannot be opened.
    init(url: URL, required: [String], optional: [String]) throws {
        name = url.lastPathComponent
        reader = try CSVReader(url: url)
        guard try reader.next() else {
            throw ImportRefused(file: name, problems: [ImportProblem(line: nil, message: "the file is empty: it needs a header row (\(required.joined(separator: ",")))")])
        }
        var problems: [ImportProblem] = []
        if let why = reader.malformed {
            problems.append(ImportProblem(line: reader.lineNumber, message: "the header is malformed CSV (\(why))"))
        }
        let headers = reader.strings.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        var index: [String: Int] = [:]
        var ignored: [String] = []
        let known = Set(required + optional)
        for (i, header) in headers.enumerated() {
            let normalized = header.filter { $0 != "_" && $0 != "-" && $0 != " " }
            if Self.directIdentifierHeaders.contains(normalized) {
                problems.append(ImportProblem(line: reader.lineNumber, column: header,
                                              message: "the column names a direct identifier: only pseudonymised data may be imported"))
            } else if index[header] != nil {
                problems.append(ImportProblem(line: reader.lineNumber, column: header, message: "the column appears twice in the header"))
            } else if known.contains(header) {
                index[header] = i
            } else {
                ignored.append(header.isEmpty ? "(unnamed column \(i + 1))" : header)
            }
        }
        for column in required where index[column] == nil {
            problems.append(ImportProblem(line: reader.lineNumber, column: column,
                                          message: "the header lacks this column (required: \(required.joined(separator: ", ")))"))
        }
        if !problems.isEmpty { throw ImportRefused(file: name, problems: problems) }
        self.index = index
        self.width = headers.count
        self.ignoredColumns = ignored
    }

    /// The next data row, or nil at the end; blank lines are skipped.
    ///
    /// - Parameter problems: where a malformed row (bad CSV, wrong number of
    ///   fields) is reported; such a row is skipped.
    func next(problems: inout ImportProblems) throws -> Row? {
        while try reader.next() {
            let line = reader.lineNumber
            if reader.fieldCount == 1 && reader.withField(0, { $0.isEmpty }) { continue }
            if let why = reader.malformed {
                problems.add(line: line, message: "malformed CSV (\(why))")
                continue
            }
            if reader.fieldCount != width {
                problems.add(line: line, message: "expected \(width) fields as in the header, found \(reader.fieldCount)")
                continue
            }
            return Row(line: line, fields: reader.strings, index: index)
        }
        return nil
    }

    // MARK: Values

    /// A practice code: 1-16 letters or digits (ODS or pseudonymised code).
    static func isPracticeId(_ s: String) -> Bool {
        let u = s.utf8
        return (1...16).contains(u.count) && u.allSatisfy { isAlnum($0) }
    }

    /// A pseudonymised patient id: 1-64 characters of `[A-Za-z0-9_-]`.
    static func isPatientId(_ s: String) -> Bool {
        let u = s.utf8
        return (1...64).contains(u.count) && u.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// A row's practice_id and patient_id, each checked, a problem added for each bad one.
    ///
    /// - Returns: the two values, and whether both are valid.
    ///   `patientOptional`: an empty patient_id is allowed (a referral of someone not in the extract).
    static func checkIDs(_ row: Row, _ problems: inout ImportProblems, patientOptional: Bool = false) -> (practice: String, patient: String, ok: Bool) {
        let practice = row["practice_id"] ?? ""
        let patient = row["patient_id"] ?? ""
        var ok = true
        if !isPracticeId(practice) {
            problems.add(line: row.line, column: "practice_id", message: practiceIdRule); ok = false
        }
        if !(patientOptional && patient.isEmpty) && !isPatientId(patient) {
            problems.add(line: row.line, column: "patient_id", message: patientIdRule); ok = false
        }
        return (practice, patient, ok)
    }

    static let practiceIdRule = "not a practice code (1-16 letters or digits)"
    static let patientIdRule = "not a pseudonymised patient id (1-64 letters, digits, _ or -)"

    private static func isAlnum(_ c: UInt8) -> Bool {
        (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c)
    }
}
