import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// One hand-made fixture per boundary of the reference spec
/// (../shared/spec/reference-cohort.md), evaluated by the SQL engine on the
/// shipped cohort file and checked against the step worked out by hand.
///
/// Each case is one practice holding one patient: a person who meets every
/// criterion (age 46, registered for years, a chronic pain event at D-100,
/// codeine at D-200, D-150 and D-100, a fit note at D-30) changed in one way.
/// The expected step is the criterion that removes them (0: invited), so the
/// case's list is [p1] or [] and its yield is 1 up to the step before and 0 from it.
@Suite("Cohort engine: reference-spec boundaries", .enabled(if: TestDatabase.isAvailable))
struct CohortBoundaryTests {
    /// D: the 1st of a month, so a date of birth (always the 1st) can fall on it.
    static let d = LocalDate(year: 2026, month: 7, day: 1)!
    /// The extract was taken later than D, so records dated D+1 exist.
    static let extractDate = LocalDate(year: 2026, month: 7, day: 10)!
    /// History recorded before this instant counts.
    static let asOf = 1_782_950_400  // 2026-07-02T00:00:00Z
    static let codeine = "322236009", gabapentin = "321985006", pregabalin = "415160008"

    struct Person {
        var yob = 1980
        var mob: Int? = 5
        var start = -3650
        var end: Int?
        var death: Int?
        var events: [(Int, String, CodeSystem)] = [(-100, "N245.", .read2), (-30, "9D11.", .read2)]
        var rx: [(Int, String, CodeSystem)] = [(-200, codeine, .dmd), (-150, codeine, .dmd), (-100, codeine, .dmd)]

        mutating func replaceEvents(_ code: String, with new: [(Int, String, CodeSystem)]) {
            events.removeAll { $0.1 == code }
            events += new
        }
    }

    struct Case: CustomStringConvertible, Sendable {
        var practice: String
        /// The criterion that removes the patient, worked out by hand from the spec (0: invited).
        var expected: Int
        var change: @Sendable (inout Person) -> Void
        var description: String { practice }
    }

    static func at(_ offset: Int) -> LocalDate { d.adding(days: offset) }

    /// Every case. Steps: 1 registered, 2 registered 365 days, 3 alive, 4 age 18-64,
    /// 5 chronic pain, 6 pain medication, 7 out of work, 8 cancer, 9 palliative care,
    /// 10 research dissent, 11 recently invited, 12 contact ended.
    static let cases: [Case] = [
        Case(practice: "base", expected: 0) { _ in },
        // 4: age in completed years at D; date of birth the 1st of the month, 1 July when the month is empty.
        Case(practice: "age18birthday", expected: 0) { $0.yob = 2008; $0.mob = 7 },
        Case(practice: "age17", expected: 4) { $0.yob = 2008; $0.mob = 8 },
        Case(practice: "age64", expected: 0) { $0.yob = 1961; $0.mob = 8 },
        Case(practice: "age65birthday", expected: 4) { $0.yob = 1961; $0.mob = 7 },
        Case(practice: "age18nomonth", expected: 0) { $0.yob = 2008; $0.mob = nil },
        Case(practice: "age17nomonth", expected: 4) { $0.yob = 2009; $0.mob = nil },
        Case(practice: "age64nomonth", expected: 0) { $0.yob = 1962; $0.mob = nil },
        Case(practice: "age65nomonth", expected: 4) { $0.yob = 1961; $0.mob = nil },
        // 1, 2: registered at D, for at least 365 days.
        Case(practice: "reg365", expected: 0) { $0.start = -365 },
        Case(practice: "reg364", expected: 2) { $0.start = -364 },
        Case(practice: "regstartD1", expected: 1) { $0.start = 1 },
        Case(practice: "regendsD", expected: 1) { $0.end = 0 },
        Case(practice: "regendsD1", expected: 0) { $0.end = 1 },
        // 3: alive at D.
        Case(practice: "deathD", expected: 3) { $0.death = 0 },
        Case(practice: "deathD1", expected: 0) { $0.death = 1 },
        // 5: a chronic pain event within [D-730, D].
        Case(practice: "pain730", expected: 0) { $0.replaceEvents("N245.", with: [(-730, "N245.", .read2)]) },
        Case(practice: "pain731", expected: 5) { $0.replaceEvents("N245.", with: [(-731, "N245.", .read2)]) },
        Case(practice: "painD", expected: 0) { $0.replaceEvents("N245.", with: [(0, "N245.", .read2)]) },
        Case(practice: "painD1", expected: 5) { $0.replaceEvents("N245.", with: [(1, "N245.", .read2)]) },
        Case(practice: "paintermid", expected: 0) { $0.replaceEvents("N245.", with: [(-100, "N245.00", .read2)]) },
        Case(practice: "painctv3", expected: 0) { $0.replaceEvents("N245.", with: [(-100, "XE1FN", .ctv3)]) },
        Case(practice: "painothersystem", expected: 5) { $0.replaceEvents("N245.", with: [(-100, "N245.", .ctv3)]) },
        // 6: at least 3 opioid or gabapentinoid prescriptions in [D-365, D], first and last 90+ days apart.
        Case(practice: "rx2", expected: 6) { $0.rx = [(-200, codeine, .dmd), (-100, codeine, .dmd)] },
        Case(practice: "span89", expected: 6) { $0.rx = [(-189, codeine, .dmd), (-150, codeine, .dmd), (-100, codeine, .dmd)] },
        Case(practice: "span90", expected: 0) { $0.rx = [(-190, codeine, .dmd), (-150, codeine, .dmd), (-100, codeine, .dmd)] },
        Case(practice: "rx365", expected: 0) { $0.rx = [(-365, codeine, .dmd), (-300, codeine, .dmd), (-10, codeine, .dmd)] },
        Case(practice: "rx366", expected: 6) { $0.rx = [(-366, codeine, .dmd), (-300, codeine, .dmd), (-10, codeine, .dmd)] },
        Case(practice: "rxD", expected: 0) { $0.rx = [(-200, codeine, .dmd), (-100, codeine, .dmd), (0, codeine, .dmd)] },
        Case(practice: "rxD1", expected: 6) { $0.rx = [(-200, codeine, .dmd), (-100, codeine, .dmd), (1, codeine, .dmd)] },
        Case(practice: "rxmixed", expected: 0) { $0.rx = [(-200, codeine, .dmd), (-150, gabapentin, .dmd), (-100, pregabalin, .dmd)] },
        Case(practice: "rxsameday", expected: 0) { $0.rx = [(-100, codeine, .dmd), (-100, gabapentin, .dmd), (-10, codeine, .dmd)] },
        Case(practice: "rxsamedayonly2", expected: 6) { $0.rx = [(-100, codeine, .dmd), (-100, codeine, .dmd)] },
        Case(practice: "rxread2", expected: 0) { $0.rx = [(-200, "dh1..", .read2), (-150, "dh1..00", .read2), (-100, "dh1..", .read2)] },
        Case(practice: "rxothersystem", expected: 6) { $0.rx = [(-200, codeine, .bnf), (-150, codeine, .bnf), (-100, codeine, .dmd)] },
        // 7: a fit note within [D-365, D] or an unemployment code within [D-730, D].
        Case(practice: "fit365", expected: 0) { $0.replaceEvents("9D11.", with: [(-365, "9D11.", .read2)]) },
        Case(practice: "fit366", expected: 7) { $0.replaceEvents("9D11.", with: [(-366, "9D11.", .read2)]) },
        Case(practice: "fitD1", expected: 7) { $0.replaceEvents("9D11.", with: [(1, "9D11.", .read2)]) },
        Case(practice: "fitctv3", expected: 7) { $0.replaceEvents("9D11.", with: [(-30, "9D11.", .ctv3)]) },
        Case(practice: "unemp730", expected: 0) { $0.replaceEvents("9D11.", with: [(-730, "13J3.", .read2)]) },
        Case(practice: "unemp731", expected: 7) { $0.replaceEvents("9D11.", with: [(-731, "13J3.", .read2)]) },
        Case(practice: "fit366unemp700", expected: 0) { $0.replaceEvents("9D11.", with: [(-366, "9D11.", .read2), (-700, "13J3.", .read2)]) },
        // 8: cancer within [D-1825, D].
        Case(practice: "cancer1825", expected: 8) { $0.events.append((-1825, "B1...", .read2)) },
        Case(practice: "cancer1826", expected: 0) { $0.events.append((-1826, "B1...", .read2)) },
        Case(practice: "cancerD", expected: 8) { $0.events.append((0, "B34..", .read2)) },
        Case(practice: "cancerD1", expected: 0) { $0.events.append((1, "B34..", .read2)) },
        // 9: palliative care on or before D.
        Case(practice: "palliativeD", expected: 9) { $0.events.append((0, "8BAP.", .read2)) },
        Case(practice: "palliativeold", expected: 9) { $0.events.append((-5000, "8BAP.", .read2)) },
        Case(practice: "palliativeD1", expected: 0) { $0.events.append((1, "8BAP.", .read2)) },
        // 10: the latest of dissent / withdrawal on or before D is dissent; on the same date dissent wins.
        Case(practice: "dissent", expected: 10) { $0.events.append((-50, "9Nu0.", .read2)) },
        Case(practice: "dissentwithdrawn", expected: 0) { $0.events += [(-50, "9Nu0.", .read2), (-20, "9Nu1.", .read2)] },
        Case(practice: "withdrawndissent", expected: 10) { $0.events += [(-50, "9Nu1.", .read2), (-20, "9Nu0.", .read2)] },
        Case(practice: "dissentsameday", expected: 10) { $0.events += [(-20, "9Nu1.", .read2), (-20, "9Nu0.", .read2)] },
        Case(practice: "dissentD", expected: 10) { $0.events += [(-50, "9Nu1.", .read2), (0, "9Nu0.", .read2)] },
        Case(practice: "dissentD1", expected: 0) { $0.events.append((1, "9Nu0.", .read2)) },
        Case(practice: "withdrawnD1", expected: 10) { $0.events += [(-50, "9Nu0.", .read2), (1, "9Nu1.", .read2)] },
        Case(practice: "withdrawnonly", expected: 0) { $0.events.append((-50, "9Nu1.", .read2)) },
        // 11, 12: the history is written by `history` below, keyed by these practices.
        Case(practice: "inv365", expected: 11) { _ in },
        Case(practice: "inv366", expected: 0) { _ in },
        Case(practice: "invD", expected: 11) { _ in },
        Case(practice: "invimported366", expected: 0) { _ in },
        Case(practice: "invsuperseded", expected: 0) { _ in },
        Case(practice: "invsupersededlater", expected: 11) { _ in },
        Case(practice: "invignored", expected: 0) { _ in },
        Case(practice: "invdraft", expected: 0) { _ in },
        Case(practice: "invissuedlater", expected: 0) { _ in },
        Case(practice: "invothercohort", expected: 0) { _ in },
        Case(practice: "screenedout", expected: 12) { _ in },
        Case(practice: "consentedlongago", expected: 12) { _ in },
        Case(practice: "responded", expected: 0) { _ in },
        Case(practice: "declinedlater", expected: 12) { _ in },
        Case(practice: "declinedafterasof", expected: 0) { _ in },
        Case(practice: "optedoutother", expected: 0) { _ in },
    ]

    /// Run history for criteria 11 and 12 (this cohort is chronic-pain-out-of-work).
    static var history: HistoryFixture {
        let name = "chronic-pain-out-of-work"
        func p(_ practice: String) -> PatientKey { PatientKey(practice, "p1") }
        func run(_ id: Int, _ practice: String, index: Int, status: String = "issued", issuedAt: Int? = asOf - 86_400,
                 cohort: String = name, supersededBy: Int? = nil, supersededAt: Int? = nil) -> HistoryFixture.Run {
            HistoryFixture.Run(runID: id, cohortName: cohort, indexDate: at(index), status: status, issuedAt: issuedAt,
                               practices: [.init(practice, supersededBy: supersededBy, supersededAt: supersededAt)],
                               invitations: [p(practice)])
        }
        var h = HistoryFixture()
        h.runs = [
            run(101, "inv365", index: -365),
            run(102, "inv366", index: -366),
            run(103, "invsuperseded", index: -30),
            run(104, "invsuperseded", index: -20),
            run(105, "invsupersededlater", index: -30),
            run(106, "invsupersededlater", index: -20, status: "draft", issuedAt: nil),
            run(107, "invignored", index: -30),
            run(108, "invdraft", index: -30, status: "draft", issuedAt: nil),
            run(109, "invissuedlater", index: -30, issuedAt: asOf + 60),
            run(110, "invothercohort", index: -30, cohort: "another-cohort"),
            run(111, "invdraft", index: -30, status: "dry_run", issuedAt: nil),
        ]
        // 103 superseded by 104 for its practice before the history instant; 105 only after it.
        h.runs[2].practices[0] = .init("invsuperseded", supersededBy: 104, supersededAt: asOf - 3600)
        h.runs[3].invitations = []
        h.runs[4].practices[0] = .init("invsupersededlater", supersededBy: 106, supersededAt: asOf + 3600)
        h.runs[5].invitations = []
        h.invitations = [
            .init(cohortName: name, patient: p("invD"), indexDate: d, recordedAt: asOf - 10),
            .init(cohortName: name, patient: p("invimported366"), indexDate: at(-366), recordedAt: asOf - 10),
        ]
        h.outcomes = [
            .init(cohortName: name, patient: p("screenedout"), outcome: "screened_out", recordedAt: asOf - 10),
            .init(cohortName: name, patient: p("consentedlongago"), outcome: "consented", recordedAt: 1_000_000_000),
            .init(cohortName: name, patient: p("responded"), outcome: "responded", recordedAt: asOf - 10),
            .init(cohortName: name, patient: p("declinedlater"), outcome: "declined", recordedAt: asOf - 1),
            .init(cohortName: name, patient: p("declinedafterasof"), outcome: "declined", recordedAt: asOf),
            .init(cohortName: "another-cohort", patient: p("optedoutother"), outcome: "opted_out", recordedAt: asOf - 10),
        ]
        return h
    }

    static var extract: ExtractFixture {
        var x = ExtractFixture(practices: cases.map { .init($0.practice, extractDate: extractDate) })
        for c in cases {
            var person = Person()
            c.change(&person)
            x.add(.init(practiceID: c.practice, patientID: "p1", yearOfBirth: person.yob, monthOfBirth: person.mob,
                        registrationStart: at(person.start), registrationEnd: person.end.map(at), deathDate: person.death.map(at)))
            for (offset, code, system) in person.events { x.event(c.practice, "p1", at(offset), code, system) }
            for (offset, code, system) in person.rx { x.prescription(c.practice, "p1", at(offset), code, system) }
        }
        return x
    }

    static func referenceCohort(codeLists: URL) throws -> ResolvedCohort {
        let definition = try CohortParser.parse(fileAt: TestDatabase.repositoryRoot.appendingPathComponent("cohorts/chronic-pain-out-of-work.yaml"))
        return try CohortValidator.resolve(definition, codeLists: DirectoryCodeListSource(directory: codeLists))
    }

    @Test("every boundary case ends at the step worked out by hand, in its list and its yield")
    func boundaries() throws {
        let lists = try CodeListFixture.referenceDirectory()
        let cohort = try Self.referenceCohort(codeLists: lists)
        let extract = Self.extract
        try TestDatabase.withSchema { db in
            let loadID = try extract.write(to: db)
            try Self.history.write(to: db, loadID: loadID)
            let evaluation = try SQLEngine(cohort: cohort, logger: TestDatabase.quietLogger)
                .evaluate(on: db, indexDate: Self.d, practices: nil, historyAsOf: HistoryFixture.timestamp(Self.asOf), ignoredRunIDs: [107])
            let invited = Set(evaluation.invitations.map(\.practiceID))
            for c in Self.cases {
                #expect(invited.contains(c.practice) == (c.expected == 0), "\(c.practice): list")
                let yield = evaluation.yields.filter { $0.practiceID == c.practice }.map(\.remaining)
                let expected = (0...12).map { step in c.expected == 0 || step < c.expected ? 1 : 0 }
                #expect(yield == expected, "\(c.practice): yield (expected removed at step \(c.expected))")
            }
            // The total over all cases, counted by hand from the table above: 73 patients;
            // removed at step 1: 2, 2: 1, 3: 1, 4: 4, 5: 3, 6: 6, 7: 4, 8: 2, 9: 2, 10: 5, 11: 3, 12: 3; 37 invited.
            #expect(evaluation.totals.map(\.remaining) == [73, 71, 70, 69, 65, 62, 56, 52, 50, 48, 43, 40, 37])
            #expect(evaluation.totals.map(\.criterion) == ["", "registered", "registered_min_days", "alive", "age", "chronic_pain",
                                                             "pain_medication", "out_of_work", "cancer", "palliative_care",
                                                             "research_dissent", "recently_invited", "contact_ended"])
            #expect(evaluation.invitations.count == 37)
            #expect(evaluation.yields.last?.practiceID == "__total__")

            // The evidence of the base case, by hand: the latest record of each inclusion criterion.
            let base = try #require(evaluation.invitations.first { $0.practiceID == "base" })
            #expect(base.evidence == [
                CriterionEvidence(criterionID: "chronic_pain", code: "N245.", codeSystem: "read2", term: "Back pain, chronic", date: Self.at(-100)),
                CriterionEvidence(criterionID: "pain_medication", code: Self.codeine, codeSystem: "dmd", term: "Codeine phosphate 30mg tablets",
                                  date: Self.at(-100), count: 3, first: Self.at(-200), last: Self.at(-100)),
                CriterionEvidence(criterionID: "out_of_work", code: "9D11.", codeSystem: "read2", term: "Fit note issued, \"not fit for work\"", date: Self.at(-30)),
            ])
            // A Read v2 code recorded with its term id is evidence as its five-character code.
            let termID = try #require(evaluation.invitations.first { $0.practiceID == "paintermid" })
            #expect(termID.evidence[0].code == "N245.")
            // Two prescriptions on one date count as two.
            let sameDay = try #require(evaluation.invitations.first { $0.practiceID == "rxsameday" })
            #expect(sameDay.evidence[1].count == 3 && sameDay.evidence[1].code == Self.codeine && sameDay.evidence[1].date == Self.at(-10))

            // The oracle agrees on everything.
            let oracle = CohortOracle(cohort: cohort, extract: extract, history: Self.history, indexDate: Self.d,
                                      historyAsOf: Self.asOf, ignoredRunIDs: [107])
            #expect(evaluation.yields == oracle.yields())
            #expect(evaluation.invitations == oracle.invitations())
            for c in Self.cases {
                #expect(oracle.steps().first { $0.practiceID == c.practice }?.leftAt == c.expected, "oracle: \(c.practice)")
            }
        }
    }
}
