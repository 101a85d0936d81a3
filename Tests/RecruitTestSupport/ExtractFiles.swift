import Foundation

/// A practice extract written to a temporary folder, for loader tests.
public struct ExtractFiles {
    public let directory: URL

    /// Two practices (A001: a1, a2, a3; B002: b1, b2) with events and prescriptions; extract date 2026-10-31.
    public static let patients = """
        patient_id,practice_id,year_of_birth,month_of_birth,sex,registration_start,registration_end,death_date
        a1,A001,1970,3,F,2001-01-01,,
        a2,A001,1980,,M,2010-05-05,,
        a3,A001,1990,12,U,2015-01-01,2020-01-01,
        b1,B002,1960,1,F,1999-09-09,,
        b2,B002,2001,6,M,2019-01-01,,2025-01-01

        """
    public static let events = """
        patient_id,event_date,code,code_system,value
        a1,2020-01-01,N245.00,read2,
        a1,2021-01-01,N245.,read2,1.5
        a2,2026-10-02,22298006,snomed,
        a3,2019-03-03,XE0Uh,ctv3,-0.05
        b1,2026-10-04,279039007,snomed,
        b2,2024-05-05,1264024002,snomed,

        """
    public static let prescriptions = """
        patient_id,issue_date,code,code_system,quantity,duration_days,issue_type
        a1,2026-01-01,42010211000001106,dmd,100,28,repeat
        a2,2026-02-01,bd3j.00,read2,,,acute
        b1,2026-03-01,0407010F0AAAAAA,bnf,56,28,

        """

    /// Writes an extract; nil leaves a file out.
    public static func make(patients: String? = ExtractFiles.patients, events: String? = ExtractFiles.events,
                            prescriptions: String? = ExtractFiles.prescriptions,
                            extractDate: String? = "2026-10-31") throws -> ExtractFiles {
        let dir = try TestDatabase.temporaryDirectory("extract")
        let fixture = ExtractFiles(directory: dir)
        if let patients { try fixture.write("patients.csv", patients) }
        if let events { try fixture.write("events.csv", events) }
        if let prescriptions { try fixture.write("prescriptions.csv", prescriptions) }
        if let extractDate {
            try fixture.write("extract.json", "{ \"format\": \"gp-extract/1\", \"extract_date\": \"\(extractDate)\" }\n")
        }
        return fixture
    }

    public func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: directory.appendingPathComponent(name))
    }

    public func write(_ name: String, bytes: [UInt8]) throws {
        try Data(bytes).write(to: directory.appendingPathComponent(name))
    }

    /// Appends a line to a file.
    public func append(_ name: String, _ line: String) throws {
        let url = directory.appendingPathComponent(name)
        var text = try String(contentsOf: url, encoding: .utf8)
        if !text.hasSuffix("\n") { text += "\n" }
        try Data((text + line + "\n").utf8).write(to: url)
    }

    public var path: String { directory.path }

    public func remove() { try? FileManager.default.removeItem(at: directory) }

    /// A canonical extract of `patients` patients (P0 … P{practices-1}) with `eventsPerPatient` events each
    /// and 3 prescriptions each, for tests that need a load to take a while; extract date 2026-10-31.
    public static func large(patients: Int, practices: Int = 2, eventsPerPatient: Int = 40, tag: String = "") throws -> ExtractFiles {
        let dir = try TestDatabase.temporaryDirectory("extract-large")
        let fixture = ExtractFiles(directory: dir)
        try fixture.write("extract.json", "{ \"extract_date\": \"2026-10-31\" }\n")
        var p = "patient_id,practice_id,year_of_birth,month_of_birth,sex,registration_start,registration_end,death_date\n"
        var e = "patient_id,event_date,code,code_system,value\n"
        var r = "patient_id,issue_date,code,code_system,quantity,duration_days,issue_type\n"
        let codes = ["N245.00", "16C2.", "N143.", "1371.", "H33..00"]
        for i in 0..<patients {
            let id = "q\(tag)\(i)"
            p += "\(id),P\(i % practices),\(1940 + i % 60),\(1 + i % 12),\(i % 2 == 0 ? "F" : "M"),2000-01-01,,\n"
            for k in 0..<eventsPerPatient {
                // The first event of each patient in October 2026, weeks before the extract date (a live feed).
                let date = k == 0 ? "2026-10-1\(i % 10)" : "20\(10 + k % 16)-0\(1 + k % 9)-1\(k % 10)"
                e += "\(id),\(date),\(codes[(i + k) % codes.count]),read2,\(k % 5 == 0 ? "\(k).5" : "")\n"
            }
            for k in 0..<3 { r += "\(id),2026-0\(1 + k)-15,42010211000001106,dmd,\(k + 10),28,repeat\n" }
        }
        try fixture.write("patients.csv", p)
        try fixture.write("events.csv", e)
        try fixture.write("prescriptions.csv", r)
        return fixture
    }
}
