import Foundation
import Postgres
@testable import RecruitKit
import Testing

/// The fit notes of 50,000 synthetic patients (seed 7) against the published
/// figures of docs/synthetic-data.md, and the truth file beside the extract.
@Suite("Synthetic extracts: fit-note patterns and true work status")
struct SynthFitNoteTests {
    static let D = SynthesisOptions.defaultExtractDate

    struct Measures {
        var notesLastYear = 0, fiveWeeksOrMore = 0, mayBeFit = 0, withValue = 0
        var episodes = 0, over12Weeks = 0
        var longFirstSixMonths: [String] = []
        var status: [String: String] = [:]
        var reader: ReferenceCriteriaReader
    }

    static let measures: Result<Measures, any Error> = Result {
        let (dir, _) = try SynthFixture.large.get()
        let reader = try ReferenceCriteriaReader(directory: dir, codeLists: SynthFixture.codeLists, extractDate: D)
        var m = Measures(reader: reader)
        for (id, flags) in reader.population {
            for (note, mayBeFit) in flags.fitNotes where note.date.days(to: D) < 365 {
                m.notesLastYear += 1
                if mayBeFit { m.mayBeFit += 1 }
                if let value = note.value {
                    m.withValue += 1
                    if Int(value)! >= 35 { m.fiveWeeksOrMore += 1 }
                }
            }
            // Episodes as NHS England links notes (7 days), over the last three years.
            let r = SicknessSpells.evaluate(notes: flags.fitNotes.map(\.note), indexDate: D)
            // A note without a value covers its real days, which the default of 28 may
            // fall short of and so split the episode: the six-month rule is checked on
            // people whose notes all record their days.
            let allValued = flags.fitNotes.allSatisfy { $0.note.value != nil }
            for spell in r.spells {
                for note in spell.notes where allValued && spell.start.days(to: note.date) < 182 && (Int(note.value ?? "0") ?? 0) > 91 {
                    m.longFirstSixMonths.append("\(id) \(note)")
                }
                guard spell.start.days(to: D) < 3 * 365 else { continue }
                m.episodes += 1
                // Days the episode covers (capped at the extract date).
                if spell.daysSoFar > 84 { m.over12Weeks += 1 }
            }
        }
        let truth = try String(contentsOf: SynthFixture.truthFile("large"), encoding: .utf8)
        for line in truth.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            m.status[f[0]] = f[2]
        }
        return m
    }

    @Test("notes: about 42 % cover five weeks or more, 6 % say 'may be fit', 90 % record their days")
    func notes() throws {
        let m = try Self.measures.get()
        #expect(m.notesLastYear > 3_000, "\(m.notesLastYear) notes")
        let long = Double(m.fiveWeeksOrMore) / Double(m.withValue)
        let may = Double(m.mayBeFit) / Double(m.notesLastYear)
        let valued = Double(m.withValue) / Double(m.notesLastYear)
        print("fit notes in the last year: \(m.notesLastYear); >= 5 weeks \(long); may be fit \(may); with value \(valued)")
        #expect((0.36...0.48).contains(long), "notes of 5 weeks or more: \(long)")
        #expect((0.045...0.075).contains(may), "may be fit: \(may)")
        #expect((0.86...0.94).contains(valued), "notes with a value: \(valued)")
    }

    @Test("episodes: about 15 % last over 12 weeks; no note covers more than 3 months in an episode's first six months")
    func episodes() throws {
        let m = try Self.measures.get()
        let share = Double(m.over12Weeks) / Double(m.episodes)
        print("episodes in three years: \(m.episodes); over 12 weeks \(share)")
        #expect((0.11...0.20).contains(share), "episodes over 12 weeks: \(share) of \(m.episodes)")
        #expect(m.longFirstSixMonths.isEmpty, "\(m.longFirstSixMonths.prefix(5))")
    }

    @Test("the truth file lists every patient; a current 90-day spell points to people out of work far more than any fit note")
    func truth() throws {
        let m = try Self.measures.get()
        let (dir, summary) = try SynthFixture.large.get()
        #expect(m.status.count == 50_000)
        #expect(summary.workStatus?.values.reduce(0, +) == 50_000)
        // Never inside the extract folder.
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("large.truth.csv").path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { !$0.contains("truth") })
        var spell = (all: 0, out: 0, sick: 0), anyNote = (all: 0, out: 0, sick: 0), population = (all: 0, out: 0)
        for (id, flags) in m.reader.population {
            let status = try #require(m.status[id])
            #expect(["in_work", "off_sick_with_job", "out_of_work"].contains(status), "\(id): \(status) in the working-age population")
            population.all += 1
            if status == "out_of_work" { population.out += 1 }
            if flags.fitNote {
                anyNote.all += 1
                if status == "out_of_work" { anyNote.out += 1 }
                if status == "off_sick_with_job" { anyNote.sick += 1 }
            }
            if SicknessSpells.evaluate(notes: flags.fitNotes.map(\.note), indexDate: Self.D).holds {
                spell.all += 1
                if status == "out_of_work" { spell.out += 1 }
                if status == "off_sick_with_job" { spell.sick += 1 }
            }
        }
        let pSpell = Double(spell.out) / Double(spell.all), pNote = Double(anyNote.out) / Double(anyNote.all)
        let pPopulation = Double(population.out) / Double(population.all)
        print("out of work: population \(pPopulation) (\(population.all)); fit note in a year \(pNote) (\(anyNote.all), off sick \(anyNote.sick)); current spell \(pSpell) (\(spell.all), off sick \(spell.sick))")
        #expect(pSpell > 0.6 && pSpell > pNote + 0.2, "out of work: spell \(pSpell), any note \(pNote)")
        #expect(pNote > 2 * pPopulation)
        // Some people with a current spell still have a job: the proxy is not perfect.
        #expect(spell.sick > 0)
    }
}
