import Foundation
import Postgres
@testable import RecruitKit
import Testing

/// The reference cohort's criteria on 50,000 synthetic patients, against the
/// published figures in docs/synthetic-data.md (population: criteria 1-4).
@Suite("Synthetic extracts: prevalence of the reference criteria")
struct SynthPrevalenceTests {
    static let reader: Result<ReferenceCriteriaReader, any Error> = Result {
        let (dir, _) = try SynthFixture.large.get()
        return try ReferenceCriteriaReader(directory: dir, codeLists: SynthFixture.codeLists,
                                           extractDate: SynthesisOptions.defaultExtractDate)
    }

    /// Within 15 % of the target, or four binomial standard errors for rare criteria.
    func expectNear(_ measured: Double, _ target: Double, _ n: Int, _ what: String) {
        let tolerance = max(0.15 * target, 4 * (target * (1 - target) / Double(n)).squareRoot())
        print("\(what): measured \(measured), target \(target)")
        #expect(abs(measured - target) <= tolerance,
                "\(what): measured \(measured), target \(target) ± \(tolerance) on \(n) people")
    }

    @Test("the documented targets are the ones the model uses")
    func documentedTargets() {
        #expect(SyntheticFigures.Target.chronicPain == 0.25)
        #expect(SyntheticFigures.Target.persistentPainMedication == 0.045)
        #expect(SyntheticFigures.Target.fitNote == 0.10)
        #expect(SyntheticFigures.Target.unemployment == 0.015)
        #expect(SyntheticFigures.Target.cancer == 0.015)
        #expect(SyntheticFigures.Target.palliativeCare == 0.0015)
        #expect(SyntheticFigures.Target.researchDissent == 0.025)
    }

    @Test("population: about 40 % of a practice list are adults 18-64 registered a year and alive")
    func population() throws {
        let r = try Self.reader.get()
        #expect(r.patients == 50_000)
        let share = Double(r.population.count) / Double(r.patients)
        #expect((0.38...0.50).contains(share), "population share \(share)")
        // Around 40 events and 12 prescriptions per patient.
        #expect((36.0...44.0).contains(Double(r.events) / 50_000))
        #expect((10.0...14.0).contains(Double(r.prescriptions) / 50_000))
    }

    @Test("criteria 5-10 are near their published prevalences")
    func criteria() throws {
        let r = try Self.reader.get()
        let n = r.population.count
        expectNear(r.share(\.chronicPain), 0.25, n, "chronic pain event in 2 years")
        expectNear(r.share(\.persistentMedication), 0.045, n, ">= 3 opioid/gabapentinoid prescriptions over >= 90 days in a year")
        expectNear(r.share(\.fitNote), 0.10, n, "fit note in a year")
        if r.lists["unemployment"]!.isEmpty {
            #expect(r.share(\.unemployment) == 0)
        } else {
            expectNear(r.share(\.unemployment), 0.015, n, "unemployment code in 2 years")
        }
        expectNear(r.share(\.cancer), 0.015, n, "cancer in 5 years")
        expectNear(r.share(\.palliative), 0.0015, n, "palliative care ever")
        expectNear(r.share(\.researchDissent), 0.025, n, "research dissent in force")
    }

    @Test("chronic pain makes persistent pain medication and fit notes more likely")
    func correlations() throws {
        let r = try Self.reader.get()
        let pain = r.population.values.filter(\.chronicPain), noPain = r.population.values.filter { !$0.chronicPain }
        func share(_ group: [ReferenceCriteriaReader.Flags], _ p: (ReferenceCriteriaReader.Flags) -> Bool) -> Double {
            Double(group.filter(p).count) / Double(group.count)
        }
        #expect(share(pain, \.persistentMedication) > 8 * share(noPain, \.persistentMedication))
        #expect(share(pain, \.fitNote) > 1.5 * share(noPain, \.fitNote))
        let both = pain.filter(\.persistentMedication)
        #expect(share(both, \.fitNote) > share(pain, \.fitNote))
        // The whole cohort (criteria 5-10) is a small, non-empty share.
        let cohort = r.share { $0.chronicPain && $0.persistentMedication && ($0.fitNote || $0.unemployment)
            && !$0.cancer && !$0.palliative && !$0.researchDissent }
        #expect((0.005...0.03).contains(cohort), "cohort share \(cohort)")
    }

    @Test("long-term prescriptions recur every 28 or 56 days, with gaps")
    func repeatPatterns() throws {
        let (dir, _) = try SynthFixture.large.get()
        let reader = try CSVReader(url: dir.appendingPathComponent("prescriptions.csv"))
        _ = try reader.next()
        var last: [String: Int] = [:]   // patient+code → last repeat day
        var intervals: [Int: Int] = [:]
        var rows = 0
        while try reader.next(), rows < 400_000 {
            rows += 1
            guard reader.string(6) == "repeat" else { continue }
            let key = reader.string(0) + reader.string(2)
            let day = LocalDate(iso: reader.string(1))!.dayNumber
            if let previous = last[key] { intervals[day - previous, default: 0] += 1 }
            last[key] = day
        }
        let total = intervals.values.reduce(0, +)
        let near28 = (25...33).reduce(0) { $0 + intervals[$1, default: 0] }
        let near56 = (53...61).reduce(0) { $0 + intervals[$1, default: 0] }
        let gaps = intervals.filter { $0.key > 61 }.values.reduce(0, +)
        #expect(Double(near28 + near56) / Double(total) > 0.85)
        #expect(near28 > 0 && near56 > 0 && gaps > 0)
    }
}
