import Foundation
import RecruitKit
import Testing

/// Code validity per system, the Verhoeff check digit and the Read v2 hierarchy.
@Suite struct CodeValidationTests {
    @Test("valid codes of every system pass", arguments: [
        (CodeSystem.read2, "N245."), (.read2, "N24.."), (.read2, "9Nu0."), (.read2, "dnj1."), (.read2, "B305."), (.read2, "S1000"),
        (.ctv3, "XaZ89"), (.ctv3, "9D1.."), (.ctv3, "Y2854"),
        (.snomed, "22298006"), (.snomed, "827241000000103"), (.snomed, "301000119104"), (.snomed, "103695000"),
        (.dmd, "42010211000001106"), (.dmd, "17651711000001105"),
        (.bnf, "0407010F0AAAAAA"), (.bnf, "0408010AEAAABAB"),
        (.icd10, "M54.5"), (.icd10, "M545"), (.icd10, "G43"), (.icd10, "U07.1"),
    ])
    func valid(system: CodeSystem, code: String) {
        #expect(system.problem(with: code) == nil)
    }

    @Test("invalid codes of every system are refused with a reason", arguments: [
        (CodeSystem.read2, "N245.00", "has 7 characters, expected 5"),
        (.read2, "9Nu0", "has 4 characters, expected 5"),
        (.read2, "N2.4.", "a character after its dot padding"),
        (.read2, ".....", "starts with a dot"),
        (.read2, "N24-.", "outside [A-Za-z0-9.]"),
        (.read2, "", "empty code"),
        (.ctv3, "XaZ8", "has 4 characters"),
        (.ctv3, "Xa Z8", "outside [A-Za-z0-9.]"),
        (.snomed, "22298007", "fails its Verhoeff check digit"),
        (.snomed, "827241000000104", "fails its Verhoeff check digit"),
        (.snomed, "12345", "has 5 digits, expected 6-18"),
        (.snomed, "1234567890123456789", "has 19 digits"),
        (.snomed, "022298006", "starts with 0"),
        (.snomed, "2229800x", "not all digits"),
        (.snomed, "301000119104\u{00A0}", "not all digits"),
        (.dmd, "42010211000001107", "fails its Verhoeff check digit"),
        (.bnf, "0407010F0AAAAA", "expected a 15-character presentation code"),
        (.bnf, "0407010f0AAAAAA", "outside [0-9A-Z]"),
        (.bnf, "AB07010F0AAAAAA", "four-digit chapter and section"),
        (.icd10, "M5", "does not have the shape"),
        (.icd10, "m54.5", "does not have the shape"),
    ])
    func invalid(system: CodeSystem, code: String, reason: String) throws {
        let problem = try #require(system.problem(with: code))
        #expect(problem.contains(reason), "\(problem)")
    }

    @Test("a description id (partition 01) is not a concept id, even with a valid check digit")
    func partition() throws {
        let body = "12345601"
        let id = body + String(Verhoeff.checkDigit(for: body))
        #expect(Verhoeff.isValid(id))
        let problem = try #require(CodeSystem.snomed.problem(with: id))
        #expect(problem.contains("not a concept id (partition identifier 01"))
    }

    @Test("Verhoeff: published SNOMED ids validate; every single-digit change and adjacent swap is caught")
    func verhoeff() {
        for id in ["22298006", "73211009", "38341003", "827241000000103", "42010211000001106", "1321000000100"] {
            #expect(Verhoeff.isValid(id), "\(id)")
            #expect(Verhoeff.checkDigit(for: String(id.dropLast())) == id.last)
            var digits = Array(id)
            for i in digits.indices {
                let original = digits[i]
                for d in "0123456789" where d != original {
                    digits[i] = d
                    #expect(!Verhoeff.isValid(String(digits)), "\(String(digits))")
                }
                digits[i] = original
            }
            for i in 0..<(digits.count - 1) where digits[i] != digits[i + 1] {
                digits.swapAt(i, i + 1)
                #expect(!Verhoeff.isValid(String(digits)))
                digits.swapAt(i, i + 1)
            }
        }
        #expect(!Verhoeff.isValid(""))
        #expect(!Verhoeff.isValid("12a4"))
    }

    @Test("Read v2 hierarchy: the children of N24.. have one more significant character; descendants share the prefix")
    func readHierarchy() {
        let codes = ["N24..", "N240.", "N245.", "N2450", "N245z", "N24z.", "N25..", "N2...", "N3...", "n240."]
        #expect(ReadV2Hierarchy.significantPrefix("N24..") == "N24")
        #expect(ReadV2Hierarchy.children(of: "N24..", in: codes) == ["N240.", "N245.", "N24z."])
        #expect(ReadV2Hierarchy.descendants(of: "N24..", in: codes) == ["N240.", "N245.", "N2450", "N245z", "N24z."])
        #expect(ReadV2Hierarchy.children(of: "N245.", in: codes) == ["N2450", "N245z"])
        #expect(ReadV2Hierarchy.descendants(of: "N2450", in: codes) == [])
        #expect(ReadV2Hierarchy.descendants(of: "N2...", in: codes).count == 7)
        #expect(!ReadV2Hierarchy.isDescendant("N24..", of: "N24.."))
        #expect(ReadV2Hierarchy.isSelfOrDescendant("N24..", of: "N24.."))
    }

    @Test("expansion: include adds a code and its descendants among the known codes; exclude wins")
    func expansion() {
        let file: Set<SystemCode> = [SystemCode(system: .read2, code: "N240."), SystemCode(system: .snomed, code: "22298006")]
        let known: [CodeSystem: Set<String>] = [.read2: ["N24..", "N240.", "N245.", "N2450", "N25..", "N24z."]]
        let rules: [CodeSystem: [CodeListManifest.Rule]] = [
            .read2: [CodeListManifest.Rule(.exclude, "N245."), CodeListManifest.Rule(.include, "N24..")],
            .snomed: [CodeListManifest.Rule(.include, "73211009", descendants: false)],
        ]
        let expanded = CodeListExpansion.expand(file, rules: rules, known: known)
        let read2 = expanded.filter { $0.system == .read2 }.map(\.code).sorted()
        #expect(read2 == ["N24..", "N240.", "N24z."])
        #expect(expanded.contains(SystemCode(system: .snomed, code: "73211009")))
        #expect(expanded.contains(SystemCode(system: .snomed, code: "22298006")))
        // A read2 rule never touches a ctv3 code written the same way.
        let mixed: Set<SystemCode> = [SystemCode(system: .ctv3, code: "N245.")]
        #expect(CodeListExpansion.expand(mixed, rules: rules, known: known).contains(SystemCode(system: .ctv3, code: "N245.")))
        // Without descendants an exclude removes only the code.
        let single = CodeListExpansion.expand([SystemCode(system: .read2, code: "N24.."), SystemCode(system: .read2, code: "N240.")],
                                              rules: [.read2: [CodeListManifest.Rule(.exclude, "N24..", descendants: false)]], known: [:])
        #expect(single == [SystemCode(system: .read2, code: "N240.")])
    }

    @Test("the expanded hash is of sorted SYSTEM,CODE lines, independent of set order")
    func expandedHash() {
        let a: Set<SystemCode> = [SystemCode(system: .read2, code: "N245."), SystemCode(system: .ctv3, code: "XaZ89")]
        #expect(ResolvedCodeList.expandedSHA256(of: a) == Hashing.sha256Hex("ctv3,XaZ89\nread2,N245.\n"))
    }
}
