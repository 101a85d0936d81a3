import Postgres
import RecruitKit
import Testing

/// `SicknessSpells` against every worked case and every boundary of
/// `shared/spec/spells.md` (D = 2024-07-01, default parameters unless a case
/// says otherwise).
@Suite("Sickness spells: the spec's worked cases and boundaries")
struct SicknessSpellsTests {
    static let d = date("2024-07-01")

    static func date(_ s: String) -> LocalDate { LocalDate(iso: s)! }
    static func n(_ s: String, _ v: String?) -> FitNote { FitNote(date: date(s), value: v) }
    /// A note `offset` days from D.
    static func at(_ offset: Int, _ v: String?) -> FitNote { FitNote(date: d.adding(days: offset), value: v) }

    func run(_ notes: [FitNote], _ p: SicknessSpellParameters = .defaults, d: LocalDate = SicknessSpellsTests.d) -> SicknessSpellResult {
        let r = SicknessSpells.evaluate(notes: notes, indexDate: d, parameters: p)
        // The order of the notes never matters.
        #expect(SicknessSpells.evaluate(notes: notes.reversed(), indexDate: d, parameters: p) == r)
        return r
    }

    // MARK: worked cases

    @Test("worked case 1: four 28-day notes back to back, one spell of 92 days so far")
    func case1() throws {
        let r = run([Self.n("2024-04-01", "28"), Self.n("2024-04-29", "28"), Self.n("2024-05-27", "28"), Self.n("2024-06-24", "28")])
        #expect(r.spells.count == 1)
        let s = try #require(r.evidence)
        #expect(s.start == Self.date("2024-04-01") && s.end == Self.date("2024-07-21") && s.daysSoFar == 92)
        #expect(s.notes.count == 4 && s.gapFromPrevious == nil && s.isCurrent)
        #expect(r.holds)
    }

    @Test("worked case 2: the third note 15 days after the cover, two spells, neither 90 days")
    func case2() {
        let r = run([Self.n("2024-04-01", "28"), Self.n("2024-04-29", "28"), Self.n("2024-06-11", "28"), Self.n("2024-06-24", "28")])
        #expect(r.spells.count == 2)
        #expect(r.spells[0].start == Self.date("2024-04-01") && r.spells[0].end == Self.date("2024-05-26") && r.spells[0].daysSoFar == 56)
        #expect(r.spells[1].start == Self.date("2024-06-11") && r.spells[1].end == Self.date("2024-07-21") && r.spells[1].daysSoFar == 21)
        #expect(r.spells[1].gapFromPrevious == 15 && r.spells[1].notes.count == 2)
        #expect(!r.holds && r.evidence == nil)
    }

    @Test("worked case 3: two 91-day notes with gap 0, 182 days so far, ending D - 1")
    func case3() throws {
        let r = run([Self.n("2024-01-01", "91"), Self.n("2024-04-01", "91")])
        #expect(r.spells.count == 1)
        let s = try #require(r.evidence)
        #expect(s.start == Self.date("2024-01-01") && s.end == Self.date("2024-06-30") && s.daysSoFar == 182)
        #expect(s.end == Self.d.adding(days: -1))
    }

    @Test("worked case 4: one 120-day note ending 63 days before D is not current")
    func case4() {
        let r = run([Self.n("2024-01-01", "120")])
        #expect(r.spells.count == 1)
        #expect(r.spells[0].end == Self.date("2024-04-29") && r.spells[0].end.days(to: Self.d) == 63)
        #expect(!r.spells[0].isCurrent && r.spells[0].daysSoFar == 120)
        #expect(!r.holds)
    }

    @Test("worked case 5: five empty notes every 28 days, 123 days so far")
    func case5() throws {
        let notes = (0..<5).map { FitNote(date: Self.date("2024-03-01").adding(days: 28 * $0), value: nil) }
        let r = run(notes)
        let s = try #require(r.evidence)
        #expect(r.spells.count == 1 && s.start == Self.date("2024-03-01") && s.end == Self.date("2024-07-18") && s.daysSoFar == 123)
        // An empty text is as empty as NULL.
        #expect(run(notes.map { FitNote(date: $0.date, value: "") }).evidence == SicknessSpell(
            start: s.start, end: s.end, daysSoFar: 123, isCurrent: true, qualifies: true,
            notes: notes.map { FitNote(date: $0.date, value: "") }, gapFromPrevious: nil))
    }

    @Test("worked case 6: a 120-day note and a note after D, which is ignored")
    func case6() throws {
        let r = run([Self.n("2024-03-31", "120"), Self.n("2024-07-02", "28")])
        let s = try #require(r.evidence)
        #expect(r.spells.count == 1 && s.start == Self.date("2024-03-31") && s.end == Self.date("2024-07-28") && s.daysSoFar == 93)
        #expect(s.notes == [Self.n("2024-03-31", "120")])
        #expect(r.notesAfterIndexDate == [Self.n("2024-07-02", "28")])
    }

    // MARK: boundaries

    @Test("gap 7 joins the spell, gap 8 starts another", arguments: [(7, 1), (8, 2), (0, 1), (-5, 1)])
    func gap(g: Int, spells: Int) {
        // 60 days of cover ending on e, then a 60-day note starting on e + 1 + g.
        let first = Self.at(-130, "60")
        let e = first.coverEnd(defaultDays: 28)
        let second = FitNote(date: e.adding(days: 1 + g), value: "60")
        let r = run([first, second])
        #expect(r.spells.count == spells)
        if spells == 2 {
            #expect(r.spells[1].gapFromPrevious == g)
            #expect(r.spells.allSatisfy { $0.daysSoFar < 90 } && !r.holds)
        } else {
            #expect(r.spells[0].end == second.coverEnd(defaultDays: 28))
            #expect(r.spells[0].daysSoFar == 120 + g && r.holds)
        }
        // max_gap_days is a parameter: 0 makes gap 1 a break.
        let tight = run([first, FitNote(date: e.adding(days: 2), value: "60")], SicknessSpellParameters(maxGapDays: 0))
        #expect(tight.spells.count == 2 && tight.spells[1].gapFromPrevious == 1)
    }

    @Test("89 days so far fails, 90 passes", arguments: [(89, false), (90, true), (91, true)])
    func minimum(days: Int, holds: Bool) throws {
        // A note starting days - 1 before D, covering well past D.
        let r = run([Self.at(-(days - 1), "120")])
        #expect(r.spells.count == 1 && r.spells[0].daysSoFar == days)
        #expect(r.holds == holds)
        // min_spell_days is a parameter.
        #expect(run([Self.at(-(days - 1), "120")], SicknessSpellParameters(minSpellDays: days)).holds)
        #expect(!run([Self.at(-(days - 1), "120")], SicknessSpellParameters(minSpellDays: days + 1)).holds)
    }

    @Test("a cover ending on D - 28 is current, on D - 29 it is not", arguments: [(28, true), (29, false), (0, true), (-1, true)])
    func current(daysBeforeD: Int, holds: Bool) throws {
        // 100 days of cover ending daysBeforeD before D.
        let end = Self.d.adding(days: -daysBeforeD)
        let r = run([FitNote(date: end.adding(days: -99), value: "100")])
        #expect(r.spells[0].end == end && r.spells[0].isCurrent == holds)
        #expect(r.holds == holds)
        #expect(r.spells[0].daysSoFar == min(100, 100 + daysBeforeD))
    }

    @Test("max_days_since_end 0: the cover must reach D")
    func reachD() {
        let p = SicknessSpellParameters(maxDaysSinceEnd: 0)
        #expect(run([FitNote(date: Self.d.adding(days: -99), value: "100")], p).holds)        // ends on D
        #expect(!run([FitNote(date: Self.d.adding(days: -100), value: "100")], p).holds)      // ends D - 1
    }

    @Test("a note's cover length from its value", arguments: [
        ("0", 28), ("1", 1), ("27", 27), ("28", 28), ("28.0", 28), ("28.000", 28), ("365", 365), ("366", 28),
        ("28.5", 28), ("0.5", 28), ("-28", 28), ("-0", 28), ("", 28), (" 14 ", 14), ("+14", 14), ("NaN", 28),
        ("Infinity", 28), ("1e2", 28), ("abc", 28), ("100000000000000000000000", 28), ("365.0000001", 28), ("28.", 28),
    ])
    func cover(value: String, days: Int) {
        #expect(FitNote(date: Self.d, value: value).coverDays(defaultDays: 28) == days)
        #expect(FitNote(date: Self.d, value: nil).coverDays(defaultDays: 28) == 28)
        // default_cover_days is a parameter.
        if days == 28 && value != "28" && value != "28.0" && value != "28.000" && value != "28." {
            #expect(FitNote(date: Self.d, value: value).coverDays(defaultDays: 14) == 14)
        }
    }

    @Test("a spell's days from notes of value 0, 365, 366, 28.5 and empty")
    func valuesInSpells() {
        let start = Self.d.adding(days: -200)
        #expect(run([FitNote(date: start, value: "365")]).spells[0].end == start.adding(days: 364))
        #expect(run([FitNote(date: start, value: "365")]).holds)
        for v in ["0", "366", "28.5", "", nil] as [String?] {
            let r = run([FitNote(date: start, value: v)])
            #expect(r.spells[0].end == start.adding(days: 27), "value \(v ?? "NULL")")
            #expect(!r.holds)
        }
        // value 1: one day of cover, ending on its own date.
        #expect(run([FitNote(date: Self.d, value: "1")]).spells[0].end == Self.d)
        #expect(run([FitNote(date: Self.d, value: "1")]).spells[0].daysSoFar == 1)
    }

    @Test("two notes on one date: the longer cover counts")
    func sameDate() throws {
        let r = run([Self.at(-95, "14"), Self.at(-95, "120")])
        #expect(r.spells.count == 1 && r.spells[0].notes.count == 2)
        #expect(r.spells[0].end == Self.d.adding(days: 24) && r.spells[0].daysSoFar == 96 && r.holds)
        // The longer cover is chained first.
        #expect(r.spells[0].notes.map(\.value) == ["120", "14"])
        // Two identical notes are two notes, one cover.
        let twin = run([Self.at(-10, "28"), Self.at(-10, "28")])
        #expect(twin.spells.count == 1 && twin.spells[0].notes.count == 2 && twin.spells[0].daysSoFar == 11)
    }

    @Test("a note on D + 1 neither joins nor extends a spell; a note on D counts")
    func afterD() {
        // A spell of 89 days so far ending on D: a note on D + 1 would make it
        // no longer (days so far stop at D) but would extend its cover; it must not.
        let base = Self.at(-88, "89")
        let r = run([base, Self.at(1, "120")])
        #expect(r.spells.count == 1 && r.spells[0].end == Self.d && r.spells[0].notes == [base])
        #expect(r.notesAfterIndexDate == [Self.at(1, "120")])
        // Only a note after D: no spell at all.
        #expect(run([Self.at(1, "365")]).spells.isEmpty)
        // A cover ended D - 29 (not current) is not made current by a note on D + 1.
        let old = FitNote(date: Self.d.adding(days: -128), value: "100")
        #expect(!run([old, Self.at(1, "28")]).holds)
        // A note on D itself joins (gap 0 from a cover ending D - 1).
        let joined = run([Self.at(-100, "100"), Self.at(0, "28")])
        #expect(joined.spells.count == 1 && joined.spells[0].end == Self.d.adding(days: 27) && joined.holds)
    }

    @Test("a note inside the cover joins and never shortens it")
    func inside() {
        let r = run([Self.at(-100, "120"), Self.at(-90, "7")])
        #expect(r.spells.count == 1 && r.spells[0].end == Self.d.adding(days: 19))
    }

    @Test("no notes: no spells, the criterion does not hold")
    func empty() {
        let r = run([])
        #expect(r.spells.isEmpty && !r.holds && r.evidence == nil)
    }

    @Test("several qualifying spells: the evidence is the latest-starting one")
    func several() throws {
        let p = SicknessSpellParameters(minSpellDays: 10, maxDaysSinceEnd: 61)
        let r = run([Self.at(-80, "20"), Self.at(-30, "40")], p)
        #expect(r.spells.count == 2 && r.spells.allSatisfy(\.qualifies))
        #expect(try #require(r.evidence).start == Self.at(-30, nil).date)
        #expect(r.spells[1].gapFromPrevious == 30)
    }

    @Test("parameter problems name their parameter")
    func problems() {
        #expect(SicknessSpellParameters.defaults.problems(lookbackDays: 365).isEmpty)
        let bad = SicknessSpellParameters(defaultCoverDays: 0, maxGapDays: -1, minSpellDays: 400, maxDaysSinceEnd: -2)
        #expect(bad.problems(lookbackDays: 365).map(\.parameter) == SicknessSpellParameters.names)
        #expect(SicknessSpellParameters(minSpellDays: 366).problems(lookbackDays: 365).isEmpty)
        #expect(SicknessSpellParameters(minSpellDays: 367).problems(lookbackDays: 365).map(\.parameter) == ["min_spell_days"])
        #expect(SicknessSpellParameters(minSpellDays: 0).problems().map(\.parameter) == ["min_spell_days"])
    }
}
