import Foundation
import Postgres
import RecruitKit

/// A small, independent reader of a canonical extract that evaluates the
/// reference cohort's criteria 1-10 (reference-cohort.md) per patient at the
/// extract date, for the synthesiser's prevalence tests.
struct ReferenceCriteriaReader {
    struct Flags {
        var chronicPain = false
        var painMedication: [Int] = []
        var fitNote = false
        var unemployment = false
        var cancer = false
        var palliative = false
        var dissent: [(day: Int, optOut: Bool)] = []
        /// Every fit-note event on or before the extract date: its date, its value, and whether it says "may be fit".
        var fitNotes: [(note: FitNote, mayBeFit: Bool)] = []

        /// Criterion 6: ≥ 3 prescriptions in the last year spanning ≥ 90 days.
        var persistentMedication: Bool {
            painMedication.count >= 3 && painMedication.max()! - painMedication.min()! >= 90
        }

        /// Criterion 10: the latest dissent-related event is a dissent (same day: dissent wins).
        var researchDissent: Bool {
            guard let latest = dissent.map(\.day).max() else { return false }
            return dissent.contains { $0.day == latest && $0.optOut }
        }
    }

    /// Criteria 1-4 held; flags per patient id.
    private(set) var population: [String: Flags] = [:]
    private(set) var patients = 0
    private(set) var events = 0
    private(set) var prescriptions = 0
    /// Code lists read: name → (system, code) pairs.
    let lists: [String: Set<SystemCode>]

    init(directory: URL, codeLists: URL, extractDate: LocalDate) throws {
        var lists: [String: Set<SystemCode>] = [:]
        for name in ["chronic-pain", "opioid-analgesics", "gabapentinoids", "fit-notes", "unemployment", "cancer",
                     "palliative-care", "research-opt-out", "research-opt-out-withdrawn"] {
            lists[name] = try CodeList.read(name: name, in: codeLists).codes
        }
        self.lists = lists
        let mayBeFit = Set(try CodeList.read(name: "fit-notes", in: codeLists).entries
            .filter { $0.term.lowercased().contains("may be fit") }.map { SystemCode(system: $0.system, code: $0.code) })
        let D = extractDate.dayNumber

        let people = try CSVReader(url: directory.appendingPathComponent("patients.csv"))
        _ = try people.next()
        while try people.next() {
            patients += 1
            let f = people.strings
            let yob = Int(f[2])!, mob = Int(f[3]) ?? 0
            let birth = LocalDate(year: yob, month: mob == 0 ? 7 : mob, day: 1)!
            let start = LocalDate(iso: f[5])!.dayNumber
            let end = f[6].isEmpty ? nil : LocalDate(iso: f[6])!.dayNumber
            let death = f[7].isEmpty ? nil : LocalDate(iso: f[7])!.dayNumber
            let age = birth.completedYears(at: extractDate)
            if start <= D, end.map({ $0 > D }) ?? true, start <= D - 365, death.map({ $0 > D }) ?? true, (18...64).contains(age) {
                population[f[0]] = Flags()
            }
        }
        let eventReader = try CSVReader(url: directory.appendingPathComponent("events.csv"))
        _ = try eventReader.next()
        while try eventReader.next() {
            events += 1
            let id = eventReader.string(0)
            guard var flags = population[id] else { continue }
            let day = LocalDate(iso: eventReader.string(1))!.dayNumber
            guard day <= D else { continue }
            var code = eventReader.string(2)
            let system = CodeSystem(rawValue: eventReader.string(3))!
            if system == .read2 && code.utf8.count == 7 { code = String(code.prefix(5)) }
            let key = SystemCode(system: system, code: code)
            let age = D - day
            if age <= 730 && lists["chronic-pain"]!.contains(key) { flags.chronicPain = true }
            if age <= 365 && lists["fit-notes"]!.contains(key) { flags.fitNote = true }
            if lists["fit-notes"]!.contains(key) {
                let value = eventReader.string(4)
                flags.fitNotes.append((FitNote(date: LocalDate(dayNumber: day), value: value.isEmpty ? nil : value), mayBeFit.contains(key)))
            }
            if age <= 730 && lists["unemployment"]!.contains(key) { flags.unemployment = true }
            if age <= 1825 && lists["cancer"]!.contains(key) { flags.cancer = true }
            if lists["palliative-care"]!.contains(key) { flags.palliative = true }
            if lists["research-opt-out"]!.contains(key) { flags.dissent.append((day, true)) }
            if lists["research-opt-out-withdrawn"]!.contains(key) { flags.dissent.append((day, false)) }
            population[id] = flags
        }
        let rxReader = try CSVReader(url: directory.appendingPathComponent("prescriptions.csv"))
        _ = try rxReader.next()
        while try rxReader.next() {
            prescriptions += 1
            let id = rxReader.string(0)
            guard var flags = population[id] else { continue }
            let day = LocalDate(iso: rxReader.string(1))!.dayNumber
            guard day <= D, D - day <= 365 else { continue }
            let key = SystemCode(system: CodeSystem(rawValue: rxReader.string(3))!, code: rxReader.string(2))
            if lists["opioid-analgesics"]!.contains(key) || lists["gabapentinoids"]!.contains(key) {
                flags.painMedication.append(day)
                population[id] = flags
            }
        }
    }

    /// The share of the population for which `predicate` holds.
    func share(_ predicate: (Flags) -> Bool) -> Double {
        Double(population.values.filter(predicate).count) / Double(max(1, population.count))
    }
}
