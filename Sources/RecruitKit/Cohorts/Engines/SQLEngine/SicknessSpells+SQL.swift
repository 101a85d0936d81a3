import Postgres

// The SQL engine's meaning of the `sickness spell` criterion: the spell
// computation of `SicknessSpells.swift` in PostgreSQL, gaps and islands with
// window functions.
//
// A spell's cover end is the running maximum of its notes' cover ends, not the
// last note's end (a long note can be followed by a short one inside it). Over
// a patient's notes ordered by start, the maximum cover end of *all* earlier
// notes equals the end of the spell so far: every earlier spell ended before
// the current spell's first note started, and that note's own end is at least
// its start. So one running maximum over the preceding rows gives `e`, and a
// note starts a new spell exactly when `s > e + 1 + max_gap_days` (or it is
// the patient's first note). A running sum of those starts numbers the spells.

extension SicknessSpells {
    /// The spell fragments' values, each an annotated bound value.
    struct SQLValues {
        var d: AnnotatedSQL
        var defaultCoverDays: AnnotatedSQL
        var maxGapDays: AnnotatedSQL
        var minSpellDays: AnnotatedSQL
        var maxDaysSinceEnd: AnnotatedSQL

        init(d: AnnotatedSQL, defaultCoverDays: AnnotatedSQL, maxGapDays: AnnotatedSQL, minSpellDays: AnnotatedSQL, maxDaysSinceEnd: AnnotatedSQL) {
            self.d = d
            self.defaultCoverDays = defaultCoverDays
            self.maxGapDays = maxGapDays
            self.minSpellDays = minSpellDays
            self.maxDaysSinceEnd = maxDaysSinceEnd
        }

        init(indexDate: LocalDate, parameters p: SicknessSpellParameters) {
            self.init(d: "\(bind: indexDate, "D")::date", defaultCoverDays: "\(bind: Int32(clamping: p.defaultCoverDays), "default_cover_days")::integer",
                      maxGapDays: "\(bind: Int32(clamping: p.maxGapDays), "max_gap_days")::integer",
                      minSpellDays: "\(bind: Int32(clamping: p.minSpellDays), "min_spell_days")::integer",
                      maxDaysSinceEnd: "\(bind: Int32(clamping: p.maxDaysSinceEnd), "max_days_since_end")::integer")
        }
    }

    /// Every spell of every patient in `notes`, one row per spell.
    ///
    /// `notes` is a relation with the columns `practice_id`, `patient_id`,
    /// `d date` (the event date) and `value numeric`, and with `keyed` a
    /// `k int8` per note (an evidence key: the spell's row carries the
    /// largest of its notes' as `spell_key`). Rows dated after D are dropped
    /// here too, so the relation may hold them.
    ///
    /// Output columns: `practice_id`, `patient_id`, `spell_no` (1, 2, … by
    /// start), `spell_start date`, `spell_end date` (the cover's last day),
    /// `days_so_far integer`, `note_count integer`, `gap_from_previous integer`
    /// (NULL for the first spell), `is_current boolean`, `qualifies boolean`
    /// (and `spell_key int8`).
    static func spellsSQL(notes: AnnotatedSQL, _ v: SQLValues, keyed: Bool = false) -> AnnotatedSQL {
        let k: AnnotatedSQL = keyed ? ", k" : ""
        return """
            SELECT practice_id, patient_id, spell_no, spell_start, spell_end,
                   (LEAST(spell_end, \(v.d)) - spell_start + 1)::integer AS days_so_far,
                   note_count, gap_from_previous,
                   spell_end >= \(v.d) - \(v.maxDaysSinceEnd) AS is_current,
                   spell_end >= \(v.d) - \(v.maxDaysSinceEnd)
                     AND LEAST(spell_end, \(v.d)) - spell_start + 1 >= \(v.minSpellDays) AS qualifies\(keyed ? ", spell_key" : "")
            FROM (
              SELECT practice_id, patient_id, spell_no,
                     min(s) AS spell_start, max(e) AS spell_end, count(*)::integer AS note_count,
                     min(gap) FILTER (WHERE new_spell = 1 AND gap IS NOT NULL) AS gap_from_previous\(keyed ? ", max(k) AS spell_key" : "")
              FROM (
                SELECT practice_id, patient_id, s, e, gap, new_spell\(k),
                       -- The default frame (RANGE ... CURRENT ROW) takes in a row's peers:
                       -- identical notes share a spell number whichever of them was chained first.
                       sum(new_spell) OVER (PARTITION BY practice_id, patient_id ORDER BY s, e DESC)::integer AS spell_no
                FROM (
                  SELECT practice_id, patient_id, s, e\(k),
                         (s - prev_end - 1) AS gap,
                         CASE WHEN prev_end IS NULL OR s > prev_end + 1 + \(v.maxGapDays) THEN 1 ELSE 0 END AS new_spell
                  FROM (
                    SELECT practice_id, patient_id, s, e\(k),
                           max(e) OVER (PARTITION BY practice_id, patient_id ORDER BY s, e DESC
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
                    FROM (
                      SELECT n.practice_id, n.patient_id, n.d AS s\(keyed ? ", n.k" : ""),
                             n.d + (CASE WHEN n.value BETWEEN 1 AND \(raw: String(SicknessSpells.maxCoverDays)) AND n.value = trunc(n.value)
                                         THEN n.value::integer
                                         ELSE \(v.defaultCoverDays) END) - 1 AS e
                      FROM \(notes) AS n
                      WHERE n.d <= \(v.d)
                    ) covers
                  ) chained
                ) flagged
              ) numbered
              GROUP BY practice_id, patient_id, spell_no
            ) spells
            """
    }

    /// The qualifying spell of every patient who has one, one row per
    /// patient: the latest-starting qualifying spell, as
    /// `SicknessSpellResult.evidence`. Patients for whom the criterion does
    /// not hold have no row.
    ///
    /// Input as ``spellsSQL(notes:_:keyed:)``. Output columns: `practice_id`,
    /// `patient_id`, `spell_start date`, `spell_end date`, `days_so_far
    /// integer`, `note_count integer`, `gap_from_previous integer` (and `spell_key`).
    static func qualifyingSpellSQL(notes: AnnotatedSQL, _ v: SQLValues, keyed: Bool = false) -> AnnotatedSQL {
        """
        SELECT DISTINCT ON (practice_id, patient_id)
               practice_id, patient_id, spell_start, spell_end, days_so_far, note_count, gap_from_previous\(raw: keyed ? ", spell_key" : "")
        FROM (\(spellsSQL(notes: notes, v, keyed: keyed))) all_spells
        WHERE qualifies
        ORDER BY practice_id, patient_id, spell_start DESC
        """
    }

    /// ``spellsSQL(notes:_:keyed:)`` over a relation of notes, with the values bound (for tests and diagnostics).
    public static func spellsSQL(notes: SQL, indexDate: LocalDate, parameters p: SicknessSpellParameters = .defaults) -> SQL {
        spellsSQL(notes: AnnotatedSQL(sql: notes), SQLValues(indexDate: indexDate, parameters: p)).sql
    }

    /// ``qualifyingSpellSQL(notes:_:keyed:)`` over a relation of notes, with the values bound.
    public static func qualifyingSpellSQL(notes: SQL, indexDate: LocalDate, parameters p: SicknessSpellParameters = .defaults) -> SQL {
        qualifyingSpellSQL(notes: AnnotatedSQL(sql: notes), SQLValues(indexDate: indexDate, parameters: p)).sql
    }
}
