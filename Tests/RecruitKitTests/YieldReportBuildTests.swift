import Foundation
import Postgres
@testable import RecruitKit
import RecruitTestSupport
import Testing

/// Building the published report from counts, without a database.
@Suite struct YieldReportBuildTests {
    /// Counts like a real cohort's: `practices` practices through 12 criteria, `runs` monthly runs, feedback for each.
    static func data(practices: Int, runs: Int, seed: UInt64 = 1) -> YieldData {
        var rng = SplitMix(seed: seed)
        let keep = [0.97, 0.9, 0.998, 0.6, 0.09, 0.4, 0.35, 0.97, 0.995, 0.97, 1.0, 0.98]
        var runList: [YieldData.Run] = []
        var steps: [YieldData.Step] = []
        var outcomes: [YieldData.RunPractice: [FunnelMeasure: Int]] = [:]
        for r in 0..<runs {
            let date = LocalDate(year: 2024, month: r + 1, day: 28)!
            runList.append(YieldData.Run(id: r + 1, cohortName: "c", cohortVersion: "1", cohortSHA256: "x", indexDate: date,
                                         status: .issued, toolVersion: "t", issuedAt: nil, codelists: [], supersededPractices: []))
            for p in 0..<practices {
                var n = 1500 + Int(rng.next() % 14_500)
                let id = "P\(1000 + p)"
                for k in 0...12 {
                    if k > 0 {
                        let jitter = 0.9 + Double(rng.next() % 200) / 1000
                        n = Int(Double(n) * min(1, keep[k - 1] * jitter * (k == 11 && r > 0 ? 0.7 : 1)))
                    }
                    steps.append(YieldData.Step(runID: r + 1, practiceID: id, step: k, criterion: "c\(k)", label: "Criterion \(k)", remaining: n))
                }
                let invited = n * 85 / 100, responded = invited * 3 / 10, ineligible = responded / 2
                let inWork = ineligible * 4 / 10, offSick = ineligible * 3 / 10, notChronic = ineligible / 10
                let other = ineligible / 10
                outcomes[YieldData.RunPractice(runID: r + 1, practiceID: id)] = [
                    .screenedOut: n / 12, .notInvited: n - invited - n / 12, .invited: invited, .declined: invited / 10,
                    .responded: responded, .ineligible: ineligible, .ineligibleInWork: inWork, .ineligibleOffSickWithJob: offSick,
                    .ineligibleNotChronicPain: notChronic, .ineligibleOther: other,
                    .ineligibleReasonNotRecorded: ineligible - inWork - offSick - notChronic - other,
                    .screenedEligible: responded - ineligible, .consented: (responded - ineligible) / 3, .withdrawn: 0,
                    .reviewNotRecorded: 0, .noReply: invited - invited / 10 - responded, .replied: invited / 10 + responded,
                    .eligibleNotConsented: (responded - ineligible) - (responded - ineligible) / 3,
                    .notConsented: invited - (responded - ineligible) / 3,
                ]
            }
        }
        return YieldData(cohortName: "c", runs: runList, steps: steps, outcomes: outcomes)
    }

    /// The report's whole table, as the builder lays it out.
    static func table(_ d: YieldData) throws -> DisclosureTable {
        var builder = YieldReport.Builder(data: d)
        try builder.addAttrition()
        try builder.addFunnel()
        builder.addPractices()
        try builder.addProxy()
        try builder.addFlow()
        try builder.addProfiles()
        return builder.table
    }

    /// `d` with its invitees split into proxy classes: a few by unemployment
    /// code (small counts), the rest between spells and fit notes.
    static func withProxy(_ d: YieldData, unemploymentShare: Int = 40) -> YieldData {
        var d = d
        var total: [FunnelMeasure: Int] = [:]
        for run in d.runs {
            for (key, counts) in d.outcomes where key.runID == run.id {
                for (m, n) in counts { total[m, default: 0] += n }
                total[.eligible, default: 0] += d.steps.last { $0.runID == run.id && $0.practiceID == key.practiceID }!.remaining
            }
        }
        total[.ineligibleWorking] = (total[.ineligibleInWork] ?? 0) + (total[.ineligibleOffSickWithJob] ?? 0)
        // Split each measure so that every row's own relations still hold: take whole "people" from the leaves.
        var spell: [FunnelMeasure: Int] = [:], unemployment: [FunnelMeasure: Int] = [:], fit: [FunnelMeasure: Int] = [:]
        for m in FunnelMeasure.allCases {
            let n = total[m] ?? 0
            unemployment[m] = n / unemploymentShare
            spell[m] = (n - n / unemploymentShare) / 3
            fit[m] = n - unemployment[m]! - spell[m]!
        }
        func fix(_ r: inout [FunnelMeasure: Int]) {
            r[.ineligibleWorking] = r[.ineligibleInWork]! + r[.ineligibleOffSickWithJob]!
            r[.ineligible] = r[.ineligibleWorking]! + r[.ineligibleNotChronicPain]! + r[.ineligibleOther]! + r[.ineligibleReasonNotRecorded]!
            r[.screenedEligible] = r[.consented]! + r[.eligibleNotConsented]!
            r[.responded] = r[.ineligible]! + r[.screenedEligible]!
            r[.replied] = r[.declined]! + r[.optedOut]! + r[.responded]!
            r[.invited] = r[.noReply]! + r[.replied]!
            r[.notConsented] = r[.invited]! - r[.consented]!
            r[.eligible] = r[.screenedOut]! + r[.notInvited]! + r[.reviewNotRecorded]! + r[.invited]!
        }
        fix(&spell); fix(&unemployment)
        for m in FunnelMeasure.allCases { fit[m] = (total[m] ?? 0) - spell[m]! - unemployment[m]! }
        d.proxy = .init(criterion: "out_of_work", label: "Out-of-work proxy",
                        counts: [.spell: spell, .codeList(ProxyClass.unemployment): unemployment, .codeList(ProxyClass.fitNotes): fit])
        return d
    }

    @Test("proxy table: the classes add up to the funnel total, and no ≤7 count of a class can be narrowed below 3 values")
    func proxyProtected() throws {
        for (practices, share) in [(1, 40), (3, 25), (20, 200)] {
            let d = Self.withProxy(Self.data(practices: practices, runs: 2, seed: UInt64(practices)), unemploymentShare: share)
            let t = try Self.table(d)
            let p = SmallNumberSuppression().protect(t)
            #expect(p.unresolved.isEmpty)
            var small = 0
            for i in 0..<t.count where t.names[i].hasPrefix("proxy ") {
                let cell = DisclosureTable.Cell(index: i)
                #expect(p.readerRange(cell).contains(t.values[i]))
                if (1...7).contains(t.values[i]) {
                    small += 1
                    #expect((p.readerRange(cell).count ?? 99) >= 3, "\(t.names[i])")
                }
            }
            #expect(small > 0, "the case has small proxy counts to protect")
            // The suppression knows that the classes add up to the funnel's total, measure by measure.
            for m in FunnelMeasure.allCases {
                let total = try #require(t.cell(named: "funnel __total__ all \(m.rawValue)"))
                let parts = Set(["spell", "list:fit-notes", "list:unemployment"].compactMap { t.cell(named: "proxy \($0) \(m.rawValue)") })
                #expect(parts.count == 3)
                #expect(t.relations.contains { $0.total == total && Set($0.parts) == parts }, "\(m.rawValue): no relation to the total")
            }
            let again = DisclosureAudit.readerRanges(of: t, published: p.published, rates: p.rates, zeroPossible: p.zeroPossible)
            #expect(again == p.readerRanges)

            let report = try YieldReport.build(from: d, suppression: .init())
            let proxy = try #require(report.proxy)
            #expect(proxy.rows.map(\.proxy) == ["spell", "list:fit-notes", "list:unemployment", YieldReport.total])
            // The total row is the funnel's.
            let all = try #require(report.funnelRow(YieldReport.total, YieldReport.allMonths))
            #expect(proxy.total?.counts == all.counts)
            YieldReportReader.expectNotRecoverable(proxy)
            let csv = report.proxyCSV.split(separator: "\n").map(String.init)
            #expect(csv.count == 5)
            #expect(csv[0].hasPrefix("criterion,proxy,label,eligible,"))
            #expect(csv[4].hasPrefix("out_of_work,__total__,All invitees,"))
        }
    }

    @Test("proxy classes that do not add up to the funnel are refused, not published")
    func proxyMismatchRefused() throws {
        var d = Self.withProxy(Self.data(practices: 2, runs: 1))
        d.proxy!.counts[.spell]![.eligible]! += 1
        #expect(throws: RecruitError.self) { try YieldReport.build(from: d, suppression: .init()) }
    }

    @Test("120 practices × 3 runs: every ≤7 keeps at least 3 possible values, every range holds the truth")
    func large() throws {
        let t = try Self.table(Self.data(practices: 120, runs: 3))
        let clock = ContinuousClock()
        var result: ProtectedTable?
        let elapsed = clock.measure { result = SmallNumberSuppression().protect(t) }
        let p = try #require(result)
        print("suppression of \(t.count) cells, \(t.relations.count) relations, \(t.ratios.count) rates: \(elapsed), "
              + "\(p.rounds) audit rounds, \(p.work) constraint visits, \(p.smallCount) ≤7, \(p.secondaryCount) *")
        #expect(p.unresolved.isEmpty)
        for i in 0..<t.count {
            let cell = DisclosureTable.Cell(index: i)
            #expect(p.readerRange(cell).contains(t.values[i]))
            if (1...7).contains(t.values[i]) { #expect((p.readerRange(cell).count ?? 99) >= 3, "\(t.names[i])") }
        }
        // An independent audit of what is printed agrees.
        let again = DisclosureAudit.readerRanges(of: t, published: p.published, rates: p.rates, zeroPossible: p.zeroPossible)
        #expect(again == p.readerRanges)
    }

    @Test("CSV: labels with commas and quotes are quoted; removed is empty at step 0; suppressed counts as text")
    func csv() throws {
        var d = Self.data(practices: 1, runs: 1)
        for i in d.steps.indices where d.steps[i].step == 3 { d.steps[i].label = "Alive, \"at D\"" }
        let report = try YieldReport.build(from: d, suppression: .init())
        let lines = report.attritionCSV.split(separator: "\n").map(String.init)
        #expect(lines[0] == "run_id,index_date,practice_id,step,criterion,label,remaining,removed")
        #expect(lines[1].hasPrefix("1,2024-01-28,P1000,0,c0,Criterion 0,"))
        #expect(lines[1].hasSuffix(","))
        #expect(lines[4].hasPrefix("1,2024-01-28,P1000,3,c3,\"Alive, \"\"at D\"\"\","))
        #expect(report.attritionCSV.contains(",≤7") || report.attritionCSV.contains(",*") || !report.attrition.contains { $0.remaining.isSuppressed })
        let funnel = report.funnelCSV.split(separator: "\n").map(String.init)
        #expect(funnel[0] == "practice_id,month," + FunnelMeasure.allCases.map(\.rawValue).joined(separator: ",") + ","
                + FunnelRate.allCases.map(\.rawValue).joined(separator: ","))
        #expect(funnel.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).count }.allSatisfy { $0 == 2 + FunnelMeasure.allCases.count + FunnelRate.allCases.count })
    }

    @Test("the report's relations hold: each chain, total and sub-total adds up")
    func relationsHold() throws {
        // relate(total:parts:) checks each relation as it is added; a wrong one traps.
        let t = try Self.table(Self.data(practices: 4, runs: 2))
        #expect(t.relations.count > 0)
        #expect(t.ratios.count == (4 * 2 + 4 + 2 + 1) * FunnelRate.allCases.count + 5)
    }
}
