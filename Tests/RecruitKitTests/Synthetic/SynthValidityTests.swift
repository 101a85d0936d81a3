import Foundation
import Postgres
@testable import RecruitKit
import Testing

@Suite("Synthetic extracts: validity and planted errors")
struct SynthValidityTests {
    @Test("without --inject-errors every row of every file keeps every rule of the extract format")
    func cleanExtractIsValid() throws {
        let (dir, summary) = try SynthFixture.write("clean", patients: 12_000, practices: 4, seed: 3)
        var checker = ExtractRuleChecker(directory: dir, extractDate: SynthesisOptions.defaultExtractDate)
        try checker.check()
        #expect(checker.rejects.isEmpty, "\(checker.rejects.prefix(10))")
        #expect(checker.rows["patients.csv"] == 12_000)
        #expect(checker.rows["events.csv"] == summary.events)
        #expect(checker.rows["prescriptions.csv"] == summary.prescriptions)
        #expect(summary.injectedRows == 0)
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: dir.appendingPathComponent("extract.json")))
        #expect(json["format"] == .string("gp-extract/1"))
        #expect(json["extract_date"] == .string("2026-10-31"))
    }

    @Test("the extract mixes coding systems, writes some Read v2 codes with term ids, and has leavers and deaths")
    func shape() throws {
        let (dir, summary) = try SynthFixture.write("shape", patients: 5_000, seed: 4)
        #expect(summary.practices.count == 1)
        let events = try String(contentsOf: dir.appendingPathComponent("events.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        var systems: [Substring: Int] = [:]
        var withTermID = 0
        for line in events {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            systems[f[3], default: 0] += 1
            if f[3] == "read2" && f[2].utf8.count == 7 { withTermID += 1 }
        }
        let total = Double(events.count)
        #expect(Double(systems["read2", default: 0]) / total > 0.7)
        #expect(systems["ctv3", default: 0] > 0 && systems["snomed", default: 0] > 0)
        #expect(Double(withTermID) / Double(systems["read2", default: 1]) > 0.2)
        let prescriptions = try String(contentsOf: dir.appendingPathComponent("prescriptions.csv"), encoding: .utf8)
        for system in [",dmd,", ",read2,", ",bnf,", ",acute", ",repeat"] { #expect(prescriptions.contains(system)) }
        let patients = try String(contentsOf: dir.appendingPathComponent("patients.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        let left = patients.filter { $0.split(separator: ",", omittingEmptySubsequences: false)[6] != "" }.count
        let died = patients.filter { $0.split(separator: ",", omittingEmptySubsequences: false)[7] != "" }.count
        #expect((0.15...0.30).contains(Double(left) / 5_000))
        #expect((0.03...0.08).contains(Double(died) / 5_000))
    }

    @Test("default practice sizes are realistic; --practices splits the patients in varied sizes")
    func practices() throws {
        let plan = PracticePlan(patients: 200_000, count: nil, seed: 1)
        #expect(plan.practices.map(\.patients).reduce(0, +) == 200_000)
        #expect(plan.practices.dropLast().allSatisfy { (2_000...22_000).contains($0.patients) })
        #expect(Set(plan.practices.map(\.code)).count == plan.practices.count)
        let three = PracticePlan(patients: 15_000, count: 3, seed: 1)
        #expect(three.practices.count == 3)
        #expect(three.practices.map(\.patients).reduce(0, +) == 15_000)
        #expect(Set(three.practices.map(\.patients)).count == 3)
    }

    @Test("planted bad rows are exactly the rows the format's rules reject, and every kind is planted")
    func injectedRowsAreExactlyTheRejects() throws {
        let (dir, summary) = try SynthFixture.injected.get()
        var checker = ExtractRuleChecker(directory: dir, extractDate: SynthesisOptions.defaultExtractDate)
        try checker.check()
        let reader = CSVReader(bytes: Array(try Data(contentsOf: dir.appendingPathComponent("injected.csv"))))
        _ = try reader.next()
        #expect(reader.strings == ["file", "line", "kind"])
        var injected: [String: String] = [:]   // "file:line" → kind
        while try reader.next() {
            let f = reader.strings
            injected["\(f[0]):\(f[1])"] = f[2]
        }
        let rejected = Dictionary(checker.rejects.map { ("\($0.file):\($0.line)", $0.reason) }, uniquingKeysWith: { a, _ in a })
        #expect(Set(injected.keys) == Set(rejected.keys),
                "planted but accepted: \(Set(injected.keys).subtracting(rejected.keys).prefix(5)); rejected but not planted: \(Set(rejected.keys).subtracting(injected.keys).prefix(5))")
        #expect(injected.count == summary.injectedRows)
        // Dependent rejects are named as such.
        for (key, kind) in injected where kind == "patient_rejected" { #expect(rejected[key] == "patient rejected") }
        for (key, kind) in injected where kind == "unknown_patient" { #expect(rejected[key] == "unknown patient") }
        for (key, kind) in injected where kind == "duplicate_patient_id" { #expect(rejected[key] == "duplicate patient_id") }
        // Every kind appears, in the file it belongs to.
        let kinds = Set(injected.map { "\($0.key.split(separator: ":")[0]):\($0.value)" })
        for kind in InjectedErrorKind.patientKinds { #expect(kinds.contains("patients.csv:\(kind.rawValue)"), "\(kind)") }
        for kind in InjectedErrorKind.eventKinds + [.patientRejected] { #expect(kinds.contains("events.csv:\(kind.rawValue)"), "\(kind)") }
        for kind in InjectedErrorKind.prescriptionKinds + [.patientRejected] { #expect(kinds.contains("prescriptions.csv:\(kind.rawValue)"), "\(kind)") }
        // About 1 % of each file's rows were planted directly.
        let direct = injected.filter { $0.value != "patient_rejected" }
        let eventShare = Double(direct.keys.filter { $0.hasPrefix("events.csv") }.count) / Double(summary.events)
        #expect((0.007...0.013).contains(eventShare), "\(eventShare)")
    }

    @Test("a code list folder holding only some lists works: the missing ones are skipped with a warning")
    func partialCodeLists() throws {
        let partial = SynthFixture.root.appendingPathComponent("partial-codelists")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        for name in ["chronic-pain", "research-opt-out"] {
            try? FileManager.default.copyItem(at: SynthFixture.codeLists.appendingPathComponent("\(name).csv"),
                                              to: partial.appendingPathComponent("\(name).csv"))
        }
        let (dir, summary) = try SynthFixture.write(patients: 2_000, seed: 2, codeLists: partial)
        #expect(Set(summary.codeLists.keys) == ["chronic-pain", "research-opt-out"])
        for missing in ["opioid-analgesics", "gabapentinoids", "fit-notes", "cancer", "palliative-care", "research-opt-out-withdrawn"] {
            #expect(summary.warnings.contains { $0.contains("code list \(missing) is missing") }, "\(missing)")
        }
        var checker = ExtractRuleChecker(directory: dir, extractDate: SynthesisOptions.defaultExtractDate)
        try checker.check()
        #expect(checker.rejects.isEmpty)
        let painCodes = try CodeList.read(name: "chronic-pain", in: partial).codes
        let events = try String(contentsOf: dir.appendingPathComponent("events.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        let painEvents = events.filter { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            let code = f[3] == "read2" ? String(f[2].prefix(5)) : String(f[2])
            return painCodes.contains(SystemCode(system: CodeSystem(rawValue: String(f[3]))!, code: code))
        }
        #expect(!painEvents.isEmpty)
    }

    @Test("no background code is in any reference list")
    func backgroundNeverMatches() throws {
        let codes = try SyntheticCodeBook(directory: SynthFixture.codeLists, eventSystems: SyntheticFigures.eventSystemWeights,
                                          prescriptionSystems: SyntheticFigures.prescriptionSystemWeights, logger: SynthFixture.quiet)
        var listed = Set<SystemCode>()
        for concept in SyntheticConcept.listed {
            listed.formUnion(try CodeList.read(name: concept.listName!, in: SynthFixture.codeLists).codes)
        }
        let background = codes.codes.filter { $0.concept == .backgroundEvent || $0.concept == .backgroundMedicine }
        #expect(background.count > 60)
        #expect(background.allSatisfy { !listed.contains(SystemCode(system: $0.system, code: $0.code)) })
        // Each list concept's codes are in its own list only.
        for code in codes.codes where code.concept.listName != nil {
            #expect(listed.contains(SystemCode(system: code.system, code: code.code)))
        }
    }

    @Test("Verhoeff check digits", arguments: [("271649006", true), ("271649007", false), ("42010211000001106", true), ("12a45", false)])
    func verhoeff(text: String, valid: Bool) {
        #expect(Verhoeff.isValid(text) == valid)
    }

    @Test("bad options are refused with a message")
    func badOptions() throws {
        let out = SynthFixture.root.appendingPathComponent("refused")
        let cases: [(SynthesisOptions, RecruitError.Input?, String)] = [
            (SynthesisOptions(outputDirectory: out, patients: 0, codeListDirectory: SynthFixture.codeLists), .patients, "must be at least 1"),
            (SynthesisOptions(outputDirectory: out, patients: 10, practices: 11, codeListDirectory: SynthFixture.codeLists), .practices,
             "cannot exceed the number of patients (10)"),
            (SynthesisOptions(outputDirectory: out, patients: 10, profile: .cprdGold, codeListDirectory: SynthFixture.codeLists, errorRate: 0.01),
             .errorRate, "canonical profile only"),
            (SynthesisOptions(outputDirectory: out, patients: 10, codeListDirectory: out.appendingPathComponent("none")), nil, "does not exist"),
        ]
        for (options, input, message) in cases {
            #expect { try ExtractSynthesizer(options: options, logger: SynthFixture.quiet).run() } throws: { error in
                guard let error = error as? RecruitError else { return false }
                return error.subject?.input == input && error.message.contains(message)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("patients.csv").path))
    }
}
