import Foundation
import RecruitKit

/// Small hand-made code-list directories for tests (`NAME.csv`, columns `code,term,code_system`).
public enum CodeListFixture {
    /// One row of a list.
    public typealias Row = (code: String, term: String, system: CodeSystem)

    /// Writes each list to `directory/NAME.csv`.
    public static func write(_ lists: [String: [Row]], to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, rows) in lists {
            var text = "code,term,code_system\n"
            for row in rows {
                let term = row.term.contains(",") || row.term.contains("\"") ? "\"" + row.term.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : row.term
                text += "\(row.code),\(term),\(row.system.rawValue)\n"
            }
            try Data(text.utf8).write(to: directory.appendingPathComponent("\(name).csv"))
        }
    }

    /// The lists the reference cohort names, with a few codes each, in the
    /// systems the boundary and property tests use. `9D11.` is a fit-note code
    /// in Read v2 only; the same string as CTV3 must not match.
    public static let reference: [String: [Row]] = [
        "chronic-pain": [("N245.", "Back pain, chronic", .read2), ("1M10.", "Chronic pain", .read2),
                         ("XE1FN", "Chronic pain", .ctv3), ("82423001", "Chronic pain", .snomed)],
        "opioid-analgesics": [("322236009", "Codeine phosphate 30mg tablets", .dmd), ("dh1..", "Codeine, with term", .read2),
                              ("36126911000001104", "Tramadol 50mg capsules", .dmd)],
        "gabapentinoids": [("321985006", "Gabapentin 300mg capsules", .dmd), ("415160008", "Pregabalin 75mg capsules", .dmd)],
        "fit-notes": [("9D11.", "Fit note issued, \"not fit for work\"", .read2), ("9D1B.", "Med3 issued", .read2)],
        "unemployment": [("13J3.", "Unemployed", .read2)],
        "cancer": [("B1...", "Malignant neoplasm of digestive organs", .read2), ("B34..", "Malignant neoplasm of breast", .read2)],
        "palliative-care": [("8BAP.", "Specialist palliative care", .read2)],
        "research-opt-out": [("9Nu0.", "Dissent from secondary use of GP patient identifiable data", .read2)],
        "research-opt-out-withdrawn": [("9Nu1.", "Dissent withdrawn", .read2)],
    ]

    /// The reference lists in a new temporary directory.
    public static func referenceDirectory() throws -> URL {
        let dir = try TestDatabase.temporaryDirectory("codelists")
        try write(reference, to: dir)
        return dir
    }
}
