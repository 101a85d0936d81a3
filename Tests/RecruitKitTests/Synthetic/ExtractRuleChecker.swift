import Foundation
import Postgres
import RecruitKit

/// An independent, in-test checker of the canonical extract format's row
/// rules (spec/extract-format.md), used to prove that a synthetic extract
/// is valid and that planted bad rows are exactly the ones the rules reject.
///
/// It reads patients.csv first (every copy of a duplicate `patient_id` is
/// rejected), then events.csv and prescriptions.csv, whose rows of a rejected
/// patient are rejected as "patient rejected" and of an absent one as
/// "unknown patient".
struct ExtractRuleChecker {
    struct Reject: Hashable, CustomStringConvertible {
        var file: String
        var line: Int
        var reason: String
        var description: String { "\(file):\(line): \(reason)" }
    }

    let directory: URL
    let extractDay: Int

    init(directory: URL, extractDate: LocalDate) {
        self.directory = directory
        extractDay = extractDate.dayNumber
    }

    private(set) var rejects: [Reject] = []
    private(set) var rows: [String: Int] = [:]

    static let earliestEventDay = LocalDate(year: 1900, month: 1, day: 1)!.dayNumber

    mutating func check() throws {
        var accepted = Set<String>()
        var rejectedIDs = Set<String>()
        var byID: [String: [Int]] = [:]
        let extractDay = self.extractDay
        let extractYear = LocalDate(dayNumber: extractDay).year
        try read("patients.csv") { line, f in
            let id = f["patient_id"] ?? ""
            if let problem = Self.patientProblem(f, extractDay: extractDay, extractYear: extractYear) {
                if Self.isID(id, max: 64) { rejectedIDs.insert(id) }
                return problem
            }
            byID[id, default: []].append(line)
            return nil
        }
        for (id, lines) in byID {
            if lines.count > 1 {
                rejectedIDs.insert(id)
                for line in lines { rejects.append(Reject(file: "patients.csv", line: line, reason: "duplicate patient_id")) }
            } else {
                accepted.insert(id)
            }
        }
        let eventSystems: Set<String> = ["read2", "ctv3", "snomed"]
        try read("events.csv") { _, f in
            if let problem = Self.patientReference(f["patient_id"] ?? "", accepted, rejectedIDs) { return problem }
            guard let dateText = f["event_date"], !dateText.isEmpty else { return "event_date missing" }
            guard let day = LocalDate(iso: dateText)?.dayNumber else { return "event_date not a date" }
            if day < Self.earliestEventDay { return "event_date before 1900-01-01" }
            if day > extractDay { return "event_date after extract_date" }
            return Self.codeProblem(f, systems: eventSystems, medicine: false)
                ?? ((f["value"] ?? "").isEmpty || Self.isDecimal(f["value"]!) ? nil : "value not a decimal")
        }
        let prescriptionSystems: Set<String> = ["dmd", "read2", "bnf"]
        try read("prescriptions.csv") { _, f in
            if let problem = Self.patientReference(f["patient_id"] ?? "", accepted, rejectedIDs) { return problem }
            guard let dateText = f["issue_date"], !dateText.isEmpty else { return "issue_date missing" }
            guard let day = LocalDate(iso: dateText)?.dayNumber else { return "issue_date not a date" }
            if day > extractDay { return "issue_date after extract_date" }
            if let problem = Self.codeProblem(f, systems: prescriptionSystems, medicine: true) { return problem }
            if let q = f["quantity"], !q.isEmpty, !Self.isDecimal(q) { return "quantity not a decimal" }
            if let d = f["duration_days"], !d.isEmpty {
                guard d.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(d), (1...365).contains(n) else { return "duration_days not 1-365" }
            }
            if let t = f["issue_type"], !t.isEmpty, t != "acute", t != "repeat" { return "issue_type not acute or repeat" }
            return nil
        }
    }

    /// Reads `name`, calling `rule` with each row's line and fields by column name.
    private mutating func read(_ name: String, rule: (Int, [String: String]) -> String?) throws {
        let (found, count) = try Self.read(directory.appendingPathComponent(name), rule: rule)
        rejects += found
        rows[name] = count
    }

    private static func read(_ url: URL, rule: (Int, [String: String]) -> String?) throws -> ([Reject], Int) {
        let name = url.lastPathComponent
        var rejects: [Reject] = []
        let reader = try CSVReader(url: url)
        guard try reader.next() else { throw RecruitError.refused("\(name): empty") }
        let header = reader.strings.map { $0.lowercased() }
        var count = 0
        while try reader.next() {
            count += 1
            let line = reader.lineNumber
            if reader.malformed != nil {
                rejects.append(Reject(file: name, line: line, reason: "malformed row"))
                continue
            }
            var fields: [String: String] = [:]
            for (i, column) in header.enumerated() where i < reader.fieldCount { fields[column] = reader.string(i) }
            if reader.fieldCount < header.count {
                rejects.append(Reject(file: name, line: line, reason: "too few fields"))
                continue
            }
            if let reason = rule(line, fields) { rejects.append(Reject(file: name, line: line, reason: reason)) }
        }
        return (rejects, count)
    }

    static func patientProblem(_ f: [String: String], extractDay: Int, extractYear: Int) -> String? {
        guard isID(f["patient_id"] ?? "", max: 64) else { return "patient_id invalid" }
        let practice = f["practice_id"] ?? ""
        guard (1...16).contains(practice.utf8.count), practice.utf8.allSatisfy(isAlphanumeric) else { return "practice_id invalid" }
        guard let yobText = f["year_of_birth"], yobText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let yob = Int(yobText),
              (1880...extractYear).contains(yob) else { return "year_of_birth invalid" }
        if let m = f["month_of_birth"], !m.isEmpty {
            guard m.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let month = Int(m), (1...12).contains(month) else { return "month_of_birth invalid" }
        }
        guard ["M", "F", "I", "U"].contains(f["sex"] ?? "") else { return "sex invalid" }
        guard let startText = f["registration_start"], !startText.isEmpty else { return "registration_start missing" }
        guard let start = LocalDate(iso: startText)?.dayNumber else { return "registration_start not a date" }
        if start > extractDay { return "registration_start after extract_date" }
        if let endText = f["registration_end"], !endText.isEmpty {
            guard let end = LocalDate(iso: endText)?.dayNumber else { return "registration_end not a date" }
            if end < start { return "registration_end before registration_start" }
        }
        if let deathText = f["death_date"], !deathText.isEmpty {
            guard let death = LocalDate(iso: deathText)?.dayNumber else { return "death_date not a date" }
            if death > extractDay { return "death_date after extract_date" }
        }
        return nil
    }

    static func patientReference(_ id: String, _ accepted: Set<String>, _ rejected: Set<String>) -> String? {
        if accepted.contains(id) { return nil }
        return rejected.contains(id) ? "patient rejected" : "unknown patient"
    }

    static func codeProblem(_ f: [String: String], systems: Set<String>, medicine: Bool) -> String? {
        let code = Array((f["code"] ?? "").utf8)
        let system = f["code_system"] ?? ""
        if code.isEmpty { return "code missing" }
        guard systems.contains(system) else { return "code_system invalid" }
        let ok: Bool
        switch system {
        case "read2":
            let five = code.count == 7 && code[5...].allSatisfy { $0 >= 48 && $0 <= 57 } ? Array(code[0..<5]) : code
            let padded = five.first != 46 && (five.firstIndex(of: 46).map { five[$0...].allSatisfy { $0 == 46 } } ?? true)
            ok = five.count == 5 && five.allSatisfy(isReadByte) && padded && (!medicine || (five[0] >= 97 && five[0] <= 122))
        case "ctv3": ok = code.count == 5 && code.allSatisfy(isReadByte)
        case "snomed", "dmd": ok = (6...18).contains(code.count) && Verhoeff.isValid(String(decoding: code, as: UTF8.self))
        case "bnf": ok = code.count == 15 && code.allSatisfy(isAlphanumeric)
        default: ok = false
        }
        return ok ? nil : "code invalid for \(system)"
    }

    static func isID(_ s: String, max: Int) -> Bool {
        (1...max).contains(s.utf8.count) && s.utf8.allSatisfy { isAlphanumeric($0) || $0 == 95 || $0 == 45 }
    }

    static func isAlphanumeric(_ b: UInt8) -> Bool { (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }
    static func isReadByte(_ b: UInt8) -> Bool { isAlphanumeric(b) || b == 46 }

    static func isDecimal(_ s: String) -> Bool {
        var u = Array(s.utf8)[...]
        if u.first == 45 { u = u.dropFirst() }
        let parts = u.split(separator: 46, omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty else { return false }
        return parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0 >= 48 && $0 <= 57 } }
    }
}
