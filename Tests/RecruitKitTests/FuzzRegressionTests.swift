import Foundation
@testable import RecruitKit
import Testing

/// Inputs the fuzz targets (Tests/Fuzz/Targets, `make fuzz`) found problems
/// with, kept as tests; each is also a seed of its target's corpus
/// (Tests/Fuzz/corpus/TARGET/regression-*). No database needed.
@Suite("Fuzzing regressions")
struct FuzzRegressionTests {
    /// Every problem of a cohort file that does not parse, as `LINE:COLUMN: message`.
    func cohortProblems(_ yaml: String) -> [String] {
        do {
            _ = try CohortParser.parse(data: Data(yaml.utf8), file: "fuzz.yaml")
            return []
        } catch let error as CohortDefinitionError {
            return error.diagnostics.map { "\($0.location.line):\($0.location.column): \($0.message)" }
        } catch {
            return ["\(error)"]
        }
    }

    // cohort_yaml: a plain scalar folded over two lines (`D -` at the end of
    // one line, the number on the next) was located at the first line with the
    // number's offset in the folded text added: a column past the end of the line.
    @Test("cohort_yaml: a window date folded over two lines is located where it starts, inside the file")
    func foldedWindowDate() {
        let folded = """
            name: test
            version: "1"
            criteria:
              - id: w
                label: w
                include:
                  has_events:
                    codelists: [x]
                    window: {from: D -
                      3!, to: D}

            """
        #expect(cohortProblems(folded) == [
            "9:24: criterion 1 (include): has_events: window: from: expected a whole number of days or the name of a parameter after '-', found '3!'",
        ])
        // Written on one line, the location is still the number's own.
        let oneLine = folded.replacingOccurrences(of: "D -\n          3!", with: "D - 3!")
        #expect(cohortProblems(oneLine) == [
            "9:28: criterion 1 (include): has_events: window: from: expected a whole number of days or the name of a parameter after '-', found '3!'",
        ])
    }

    /// A small profile whose patients' practice_id mapping is `mapping`.
    static func profile(practiceID mapping: String) -> String {
        """
        profile: t
        files:
          patients:
            file: p.csv
            columns:
              patient_id: id
              practice_id: \(mapping)
              year_of_birth: yob
              sex: sex
              registration_start: start
          events:
            file: e.csv
            columns: { patient_id: id, event_date: d, code: c, code_system: s }
          prescriptions:
            file: r.csv
            columns: { patient_id: id, issue_date: d, code: c, code_system: s }

        """
    }

    func profileRefusal(_ yaml: String) -> String? {
        do {
            _ = try ExtractProfile.parse(yaml: yaml, origin: "t.yaml")
            return nil
        } catch {
            return "\(error)"
        }
    }

    // profile_yaml: `right`, `pad` and `add` took any whole number, and the
    // loader crashed on the first row of a profile with `right: -1` (a range
    // past the value's end), `add: 9223372036854775000` (integer overflow) or
    // `pad: 999999999999` (a terabyte of zeros). The parser now refuses them
    // with the line.
    @Test("profile_yaml: right, pad and add out of range are refused with the line, not crashed on")
    func transformRanges() {
        #expect(profileRefusal(Self.profile(practiceID: "{ column: id, right: -1 }")) == "profile t.yaml line 7: right must be a whole number from 1 to 64")
        #expect(profileRefusal(Self.profile(practiceID: "{ column: id, right: 0 }")) == "profile t.yaml line 7: right must be a whole number from 1 to 64")
        #expect(profileRefusal(Self.profile(practiceID: "{ column: id, pad: 999999999999 }")) == "profile t.yaml line 7: pad must be a whole number from 1 to 64")
        #expect(profileRefusal(Self.profile(practiceID: "{ column: id, add: 9223372036854775000 }")) == "profile t.yaml line 7: add must be a whole number of at most 18 digits")
        #expect(profileRefusal(Self.profile(practiceID: "{ column: id, add: x }")) == "profile t.yaml line 7: add must be a whole number of at most 18 digits")
        #expect(profileRefusal(Self.profile(practiceID: "{ column: id, right: 64, pad: 1, add: -999999999999999999 }")) == nil)
        #expect(profileRefusal(Self.profile(practiceID: "{ column: patid, right: 3, pad: 3, prefix: P }")) == nil)
    }

    // Found beside the fuzzing: a prefix longer than any canonical value was
    // silently dropped by the loader (the transform's result overflowed its
    // buffer), and a file name could point outside the extract folder.
    @Test("profile_yaml: a prefix over 63 bytes and a file name with a folder part are refused with the line")
    func prefixAndFileName() {
        let long = String(repeating: "P", count: 64)
        #expect(profileRefusal(Self.profile(practiceID: "{ column: id, prefix: \(long) }"))
                == "profile t.yaml line 7: prefix must be at most 63 bytes (no canonical value is longer than 64)")
        #expect(profileRefusal(Self.profile(practiceID: "{ column: id, prefix: \(long.dropLast()) }")) == nil)
        for name in ["../p.csv", "/etc/passwd", "sub/p.csv", "..", "a\\b.csv"] {
            let yaml = Self.profile(practiceID: "id").replacingOccurrences(of: "file: p.csv", with: "file: '\(name)'")
            #expect(profileRefusal(yaml)?.hasPrefix("profile t.yaml line 4: file must be the plain name of a file in the extract folder") == true,
                    "\(name)")
        }
    }
}
