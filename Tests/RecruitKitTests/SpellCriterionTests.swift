import Foundation
import Postgres
@testable import RecruitKit
import RecruitTestSupport
import Testing

/// The `sickness_spell` criterion in the cohort language: located errors for
/// bad values, its protocol text, and the shipped spells cohort.
@Suite("Cohort language: sickness_spell")
struct SpellCriterionTests {
    typealias P = CohortParserTests

    static func spell(_ body: String, parameters: String = "  gap: 7\n") -> String {
        P.cohort("""
              - id: spell
                label: Spell
                include:
                  sickness_spell:
            \(body.split(separator: "\n").map { "          " + $0 }.joined(separator: "\n"))

            """, parameters: parameters)
    }

    @Test("bad values are refused with the line and column of the value")
    func badValues() {
        let p = CohortParserTests()
        #expect(p.problems(Self.spell("codelists: [fit-notes]\nmax_gap_days: -1")).first?.hasPrefix("12:25: criterion 1 (include): sickness_spell: max_gap_days: expected a whole number or the name of a parameter, found the number -1") == true,
                "\(p.problems(Self.spell("codelists: [fit-notes]\nmax_gap_days: -1")))")
        #expect(p.problems(Self.spell("codelists: [fit-notes]\ndefault_cover_days: 0"))
            == ["12:31: sickness_spell: default_cover_days must be a whole number of days from 1 to 365, not 0"])
        #expect(p.problems(Self.spell("codelists: [fit-notes]\ndefault_cover_days: 366"))
            == ["12:31: sickness_spell: default_cover_days must be a whole number of days from 1 to 365, not 366"])
        #expect(p.problems(Self.spell("codelists: [fit-notes]\nmin_spell_days: 0"))
            == ["12:27: sickness_spell: min_spell_days must be 1 or more, not 0"])
        // A minimum longer than the window in which notes are seen can never be met.
        #expect(p.problems(Self.spell("codelists: [fit-notes]\nwindow: {from: D - 60}\nmin_spell_days: 90"))
            == ["13:27: sickness_spell: min_spell_days 90 can never be met: notes are seen only from D - 60, at most 61 days so far"])
        // Through a parameter: the override that makes it impossible is named.
        #expect(p.problems(Self.spell("codelists: [fit-notes]\nmax_gap_days: gap"), overrides: ["gap": 0]) == [])
        #expect(p.problems(Self.spell("codelists: [fit-notes]\nmin_spell_days: gap\nwindow: {from: D - 3}"), overrides: ["gap": 9])
            == ["12:27: sickness_spell: min_spell_days 9 can never be met: notes are seen only from D - 3, at most 4 days so far (parameter gap)"])
        // The window ends at D; 'codelists' is needed; unknown keys are named.
        #expect(p.problems(Self.spell("codelists: [fit-notes]\nwindow: {from: D - 60, to: D - 10}")).first?.contains("the window has only 'from'") == true)
        #expect(p.problems(Self.spell("max_gap_days: 7")).first?.hasSuffix("'codelists' is missing") == true)
        #expect(p.problems(Self.spell("codelists: [fit-notes]\nmin_days: 7")).first?.contains("min_days") == true)
    }

    @Test("omitted numbers take the spec's defaults; the protocol text says what a spell is")
    func defaultsAndText() throws {
        let p = CohortParserTests()
        let cohort = try CohortValidator.resolve(try p.parse(Self.spell("codelists: [fit-notes]")), codeLists: CohortParserTests.Lists())
        guard case .spell(let q) = cohort.criteria[0].condition else { Issue.record("not a spell"); return }
        #expect(q.parameters == .defaults)
        #expect(cohort.criteria[0].hasSpellEvidence)
        let text = CohortExplainer.text(cohort).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(text.contains("a current sickness spell of at least 90 days so far"))
        #expect(text.contains("no more than 7 days after the end of the cover so far"))
        #expect(text.contains("otherwise 28 days"))
        #expect(text.contains("ending on or after D - 28 days"))
    }

    @Test("the shipped spells cohort is the reference cohort with criterion 7 replaced")
    func shippedSpellsCohort() throws {
        let root = TestDatabase.repositoryRoot.appendingPathComponent("cohorts")
        let reference = try CohortValidator.resolve(try CohortParser.parse(fileAt: root.appendingPathComponent("chronic-pain-out-of-work.yaml")),
                                                    codeLists: CohortParserTests.Lists())
        let spells = try CohortValidator.resolve(try CohortParser.parse(fileAt: root.appendingPathComponent("chronic-pain-out-of-work-spells.yaml")),
                                                 codeLists: CohortParserTests.Lists())
        #expect(spells.name == "chronic-pain-out-of-work-spells")
        #expect(spells.criteria.map(\.id) == reference.criteria.map(\.id))
        for (a, b) in zip(reference.criteria, spells.criteria) where a.step != 7 {
            #expect(a.condition == b.condition && a.label == b.label && a.effect == b.effect, "criterion \(a.step)")
        }
        let seven = spells.criteria[6]
        #expect(seven.label == "Out-of-work proxy (spells)" && seven.effect == .include)
        guard case .anyOf(let parts) = seven.condition, parts.count == 2, case .spell(let q) = parts[0],
              case .records(let unemployment) = parts[1] else { Issue.record("criterion 7 is not a spell or an unemployment code"); return }
        #expect(q.codeLists == ["fit-notes"] && q.parameters == .defaults && q.window.fromDaysBefore == nil)
        #expect(unemployment.codeLists == ["unemployment"] && unemployment.window.fromDaysBefore?.value == 730)
    }
}
