import Foundation
import Postgres
import RecruitKit

/// A small, fast, seeded random number generator (SplitMix64): the same seed
/// gives the same extract on every machine.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    public mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
    public mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
}

/// Random extracts (and run history) for property tests: dates clustered at
/// every window edge (each edge, a day inside and a day outside, D and D+1),
/// ages at the age limits, registrations and deaths around D, codes from the
/// code lists, the same strings in other coding systems, and unrelated codes.
public struct RandomExtract {
    public var rng: SeededRandom
    public let d: LocalDate
    /// Window lengths in days (edges at D minus each).
    public let edges: [Int]
    /// Ages whose limits matter.
    public let ages: [Int]
    public let codeLists: [String: [CodeListFixture.Row]]

    public init(seed: UInt64, indexDate: LocalDate, edges: [Int], ages: [Int], codeLists: [String: [CodeListFixture.Row]]) {
        rng = SeededRandom(seed: seed)
        d = indexDate
        self.edges = edges
        self.ages = ages
        self.codeLists = codeLists
    }

    public static let practiceIDs = ["A81001", "a81001", "Z9", "b2"]

    /// A date near an edge, near D, or anywhere in the last seven years.
    public mutating func date() -> LocalDate {
        switch rng.int(0...9) {
        case 0...5: return d.adding(days: -rng.pick(edges) + rng.int(-1...1))
        case 6: return d.adding(days: rng.int(-1...1))
        default: return d.adding(days: -rng.int(0...2600))
        }
    }

    /// A code: usually from a list, sometimes its string in another system, sometimes unrelated.
    public mutating func code(_ lists: [String]) -> (String, CodeSystem) {
        let row = rng.pick(codeLists[rng.pick(lists)] ?? [])
        switch rng.int(0...9) {
        case 0: return (row.code, rng.pick(CodeSystem.allCases.filter { $0 != row.system }))
        case 1: return ("ZZZZ\(rng.int(0...9))", row.system)
        default: return (row.code, row.system)
        }
    }

    public mutating func extract(patients: Int, extractDate: LocalDate) -> ExtractFixture {
        var x = ExtractFixture(practices: Self.practiceIDs.map { .init($0, extractDate: extractDate) })
        let eventLists = ["chronic-pain", "fit-notes", "unemployment", "cancer", "palliative-care", "research-opt-out", "research-opt-out-withdrawn"]
        let drugLists = ["opioid-analgesics", "gabapentinoids"]
        for i in 0..<patients {
            let practice = rng.pick(Self.practiceIDs)
            let patient = rng.pick(["p", "P", "q-", "Q_", "_"]) + String(i)
            // A third are likely candidates (typical age, long registered, the records the
            // inclusion criteria want, near their edges); the rest are anyone.
            let candidate = rng.chance(0.35)
            // Ages: at a limit (birthday on D when D is the 1st) or typical.
            let age = !candidate && rng.chance(0.5) ? rng.pick(ages) + rng.int(-1...1) : rng.int(25...50)
            var yob = d.year - age
            var mob: Int? = rng.chance(0.2) ? nil : rng.int(1...12)
            if rng.chance(0.3) { mob = d.month; yob = d.year - age }
            let start: LocalDate = candidate || rng.chance(0.7) ? d.adding(days: -rng.int(400...9000)) : date()
            let end: LocalDate? = candidate || rng.chance(0.85) ? nil : max(start, d.adding(days: rng.int(-3...3)))
            let death: LocalDate? = candidate || rng.chance(0.9) ? nil : max(start, d.adding(days: rng.int(-2...2)))
            x.add(.init(practiceID: practice, patientID: patient, yearOfBirth: yob, monthOfBirth: mob,
                        sex: rng.pick(["M", "F", "I", "U"]), registrationStart: start, registrationEnd: end, deathDate: death))
            if candidate {
                for list in ["chronic-pain", "fit-notes", "fit-notes", "unemployment"] where rng.chance(0.8) {
                    let row = rng.pick(codeLists[list] ?? [])
                    x.event(practice, patient, rng.chance(0.5) ? date() : d.adding(days: -rng.int(0...360)), row.code, row.system)
                }
                let n = rng.int(2...4)
                let last = d.adding(days: -rng.pick([0, 0, 1, 10, 30]))
                let span = rng.pick([89, 90, 91, 120, 200, 365, 366])
                for k in 0..<n {
                    let row = rng.pick((codeLists["opioid-analgesics"] ?? []) + (codeLists["gabapentinoids"] ?? []))
                    let when = k == 0 ? last.adding(days: -span) : (k == 1 ? last : last.adding(days: -rng.int(0...span)))
                    x.prescription(practice, patient, when, row.code, row.system)
                }
            }
            for _ in 0..<rng.int(0...10) {
                let (code, system) = self.code(eventLists)
                let stored = system == .read2 && code.count == 5 && rng.chance(0.3) ? code + rng.pick(["00", "11"]) : code
                x.event(practice, patient, date(), stored, system)
            }
            // Prescriptions: a repeat series whose count and span straddle the limits, plus strays.
            if rng.chance(0.7) {
                let n = rng.int(1...4)
                let first = d.adding(days: -rng.pick(edges) + rng.int(-1...1))
                let span = rng.pick([89, 90, 91, rng.int(0...400)])
                for k in 0..<n {
                    let (code, system) = self.code(drugLists)
                    let when = n == 1 ? first : first.adding(days: k == n - 1 ? span : rng.int(0...span))
                    x.prescription(practice, patient, when, code, system)
                }
            }
            for _ in 0..<rng.int(0...2) {
                let (code, system) = self.code(drugLists)
                x.prescription(practice, patient, date(), code, system)
            }
        }
        return x
    }

    /// Random history for `cohortName` over the extract's patients: issued, draft,
    /// superseded and later runs, imported invitations and outcomes, recorded
    /// before and after `asOf`.
    public mutating func history(for extract: ExtractFixture, cohortName: String, asOf: Int) -> HistoryFixture {
        var h = HistoryFixture()
        let keys = extract.patients.map { PatientKey($0.practiceID, $0.patientID) }
        guard !keys.isEmpty else { return h }
        for runID in 1...6 {
            let practices = Self.practiceIDs.filter { _ in rng.chance(0.7) }
            guard !practices.isEmpty else { continue }
            let invited = keys.filter { practices.contains($0.practiceID) && rng.chance(0.15) }
            let previous = h.runs.last?.runID
            let superseded = previous != nil && rng.chance(0.4)
            h.runs.append(.init(
                runID: runID, cohortName: rng.chance(0.85) ? cohortName : "other-cohort",
                indexDate: d.adding(days: -rng.pick(edges + [0, 10]) + rng.int(-1...1)),
                status: rng.pick(["issued", "issued", "issued", "draft", "dry_run"]),
                issuedAt: asOf + rng.pick([-86_400, -1, 0, 3600]),
                practices: practices.map { p in
                    superseded && rng.chance(0.5) ? .init(p, supersededBy: previous, supersededAt: asOf + rng.pick([-60, 0, 60])) : .init(p)
                },
                invitations: invited))
        }
        for key in keys where rng.chance(0.05) {
            h.invitations.append(.init(cohortName: rng.chance(0.9) ? cohortName : "other-cohort", patient: key,
                                       indexDate: date(), recordedAt: asOf + rng.pick([-100, -1, 0, 100])))
        }
        for key in keys where rng.chance(0.08) {
            h.outcomes.append(.init(cohortName: rng.chance(0.9) ? cohortName : "other-cohort", patient: key,
                                    outcome: rng.pick(Condition.knownOutcomes), recordedAt: asOf + rng.pick([-100, -1, 0, 100])))
        }
        return h
    }
}
