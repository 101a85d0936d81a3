import Postgres

// The spell computation of `SicknessSpells.swift` in PostgreSQL: gaps and
// islands with window functions.
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
    /// Every spell of every patient in `notes`, one row per spell.
    ///
    /// `notes` is a relation (a table name as `"\(identifier: name)"`, or a
    /// parenthesised subquery, with binds of its own if it likes) with the
    /// columns `practice_id`, `patient_id`, `d date` (the event date) and
    /// `value numeric`. Rows dated after `indexDate` are dropped here too, so
    /// the relation may hold them. Every number and the date are bound
    /// parameters.
    ///
    /// Output columns: `practice_id`, `patient_id`, `spell_no` (1, 2, … by
    /// start), `spell_start date`, `spell_end date` (the cover's last day),
    /// `days_so_far integer`, `note_count integer`, `gap_from_previous integer`
    /// (NULL for the first spell), `is_current boolean`, `qualifies boolean`.
    public static func spellsSQL(notes: SQL, indexDate: LocalDate,
                                 parameters p: SicknessSpellParameters = .defaults) -> SQL {
        let d: SQL = "\(indexDate)::date"
        return """
            SELECT practice_id, patient_id, spell_no, spell_start, spell_end,
                   (LEAST(spell_end, \(d)) - spell_start + 1)::integer AS days_so_far,
                   note_count, gap_from_previous,
                   spell_end >= \(d) - \(p.maxDaysSinceEnd)::integer AS is_current,
                   spell_end >= \(d) - \(p.maxDaysSinceEnd)::integer
                     AND LEAST(spell_end, \(d)) - spell_start + 1 >= \(p.minSpellDays)::integer AS qualifies
            FROM (
              SELECT practice_id, patient_id, spell_no,
                     min(s) AS spell_start, max(e) AS spell_end, count(*)::integer AS note_count,
                     min(gap) FILTER (WHERE new_spell = 1 AND gap IS NOT NULL) AS gap_from_previous
              FROM (
                SELECT practice_id, patient_id, s, e, gap, new_spell,
                       -- The default frame (RANGE ... CURRENT ROW) takes in a row's peers:
                       -- identical notes share a spell number whichever of them was chained first.
                       sum(new_spell) OVER (PARTITION BY practice_id, patient_id ORDER BY s, e DESC)::integer AS spell_no
                FROM (
                  SELECT practice_id, patient_id, s, e,
                         (s - prev_end - 1) AS gap,
                         CASE WHEN prev_end IS NULL OR s > prev_end + 1 + \(p.maxGapDays)::integer THEN 1 ELSE 0 END AS new_spell
                  FROM (
                    SELECT practice_id, patient_id, s, e,
                           max(e) OVER (PARTITION BY practice_id, patient_id ORDER BY s, e DESC
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
                    FROM (
                      SELECT n.practice_id, n.patient_id, n.d AS s,
                             n.d + (CASE WHEN n.value BETWEEN 1 AND 365 AND n.value = trunc(n.value)
                                         THEN n.value::integer
                                         ELSE \(p.defaultCoverDays)::integer END) - 1 AS e
                      FROM \(notes) AS n
                      WHERE n.d <= \(d)
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
    /// Input as `spellsSQL`. Output columns: `practice_id`, `patient_id`,
    /// `spell_start date`, `spell_end date`, `days_so_far integer`,
    /// `note_count integer`, `gap_from_previous integer`.
    public static func qualifyingSpellSQL(notes: SQL, indexDate: LocalDate,
                                          parameters p: SicknessSpellParameters = .defaults) -> SQL {
        """
        SELECT DISTINCT ON (practice_id, patient_id)
               practice_id, patient_id, spell_start, spell_end, days_so_far, note_count, gap_from_previous
        FROM (\(spellsSQL(notes: notes, indexDate: indexDate, parameters: p))) all_spells
        WHERE qualifies
        ORDER BY practice_id, patient_id, spell_start DESC
        """
    }
}
