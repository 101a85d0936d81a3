import Foundation
import Postgres
@testable import RecruitKit
import RecruitTestSupport
import Testing

/// The cohort language: parsing, located errors, validation, explanation and
/// the shape of the compiled SQL (no database needed).
@Suite("Cohort definitions: parsing and validation")
struct CohortParserTests {
    static let referenceFile = TestDatabase.repositoryRoot.appendingPathComponent("cohorts/chronic-pain-out-of-work.yaml")

    /// Code lists for validation: every name exists except those in `missing`.
    struct Lists: CohortCodeListSource {
        var missing: Set<String> = []
        var summary: String { "test-lists" }
        func codeList(named name: String) throws -> ResolvedCodeList? {
            missing.contains(name) ? nil : ResolvedCodeList(name: name, sha256: "x", codes: [SystemCode(system: .read2, code: "N245.")])
        }
    }

    func parse(_ yaml: String) throws -> CohortDefinition {
        try CohortParser.parse(data: Data(yaml.utf8), file: "test.yaml")
    }

    /// The problems a definition has (parse, then validate), as `LINE:COLUMN: message`.
    func problems(_ yaml: String, lists: Lists = Lists(), overrides: [String: Int] = [:]) -> [String] {
        do {
            let definition = try parse(yaml)
            _ = try CohortValidator.resolve(definition, overrides: overrides, codeLists: lists)
            return []
        } catch let error as CohortDefinitionError {
            return error.diagnostics.map { "\($0.location.line):\($0.location.column): \($0.message)" }
        } catch {
            return ["\(error)"]
        }
    }

    static func cohort(_ criteria: String, parameters: String = "  days: 30\n") -> String {
        "name: test\nversion: \"1\"\ndescription: A test.\nparameters:\n\(parameters)criteria:\n\(criteria)"
    }

    @Test("the shipped reference cohort says what the spec says, in order")
    func reference() throws {
        let definition = try CohortParser.parse(fileAt: Self.referenceFile)
        let cohort = try CohortValidator.resolve(definition, codeLists: Lists())
        #expect(cohort.name == "chronic-pain-out-of-work")
        #expect(cohort.criteria.map(\.label) == [
            "Registered at D", "Registered at least 365 days", "Alive at D", "Aged 18 to 64 at D",
            "Chronic pain condition", "Persistent pain medication", "Out-of-work proxy",
            "Cancer", "Palliative care", "Research dissent", "Recently invited", "Contact ended",
        ])
        #expect(cohort.criteria.map(\.effect) == Array(repeating: .include, count: 7) + Array(repeating: .exclude, count: 5))
        #expect(definition.codeListNames == ["chronic-pain", "opioid-analgesics", "gabapentinoids", "fit-notes", "unemployment",
                                             "cancer", "palliative-care", "research-opt-out", "research-opt-out-withdrawn"])
        // Every number of the spec is a parameter of the file, not a literal.
        let literals = definition.criteria.flatMap(\.condition.quantities).filter {
            if case .literal(let v) = $0.value { return v != 0 } else { return false }
        }
        #expect(literals.isEmpty, "numbers written out: \(literals)")
        #expect(cohort.parameters == ["min_registration_days": 365, "min_age": 18, "max_age": 64, "chronic_pain_lookback_days": 730,
                                      "medication_lookback_days": 365, "min_prescriptions": 3, "min_prescription_span_days": 90,
                                      "fit_note_lookback_days": 365, "unemployment_lookback_days": 730, "cancer_lookback_days": 1825,
                                      "reinvite_interval_days": 365])
        guard case .records(let rx) = cohort.criteria[5].condition else { Issue.record("criterion 6"); return }
        #expect(rx.source == .prescriptions && rx.codeLists == ["opioid-analgesics", "gabapentinoids"])
        #expect(rx.minCount.value == 3 && rx.minSpanDays?.value == 90 && rx.window.fromDaysBefore?.value == 365 && rx.window.toDaysBefore.value == 0)
        guard case .latest(let dissent) = cohort.criteria[9].condition else { Issue.record("criterion 10"); return }
        #expect(dissent.isIn == "research-opt-out" && dissent.ties == .isInWins && dissent.window.fromDaysBefore == nil)
        guard case .contactEnded(let outcomes) = cohort.criteria[11].condition else { Issue.record("criterion 12"); return }
        #expect(Set(outcomes) == ["screened_out", "declined", "opted_out", "ineligible", "consented", "withdrawn"])
    }

    @Test("labels follow the parameters: a changed number never leaves a stale label")
    func labelsFollowParameters() throws {
        let definition = try CohortParser.parse(fileAt: Self.referenceFile)
        let cohort = try CohortValidator.resolve(definition, overrides: ["min_age": 16, "min_registration_days": 90], codeLists: Lists())
        #expect(cohort.criteria[1].label == "Registered at least 90 days")
        #expect(cohort.criteria[3].label == "Aged 16 to 64 at D")
        #expect(throws: RecruitError.self) { try CohortValidator.resolve(definition, overrides: ["no_such": 1], codeLists: Lists()) }
    }

    @Test("an unknown key is reported with file, line and column")
    func unknownKey() {
        let yaml = Self.cohort("""
              - id: pain
                label: Pain
                include:
                  has_events:
                    codelists: [chronic-pain]
                    colour: red
            """)
        #expect(problems(yaml) == ["12:9: criterion 1 (include): has_events: unknown key 'colour' (expected codelists, window, min_count, min_span_days or code_systems)"])
        #expect(problems("name: x\nversion: '1'\ncriteria: []\nowner: me\n").contains("4:1: cohort file: unknown key 'owner' (expected name, version, description, parameters or criteria)"))
    }

    @Test("an unknown code list is reported where it is named")
    func unknownCodeList() throws {
        let yaml = Self.cohort("""
              - id: pain
                label: Pain
                include: {has_events: {codelists: [chronic-pain, chronic-pian]}}
            """)
        #expect(problems(yaml, lists: Lists(missing: ["chronic-pian"])) == ["9:54: unknown code list 'chronic-pian' (no chronic-pian.csv in test-lists)"])
        let error = try #require(throws: CohortDefinitionError.self) {
            _ = try CohortValidator.resolve(try parse(yaml), codeLists: Lists(missing: ["chronic-pian"]))
        }
        #expect(error.recruitError.kind == .refused)
        #expect(error.description.contains("test.yaml:9:54: unknown code list 'chronic-pian'"))
    }

    @Test("a window that ends after D is refused, written out or through a parameter")
    func windowAfterD() {
        let written = Self.cohort("""
              - id: pain
                label: Pain
                include: {has_events: {codelists: [chronic-pain], window: {from: D - 30, to: D + 1}}}
            """)
        #expect(problems(written) == ["9:82: window ends after D (D + 1): nothing dated after the index date may count"])
        let starts = Self.cohort("""
              - id: pain
                label: Pain
                include: {has_events: {codelists: [chronic-pain], window: {from: D + days}}}
            """)
        #expect(problems(starts) == ["9:70: window starts after D (D + days = D + 30): nothing dated after the index date may count",
                                     "9:70: the window is empty: it starts (D + days = D + 30) after it ends (D)"])
        let empty = Self.cohort("""
              - id: pain
                label: Pain
                include: {previously_invited: {window: {from: D - 10, to: D - days}}}
            """)
        #expect(problems(empty) == ["9:51: the window is empty: it starts (D - 10) after it ends (D - days = D - 30)"])
    }

    @Test("type errors name what was expected and what was found")
    func typeErrors() {
        let yaml = Self.cohort("""
              - id: pain
                label: Pain
                include:
                  has_prescriptions:
                    codelists: opioid-analgesics
                    min_count: [3]
                    min_span_days: 1.5
                    window: {from: 730}
              - id: Age
                label: [Age]
                include: {age: {min: eighteen}}
              - id: sex
                label: Sex
                exclude: {sex: F}
              - id: flag
                label: Alive
                include: {alive_at_index_date: false}
            """)
        #expect(problems(yaml) == [
            "11:20: criterion 1 (include): has_prescriptions: codelists: expected a list, found the text 'opioid-analgesics'",
            "12:20: criterion 1 (include): has_prescriptions: min_count: expected a whole number or the name of a parameter, found a list",
            "13:24: criterion 1 (include): has_prescriptions: min_span_days: expected a whole number or the name of a parameter, found the number 1.5",
            "14:24: criterion 1 (include): has_prescriptions: window: from: expected a date relative to the index date: D, D - 365 or D - a_parameter, found the number 730",
            "15:9: criterion 2: id 'Age' must be lower-case letters, digits and '_', starting with a letter",
            "16:12: criterion 2: label: expected text, found a list",
            "17:26: criterion 2 (include): age: min: unknown parameter 'eighteen' (declared: days)",
            "20:20: criterion 3 (exclude): sex: expected a list, found the text 'F'",
            "23:36: criterion 4 (include): alive_at_index_date: expected true, found the boolean false (to negate a condition use exclude or not)",
        ])
    }

    @Test("structural mistakes: missing keys, two conditions, duplicate ids, bad YAML")
    func structure() {
        let yaml = Self.cohort("""
              - id: a
                label: A
              - id: a
                label: B
                include: {alive_at_index_date: true, registered_at_index_date: true}
              - id: c
                label: C
                include: {alive_at_index_date: true}
                exclude: {alive_at_index_date: true}
              - id: c
                label: D
                include: {latest_event: {codelists: [x, y], is_in: z}}
            """)
        #expect(problems(yaml) == [
            "7:5: criterion 1: 'include' or 'exclude' is missing",
            "11:14: criterion 2 (include): a condition has exactly one key; combine several with all_of or any_of",
            "15:5: criterion 3: give either include or exclude, not both",
            "18:29: criterion 4 (include): latest_event: 'on_same_date' is missing (say which wins when the latest records share a date: is_in_wins or others_win)",
        ])
        let duplicate = Self.cohort("""
              - id: a
                label: A
                include: {alive_at_index_date: true}
              - id: a
                label: B
                include: {alive_at_index_date: true}
            """)
        #expect(problems(duplicate) == ["10:5: criterion 2: id 'a' is already used by the criterion at line 7"])
        #expect(problems("name: x\nversion: [1\n").first?.hasPrefix("3:1: not valid YAML") == true)
        #expect(problems("name: x\nname: y\nversion: '1'\ncriteria: []\n").first?.contains("'name'") == true)
        #expect(problems("") == ["1:1: the file is empty: expected name, version, description, parameters and criteria"])
    }

    @Test("is_in must be one of the lists; outcomes and coding systems are checked")
    func latestAndHistory() {
        let yaml = Self.cohort("""
              - id: d
                label: D
                exclude: {latest_event: {codelists: [x, y], is_in: z, on_same_date: is_in_wins}}
              - id: e
                label: E
                exclude: {contact_ended: {outcomes: [declined, vanished]}}
              - id: f
                label: F
                include: {has_events: {codelists: [x], code_systems: [read3]}}
              - id: g
                label: G
                exclude: {latest_event: {codelists: [x, y], is_in: x, on_same_date: whoever}}
            """)
        #expect(problems(yaml) == [
            "9:56: criterion 1 (exclude): latest_event: is_in: 'z' must be one of the codelists (x, y)",
            "12:52: criterion 2 (exclude): contact_ended: unknown outcome 'vanished' (expected screened_out, invited, not_invited, declined, opted_out, responded, ineligible, consented or withdrawn)",
            "15:59: criterion 3 (include): has_events: code_systems: unknown coding system 'read3' (expected read2, ctv3, snomed, dmd, bnf or icd10)",
            "18:73: criterion 4 (exclude): latest_event: on_same_date: unknown rule 'whoever' (expected is_in_wins or others_win)",
        ])
    }

    @Test("cohort explain carries every label, in order, with the values of the parameters")
    func explain() throws {
        let definition = try CohortParser.parse(fileAt: Self.referenceFile)
        // Compared with line breaks and indentation folded into single spaces.
        let text = CohortExplainer.text(try CohortValidator.resolve(definition, codeLists: Lists()))
            .split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        var position = text.startIndex
        for (i, label) in ["Registered at D", "Registered at least 365 days", "Alive at D", "Aged 18 to 64 at D", "Chronic pain condition",
                           "Persistent pain medication", "Out-of-work proxy", "Cancer", "Palliative care", "Research dissent",
                           "Recently invited", "Contact ended"].enumerated() {
            let found = try #require(text.range(of: "\(i + 1). \(label)", range: position..<text.endIndex), "\(label)")
            position = found.upperBound
        }
        #expect(text.contains("at least 3 prescriptions in code lists opioid-analgesics or gabapentinoids (together) dated within [D - 365 days, D], the earliest and the latest of them at least 90 days apart"))
        #expect(text.contains("the latest is in research-opt-out (on the same date, research-opt-out wins)"))
    }

    @Test("the compiled SQL binds every value: no code, date, number or name in its text")
    func sqlBindsEverything() throws {
        let definition = try CohortParser.parse(fileAt: Self.referenceFile)
        let lists = try CodeListFixture.referenceDirectory()
        let cohort = try CohortValidator.resolve(definition, codeLists: DirectoryCodeListSource(directory: lists))
        let query = CohortSQLCompiler.compile(cohort, context: CohortQueryContext(indexDate: LocalDate(year: 2026, month: 7, day: 1)!,
                                                                                  practices: ["A81001"], historyAsOf: "2026-07-01 00:00:00+00"))
        let text = query.statement.sql.render()
        for value in ["2026", "N245.", "9D11.", "A81001", "chronic-pain", "730", "365", "1825", "declined", "screened_out"] {
            #expect(!text.contains(value), "\(value) appears in the SQL text")
        }
        #expect(query.statement.notes.count == query.statement.sql.binds.count)
        #expect(query.statement.sql.binds.contains { $0.text == "730" })
        #expect(query.evidence.map(\.criterionID) == ["chronic_pain", "pain_medication", "out_of_work"])
        #expect(query.evidence.map(\.hasPrescriptions) == [false, true, false])
        // One statement: the yield and the list come from the same per-patient pass.
        #expect(text.components(separatedBy: "st AS MATERIALIZED").count == 2)
        #expect(!text.contains(";"))
    }
}
