-- Outcomes by proxy (issue 17). One row per invitee of a run: how far they
-- went in the recruitment funnel, from the outcomes practices recorded for
-- that run, with the evidence that put them on the list. This is the one
-- place that says what each funnel stage means per patient; the per-practice
-- counts (report_run_practice_outcomes) and the proxy report count its rows.
-- Patient-level: the practice reads it, the research role does not.
--
-- The meaning is that of sql/0009: a patient with an outcome that can only
-- follow a letter (declined, responded, ineligible, consented, withdrawn)
-- counts as invited even if the practice did not record 'invited'; one with
-- ineligible, consented or withdrawn counts as responded; an ineligible
-- responder counts by the reason of their latest ineligible outcome.
CREATE VIEW report_invitee_outcomes AS
WITH per_patient AS (
  SELECT i.run_id, i.practice_id, i.patient_id, i.evidence,
         coalesce(bool_or(o.outcome = 'screened_out'), false) AS screened_out,
         coalesce(bool_or(o.outcome = 'not_invited'), false) AS not_invited,
         coalesce(bool_or(o.outcome IN ('invited', 'declined', 'responded', 'ineligible', 'consented', 'withdrawn')), false) AS invited,
         coalesce(bool_or(o.outcome = 'declined'), false) AS declined,
         coalesce(bool_or(o.outcome = 'opted_out'), false) AS opted_out,
         coalesce(bool_or(o.outcome IN ('responded', 'ineligible', 'consented', 'withdrawn')), false) AS responded,
         coalesce(bool_or(o.outcome = 'ineligible'), false) AS ineligible,
         (array_agg(o.reason ORDER BY o.outcome_date DESC NULLS LAST, o.outcome_id DESC)
            FILTER (WHERE o.outcome = 'ineligible'))[1] AS reason,
         coalesce(bool_or(o.outcome IN ('consented', 'withdrawn')), false) AS consented,
         coalesce(bool_or(o.outcome = 'withdrawn'), false) AS withdrawn
  FROM run_invitations i
  LEFT JOIN contact_outcomes o ON o.run_id = i.run_id AND o.practice_id = i.practice_id AND o.patient_id = i.patient_id
  GROUP BY i.run_id, i.practice_id, i.patient_id
)
SELECT run_id, practice_id, patient_id, evidence,
       screened_out, not_invited, invited, declined, opted_out, responded, ineligible,
       ineligible AND reason = 'in_work' AS ineligible_in_work,
       ineligible AND reason = 'off_sick_with_job' AS ineligible_off_sick_with_job,
       ineligible AND reason IN ('in_work', 'off_sick_with_job') AS ineligible_working,
       ineligible AND reason = 'not_chronic_pain' AS ineligible_not_chronic_pain,
       ineligible AND reason IS NOT NULL AND reason NOT IN ('in_work', 'off_sick_with_job', 'not_chronic_pain') AS ineligible_other,
       ineligible AND reason IS NULL AS ineligible_reason_not_recorded,
       responded AND NOT ineligible AS screened_eligible,
       consented, withdrawn
FROM per_patient;

-- The per-practice counts of sql/0009, now counted from the view above (the
-- same columns; a practice whose invitees have no outcome yet has a row of 0s).
CREATE OR REPLACE VIEW report_run_practice_outcomes AS
SELECT run_id, practice_id,
       count(*) FILTER (WHERE screened_out) AS screened_out,
       count(*) FILTER (WHERE not_invited) AS not_invited,
       count(*) FILTER (WHERE invited) AS invited,
       count(*) FILTER (WHERE declined) AS declined,
       count(*) FILTER (WHERE opted_out) AS opted_out,
       count(*) FILTER (WHERE responded) AS responded,
       count(*) FILTER (WHERE ineligible) AS ineligible,
       count(*) FILTER (WHERE ineligible_in_work) AS ineligible_in_work,
       count(*) FILTER (WHERE ineligible_off_sick_with_job) AS ineligible_off_sick_with_job,
       count(*) FILTER (WHERE ineligible_not_chronic_pain) AS ineligible_not_chronic_pain,
       count(*) FILTER (WHERE ineligible_other) AS ineligible_other,
       count(*) FILTER (WHERE ineligible_reason_not_recorded) AS ineligible_reason_not_recorded,
       count(*) FILTER (WHERE screened_eligible) AS screened_eligible,
       count(*) FILTER (WHERE consented) AS consented,
       count(*) FILTER (WHERE withdrawn) AS withdrawn
FROM report_invitee_outcomes
GROUP BY run_id, practice_id;
