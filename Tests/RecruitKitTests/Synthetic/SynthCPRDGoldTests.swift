import Foundation
import Postgres
@testable import RecruitKit
import Testing

/// `--profile cprd-gold` writes the layout of HELPERS-cprd-gold.md / docs/profiles.md.
@Suite("Synthetic extracts: cprd-gold layout")
struct SynthCPRDGoldTests {
    static let extract: Result<(URL, SynthesisSummary), any Error> = Result {
        try SynthFixture.write("cprd", patients: 6_000, practices: 3, seed: 8, profile: .cprdGold)
    }

    func table(_ name: String) throws -> (header: [String], rows: [[String]]) {
        let (dir, _) = try Self.extract.get()
        let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
        #expect(text.utf8.allSatisfy { $0 < 128 }, "\(name) is plain ASCII")
        #expect(!text.contains("\""), "\(name) has no quoting")
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "")
        lines.removeLast()
        let header = lines[0].split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        let rows = lines.dropFirst().map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.allSatisfy { $0.count == header.count }, "\(name): every row has \(header.count) fields")
        return (header, rows)
    }

    static func date(_ text: String) -> LocalDate? {
        let p = text.split(separator: "/")
        guard p.count == 3, p[0].count == 2, p[1].count == 2, p[2].count == 4,
              let d = Int(p[0]), let m = Int(p[1]), let y = Int(p[2]) else { return nil }
        return LocalDate(year: y, month: m, day: d)
    }

    @Test("the files, headers and extract.json")
    func files() throws {
        let (dir, summary) = try Self.extract.get()
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names == ["Clinical.txt", "Patient.txt", "Therapy.txt", "extract.json", "medical.txt", "product.txt"])
        #expect(try table("Patient.txt").header == ["patid", "gender", "yob", "mob", "frd", "crd", "tod", "deathdate", "accept"])
        #expect(try table("Clinical.txt").header == ["patid", "eventdate", "sysdate", "constype", "consid", "medcode", "staffid", "episode", "enttype", "adid"])
        #expect(try table("Therapy.txt").header == ["patid", "eventdate", "sysdate", "consid", "prodcode", "staffid", "dosageid", "bnfcode", "qty", "numdays", "numpacks", "packtype", "issueseq"])
        #expect(try table("medical.txt").header == ["medcode", "readcode", "desc"])
        #expect(try table("product.txt").header == ["prodcode", "dmdcode", "gemscriptcode", "productname", "bnfcode"])
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: dir.appendingPathComponent("extract.json")))
        #expect(json["extract_date"] == .string("2026-10-31"))
        #expect(summary.practices.map(\.practiceID).allSatisfy { $0.hasPrefix("P") && $0.count == 4 })
    }

    @Test("patients: CPRD codes, yob - 1800, practice in the last three digits, dd/mm/yyyy dates")
    func patients() throws {
        let (_, summary) = try Self.extract.get()
        let rows = try table("Patient.txt").rows
        #expect(rows.count == 6_000)
        #expect(Set(rows.map { $0[0] }).count == 6_000)
        let practices = Set(summary.practices.map { Int($0.practiceID.dropFirst())! })
        let extractDate = SynthesisOptions.defaultExtractDate
        var unacceptable = 0
        for r in rows {
            let patid = Int(r[0])!
            #expect(practices.contains(patid % 1000))
            #expect(["0", "1", "2", "3"].contains(r[1]))
            #expect((80...226).contains(Int(r[2])!))
            #expect((0...12).contains(Int(r[3])!))
            let frd = Self.date(r[4])!, crd = Self.date(r[5])!
            #expect(frd <= crd && crd <= extractDate)
            if !r[6].isEmpty { #expect(Self.date(r[6])! >= crd) }
            if !r[7].isEmpty { #expect(Self.date(r[7])! <= extractDate) }
            #expect(r[8] == "1" || r[8] == "0")
            if r[8] == "0" { unacceptable += 1 }
        }
        #expect(unacceptable > 0 && unacceptable < 60)
        let perPractice = Dictionary(grouping: rows, by: { Int($0[0])! % 1000 }).mapValues(\.count)
        for p in summary.practices { #expect(perPractice[Int(p.practiceID.dropFirst())!] == p.patients) }
    }

    @Test("clinical and therapy rows translate through the dictionaries to Read v2 and dm+d")
    func records() throws {
        let medical = try table("medical.txt").rows
        let product = try table("product.txt").rows
        let readcodes = Dictionary(uniqueKeysWithValues: medical.map { (Int($0[0])!, $0[1]) })
        let dmd = Dictionary(uniqueKeysWithValues: product.map { (Int($0[0])!, $0[1]) })
        #expect(readcodes.values.allSatisfy { $0.utf8.count == 7 && $0.utf8.suffix(2).allSatisfy { $0 >= 48 && $0 <= 57 } })
        #expect(dmd.values.allSatisfy { (6...18).contains($0.utf8.count) && Verhoeff.isValid($0) })
        let patients = Dictionary(uniqueKeysWithValues: try table("Patient.txt").rows.map { ($0[0], $0[8]) })
        let extractDate = SynthesisOptions.defaultExtractDate
        let clinical = try table("Clinical.txt").rows
        #expect(clinical.count > 6_000 * 30)
        for r in clinical {
            #expect(patients[r[0]] == "1", "only acceptable patients have records")
            let event = Self.date(r[1])!, entered = Self.date(r[2])!
            #expect(event <= entered && entered <= extractDate)
            #expect(readcodes[Int(r[5])!] != nil)
        }
        let therapy = try table("Therapy.txt").rows
        #expect(therapy.count > 6_000 * 8)
        for r in therapy {
            #expect(patients[r[0]] == "1")
            #expect(Self.date(r[1])! <= extractDate)
            #expect(dmd[Int(r[4])!] != nil)
            #expect(Int(r[8])! > 0)
            #expect((0...365).contains(Int(r[9])!))
            #expect(Int(r[12])! >= 0)
        }
        // The reference lists are represented: chronic pain Read codes and opioid dm+d products.
        let pain = try CodeList.read(name: "chronic-pain", in: SynthFixture.codeLists).codes
        let opioids = try CodeList.read(name: "opioid-analgesics", in: SynthFixture.codeLists).codes
        #expect(clinical.contains { pain.contains(SystemCode(system: .read2, code: String(readcodes[Int($0[5])!]!.prefix(5)))) })
        #expect(therapy.contains { opioids.contains(SystemCode(system: .dmd, code: dmd[Int($0[4])!]!)) })
    }
}
