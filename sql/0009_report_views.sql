-- Yield reports (issue: reports). Aggregate views over runs and practice
-- feedback: counts only, never a patient identifier, so that a research role
-- can be given SELECT on them without the patient-level tables.

-- Per run and practice: how many of the run's invitees reached each stage of
-- the recruitment funnel, from the outcomes practices recorded for that run.
-- Each patient counts once per stage. A patient with an outcome that can only
-- follow a letter (declined, responded, ineligible, consented, withdrawn)
-- counts as invited even if the practice did not record 'invited'; one with
-- ineligible, consented or withdrawn counts as responded. Ineligible
-- responders are counted by the reason of their latest ineligible outcome
-- (in_work, off_sick_with_job, not_chronic_pain, other; none recorded apart).
CREATE VIEW report_run_practice_outcomes AS
WITH per_patient AS (
  SELECT o.run_id, o.practice_id, o.patient_id,
         bool_or(o.outcome = 'screened_out') AS screened_out,
         bool_or(o.outcome = 'not_invited') AS not_invited,
         bool_or(o.outcome IN ('invited', 'declined', 'responded', 'ineligible', 'consented', 'withdrawn')) AS invited,
         bool_or(o.outcome = 'declined') AS declined,
         bool_or(o.outcome = 'opted_out') AS opted_out,
         bool_or(o.outcome IN ('responded', 'ineligible', 'consented', 'withdrawn')) AS responded,
         bool_or(o.outcome = 'ineligible') AS ineligible,
         (array_agg(o.reason ORDER BY o.outcome_date DESC NULLS LAST, o.outcome_id DESC)
            FILTER (WHERE o.outcome = 'ineligible'))[1] AS reason,
         bool_or(o.outcome IN ('consented', 'withdrawn')) AS consented,
         bool_or(o.outcome = 'withdrawn') AS withdrawn
  FROM contact_outcomes o
  JOIN run_invitations i ON i.run_id = o.run_id AND i.practice_id = o.practice_id AND i.patient_id = o.patient_id
  GROUP BY o.run_id, o.practice_id, o.patient_id
)
SELECT run_id, practice_id,
       count(*) FILTER (WHERE screened_out) AS screened_out,
       count(*) FILTER (WHERE not_invited) AS not_invited,
       count(*) FILTER (WHERE invited) AS invited,
       count(*) FILTER (WHERE declined) AS declined,
       count(*) FILTER (WHERE opted_out) AS opted_out,
       count(*) FILTER (WHERE responded) AS responded,
       count(*) FILTER (WHERE ineligible) AS ineligible,
       count(*) FILTER (WHERE ineligible AND reason = 'in_work') AS ineligible_in_work,
       count(*) FILTER (WHERE ineligible AND reason = 'off_sick_with_job') AS ineligible_off_sick_with_job,
       count(*) FILTER (WHERE ineligible AND reason = 'not_chronic_pain') AS ineligible_not_chronic_pain,
       count(*) FILTER (WHERE ineligible AND reason IS NOT NULL
                          AND reason NOT IN ('in_work', 'off_sick_with_job', 'not_chronic_pain')) AS ineligible_other,
       count(*) FILTER (WHERE ineligible AND reason IS NULL) AS ineligible_reason_not_recorded,
       count(*) FILTER (WHERE responded AND NOT ineligible) AS screened_eligible,
       count(*) FILTER (WHERE consented) AS consented,
       count(*) FILTER (WHERE withdrawn) AS withdrawn
FROM per_patient
GROUP BY run_id, practice_id;

-- The attrition table of each run for the practices it still covers: a
-- practice whose list a later run superseded is left out (its patients are
-- counted in the superseding run).
CREATE VIEW report_run_yields AS
SELECT y.run_id, y.practice_id, y.step, y.criterion, y.label, y.remaining
FROM run_yields y
WHERE y.practice_id <> '__total__'
  AND NOT EXISTS (SELECT 1 FROM run_practices rp
                  WHERE rp.run_id = y.run_id AND rp.practice_id = y.practice_id
                    AND rp.superseded_by_run_id IS NOT NULL);
