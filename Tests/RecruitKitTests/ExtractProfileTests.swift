import Foundation
@testable import RecruitKit
import RecruitTestSupport
import Testing

/// Profiles: the YAML language, its located errors, the built-ins, and docs/profiles.md's examples.
@Suite struct ExtractProfileTests {
    func error(_ yaml: String) -> String? {
        do {
            _ = try ExtractProfile.parse(yaml: yaml, origin: "p.yaml")
            return nil
        } catch let e as RecruitError {
            return e.message
        } catch {
            return "\(error)"
        }
    }

    static let minimal = """
        profile: small
        files:
          patients:
            file: p.csv
            columns:
              patient_id: id
              practice_id: { constant: X1 }
              year_of_birth: yob
              sex: sex
              registration_start: start
          events:
            file: e.csv
            columns: { patient_id: id, event_date: d, code: c, code_system: { constant: read2 } }
          prescriptions:
            file: r.csv
            columns: { patient_id: id, issue_date: d, code: c, code_system: { constant: dmd } }

        """

    @Test("a minimal profile parses; defaults are the canonical format's")
    func minimal() throws {
        let p = try ExtractProfile.parse(yaml: Self.minimal, origin: "p.yaml")
        #expect(p.name == "small")
        #expect(p.files[.patients]?.format.delimiter == UInt8(ascii: ","))
        #expect(p.files[.events]?.format.dateFormats == [.iso])
        #expect(p.files[.patients]?.columns["practice_id"]?.source == .constant("X1"))
        #expect(p.sha256 == Hashing.sha256Hex(Self.minimal))
    }

    @Test("errors name the line and what is wrong")
    func errors() {
        #expect(error(Self.minimal.replacingOccurrences(of: "profile: small", with: "profile: small\nencodng: UTF-8"))
                == "profile p.yaml line 2: unknown key 'encodng' in the profile (expected: profile, description, encoding, delimiter, quote, date_formats, dictionaries, files)")
        #expect(error(Self.minimal.replacingOccurrences(of: "      sex: sex", with: "      gender: sex"))?
            .hasPrefix("profile p.yaml line 9: unknown key 'gender' in files.patients.columns") == true)
        #expect(error(Self.minimal.replacingOccurrences(of: "      registration_start: start\n", with: ""))
                == "profile p.yaml line 6: files.patients.columns has no mapping for the required column registration_start")
        #expect(error(Self.minimal.replacingOccurrences(of: "code: c, code_system: { constant: read2 }", with: "code: { column: c, lookup: med }, code_system: { constant: read2 }"))?
            .contains("line 13: lookup 'med' names no dictionary") == true)
        #expect(error(Self.minimal.replacingOccurrences(of: "profile: small", with: "profile: small\ndate_formats: [dd/MM/yy]"))?
            .contains("line 2: date format 'dd/MM/yy' is not understood") == true)
        #expect(error(Self.minimal.replacingOccurrences(of: "profile: small", with: "profile: small\nencoding: EBCDIC"))?
            .contains("line 2: encoding 'EBCDIC' is not supported") == true)
        #expect(error(Self.minimal.replacingOccurrences(of: "profile: small", with: "profile: small\ndelimiter: ';;'"))?
            .contains("line 2: delimiter must be one ASCII character") == true)
        #expect(error(Self.minimal.replacingOccurrences(of: "{ constant: X1 }", with: "{ constant: X1, column: p }"))?
            .contains("line 7: files.patients.columns.practice_id needs exactly one of 'column' or 'constant'") == true)
        #expect(error("profile: x\nfiles: [a\n").map { $0.hasPrefix("profile p.yaml line ") && $0.contains("not valid YAML") } == true)
        #expect(error(Self.minimal.replacingOccurrences(of: "  prescriptions:", with: "  prescription:"))?
            .contains("unknown key 'prescription' in files") == true)
    }

    @Test("the built-in profiles parse, and docs/profiles.md shows them as they are")
    func builtIns() throws {
        #expect(ExtractProfile.builtInNames == ["canonical", "cprd-gold"])
        let docs = try String(contentsOf: TestDatabase.repositoryRoot.appendingPathComponent("docs/profiles.md"), encoding: .utf8)
        let blocks = docs.components(separatedBy: "```yaml\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        func strip(_ s: String) -> String {
            s.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") && !$0.isEmpty }.joined(separator: "\n")
        }
        for name in ExtractProfile.builtInNames {
            let profile = try ExtractProfile.resolve(name)
            #expect(profile.name == name)
            #expect(blocks.contains { strip($0) == strip(ExtractProfile.builtIn[name]!) }, "docs/profiles.md does not show \(name) as built in")
        }
        // The full example parses.
        let example = try #require(blocks.first { $0.hasPrefix("# acme.yaml") })
        let acme = try ExtractProfile.parse(yaml: example, origin: "acme.yaml")
        #expect(acme.files[.patients]?.format.encoding == .windows1252)
        #expect(acme.dictionaries["readcodes"]?.key == "LocalCode")
    }
}
