import Postgres

// Sickness-certification spells, exactly as `shared/spec/spells.md` fixes them.
//
// This file is self-contained and knows nothing of the cohort language or its
// engines: an engine hands it one patient's fit-note events, the index date D
// and the four parameters, and gets back every spell, whether the criterion
// holds and the spell that is the evidence. `SicknessSpells+SQL.swift` is the
// same computation in PostgreSQL; the integration suite checks that they agree.

/// The four numbers of the `sickness spell` criterion, every one a cohort parameter.
public struct SicknessSpellParameters: Sendable, Hashable, Codable {
    /// The cover of a note whose `value` is not a whole number of days from 1 to 365.
    public var defaultCoverDays: Int
    /// The largest gap `g` (days between the end of the spell so far and a
    /// note's start, exclusive of both) at which a note still joins the spell.
    public var maxGapDays: Int
    /// The fewest days so far that a spell must have.
    public var minSpellDays: Int
    /// How many days before D the spell's cover may have ended and still be current.
    public var maxDaysSinceEnd: Int

    /// The spec's defaults: 28, 7, 90, 28.
    public static let defaults = SicknessSpellParameters()

    public init(defaultCoverDays: Int = 28, maxGapDays: Int = 7, minSpellDays: Int = 90, maxDaysSinceEnd: Int = 28) {
        self.defaultCoverDays = defaultCoverDays
        self.maxGapDays = maxGapDays
        self.minSpellDays = minSpellDays
        self.maxDaysSinceEnd = maxDaysSinceEnd
    }

    /// The cohort-language names of the parameters, in the order `problems` reports them.
    public static let names = ["default_cover_days", "max_gap_days", "min_spell_days", "max_days_since_end"]

    /// What is wrong with these values, one message per problem, each naming
    /// its parameter (empty when they are usable). `lookbackDays`, when given,
    /// is how many days before D the criterion can see notes: a minimum spell
    /// longer than that window (plus one, D itself) can never be met.
    public func problems(lookbackDays: Int? = nil) -> [(parameter: String, message: String)] {
        var out: [(String, String)] = []
        if !(1...SicknessSpells.maxCoverDays).contains(defaultCoverDays) {
            out.append(("default_cover_days", "default_cover_days must be a whole number of days from 1 to \(SicknessSpells.maxCoverDays), not \(defaultCoverDays)"))
        }
        if maxGapDays < 0 {
            out.append(("max_gap_days", "max_gap_days must be 0 or more, not \(maxGapDays)"))
        }
        if minSpellDays < 1 {
            out.append(("min_spell_days", "min_spell_days must be 1 or more, not \(minSpellDays)"))
        } else if let lookbackDays, minSpellDays > lookbackDays + 1 {
            out.append(("min_spell_days", "min_spell_days \(minSpellDays) can never be met: notes are seen only from D - \(lookbackDays), at most \(lookbackDays + 1) days so far"))
        }
        if maxDaysSinceEnd < 0 {
            out.append(("max_days_since_end", "max_days_since_end must be 0 or more, not \(maxDaysSinceEnd)"))
        }
        return out
    }
}

/// One fit-note event: its date and its `value` as `events.value` (a
/// `numeric`) prints it, or nil when the value is NULL.
public struct FitNote: Sendable, Hashable, Codable, CustomStringConvertible {
    public var date: LocalDate
    public var value: String?

    public init(date: LocalDate, value: String?) {
        self.date = date
        self.value = value
    }

    /// The days this note covers: `value` when it is a whole number from 1 to
    /// 365, else `defaultDays`.
    public func coverDays(defaultDays: Int) -> Int {
        FitNote.wholeDays(value) ?? defaultDays
    }

    /// The last day of this note's cover (`date + L - 1`).
    public func coverEnd(defaultDays: Int) -> LocalDate {
        date.adding(days: coverDays(defaultDays: defaultDays) - 1)
    }

    /// `text` as a whole number from 1 to 365 (`28`, `28.0`, `+28`, `028.000`),
    /// or nil for anything else: empty, NULL, fractional (`28.5`), zero,
    /// negative, over 365, `NaN`, `Infinity`, an exponent or any other text.
    /// Leading and trailing spaces are ignored. `numeric` never prints an
    /// exponent, so this reads every value PostgreSQL can return.
    public static func wholeDays(_ text: String?) -> Int? {
        guard var u = text.map({ Array($0.utf8) }) else { return nil }
        while let f = u.first, f == 32 || f == 9 { u.removeFirst() }
        while let l = u.last, l == 32 || l == 9 { u.removeLast() }
        var i = 0
        var negative = false
        if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") {
            negative = u[i] == UInt8(ascii: "-")
            i += 1
        }
        var whole = 0
        var digits = 0
        while i < u.count, (48...57).contains(u[i]) {
            whole = min(whole * 10 + Int(u[i] - 48), 1_000_000)
            digits += 1
            i += 1
        }
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            while i < u.count, (48...57).contains(u[i]) {
                if u[i] != 48 { return nil }  // a fractional part that is not zero
                i += 1
            }
        }
        guard i == u.count, digits > 0, !negative else { return nil }
        return (1...SicknessSpells.maxCoverDays).contains(whole) ? whole : nil
    }

    public var description: String { "\(date)/\(value ?? "empty")" }
}

/// A spell: a maximal chain of notes, as the spec defines it.
public struct SicknessSpell: Sendable, Hashable, Codable {
    /// The first note's date.
    public var start: LocalDate
    /// The last day of the spell's cover (may be after D).
    public var end: LocalDate
    /// `min(end, D) - start + 1`.
    public var daysSoFar: Int
    /// Whether the cover ends on or after `D - max_days_since_end`.
    public var isCurrent: Bool
    /// Whether this spell meets the criterion: `daysSoFar >= min_spell_days` and current.
    public var qualifies: Bool
    /// The notes of the spell, in the order they were chained (date, then the
    /// longer cover first, then value text).
    public var notes: [FitNote]
    /// The gap `g` that broke this spell from the one before it (its first
    /// note started on `previous.end + 1 + g`, `g > max_gap_days`); nil for
    /// the patient's first spell.
    public var gapFromPrevious: Int?

    public init(start: LocalDate, end: LocalDate, daysSoFar: Int, isCurrent: Bool, qualifies: Bool,
                notes: [FitNote], gapFromPrevious: Int?) {
        self.start = start
        self.end = end
        self.daysSoFar = daysSoFar
        self.isCurrent = isCurrent
        self.qualifies = qualifies
        self.notes = notes
        self.gapFromPrevious = gapFromPrevious
    }
}

/// Everything the criterion finds for one patient.
public struct SicknessSpellResult: Sendable, Hashable, Codable {
    /// Every spell from the notes on or before D, oldest first.
    public var spells: [SicknessSpell]
    /// The notes that were ignored because they are dated after D.
    public var notesAfterIndexDate: [FitNote]
    /// The qualifying spell that is the evidence: the latest-starting one
    /// when several qualify (spells never share a start); nil when none does.
    public var evidence: SicknessSpell?
    /// Whether the criterion holds: some spell qualifies.
    public var holds: Bool { evidence != nil }

    public init(spells: [SicknessSpell], notesAfterIndexDate: [FitNote], evidence: SicknessSpell?) {
        self.spells = spells
        self.notesAfterIndexDate = notesAfterIndexDate
        self.evidence = evidence
    }
}

/// The spell computation for one patient.
public enum SicknessSpells {
    /// The longest a note can cover: a value, or `default_cover_days`, from 1 to this many days.
    public static let maxCoverDays = 365

    /// The spells of one patient's fit-note events at index date `indexDate`.
    ///
    /// `notes` may be in any order and may include notes after D (they are
    /// ignored completely and returned in `notesAfterIndexDate`). The result
    /// does not depend on the order of `notes`.
    public static func evaluate(notes: [FitNote], indexDate d: LocalDate,
                                parameters p: SicknessSpellParameters = .defaults) -> SicknessSpellResult {
        let defaultDays = p.defaultCoverDays
        let seen = notes.filter { $0.date <= d }
        let after = notes.filter { $0.date > d }.sorted { ($0.date, $0.value ?? "") < ($1.date, $1.value ?? "") }
        let ordered = seen
            .map { (note: $0, end: $0.coverEnd(defaultDays: defaultDays)) }
            .sorted { a, b in
                if a.note.date != b.note.date { return a.note.date < b.note.date }
                if a.end != b.end { return a.end > b.end }
                return (a.note.value ?? "") < (b.note.value ?? "")
            }

        var spells: [SicknessSpell] = []
        var current: (start: LocalDate, end: LocalDate, notes: [FitNote], gap: Int?)?

        func close(_ s: (start: LocalDate, end: LocalDate, notes: [FitNote], gap: Int?)) {
            let days = min(s.end, d).dayNumber - s.start.dayNumber + 1
            let isCurrent = s.end >= d.adding(days: -p.maxDaysSinceEnd)
            spells.append(SicknessSpell(start: s.start, end: s.end, daysSoFar: days, isCurrent: isCurrent,
                                        qualifies: isCurrent && days >= p.minSpellDays,
                                        notes: s.notes, gapFromPrevious: s.gap))
        }

        for (note, end) in ordered {
            if var s = current {
                // The note starts on s.end + 1 + g.
                let g = note.date.dayNumber - s.end.dayNumber - 1
                if g <= p.maxGapDays {
                    s.end = max(s.end, end)
                    s.notes.append(note)
                    current = s
                } else {
                    close(s)
                    current = (note.date, end, [note], g)
                }
            } else {
                current = (note.date, end, [note], nil)
            }
        }
        if let s = current { close(s) }

        let evidence = spells.last(where: \.qualifies)
        return SicknessSpellResult(spells: spells, notesAfterIndexDate: after, evidence: evidence)
    }
}
