-- The study's flow in the reports (issue 21), and the newly eligible.
--
-- The list's own flow (sql/0014, redefined). Only outcomes that came through
-- the letter count here; referrals are counted apart (report_referrals).
-- Each invitee is now in exactly one box at each level, so that the study's
-- flow adds up at every box:
--   review: invited (an 'invited' row, or a reply that can only follow a
--           letter: declined, opted_out, responded, ineligible, consented,
--           withdrawn) > screened_out > not_invited > not recorded;
--   reply (of the invited): consented (or withdrawn) > ineligible > eligible
--           on screening (responded) > declined > opted_out > no reply.
-- The flags keep their names: responded = the consented, ineligible and
-- eligible; screened_eligible = the consented and eligible. A screened-out
-- invitee's reason code is that of their screened_out row; a decliner's, that
-- of their declined row.
--
-- The newly eligible: the invitees listed for the first time by the cohort
-- (run_invitations.first_listed, sql/0020); runs recorded before it count as
-- not newly eligible, since it is not known.
CREATE OR REPLACE VIEW report_invitee_outcomes AS
WITH per_patient AS (
  SELECT i.run_id, i.practice_id, i.patient_id, i.evidence, i.first_listed,
         coalesce(bool_or(o.outcome = 'screened_out'), false) AS screened_out,
         coalesce(bool_or(o.outcome = 'not_invited'), false) AS not_invited,
         coalesce(bool_or(o.outcome IN ('invited', 'declined', 'opted_out', 'responded', 'ineligible', 'consented', 'withdrawn')), false) AS invited,
         coalesce(bool_or(o.outcome = 'declined'), false) AS declined,
         coalesce(bool_or(o.outcome = 'opted_out'), false) AS opted_out,
         coalesce(bool_or(o.outcome IN ('responded', 'ineligible', 'consented', 'withdrawn')), false) AS responded,
         coalesce(bool_or(o.outcome = 'ineligible'), false) AS ineligible,
         (array_agg(o.reason ORDER BY o.outcome_date DESC NULLS LAST, o.outcome_id DESC)
            FILTER (WHERE o.outcome = 'ineligible'))[1] AS reason,
         coalesce(bool_or(o.outcome IN ('consented', 'withdrawn')), false) AS consented,
         coalesce(bool_or(o.outcome = 'withdrawn'), false) AS withdrawn,
         (array_agg(o.reason_code ORDER BY o.outcome_id DESC) FILTER (WHERE o.outcome = 'screened_out'))[1] AS screened_out_code,
         (array_agg(o.reason_code ORDER BY o.outcome_id DESC) FILTER (WHERE o.outcome = 'declined'))[1] AS declined_code
  FROM run_invitations i
  LEFT JOIN contact_outcomes o ON o.run_id = i.run_id AND o.practice_id = i.practice_id AND o.patient_id = i.patient_id
                              AND o.channel = 'letter'
  GROUP BY i.run_id, i.practice_id, i.patient_id
), staged AS (
  SELECT p.*,
         CASE WHEN invited THEN 'invited' WHEN screened_out THEN 'screened_out' WHEN not_invited THEN 'not_invited'
              ELSE 'not_recorded' END AS review,
         CASE WHEN NOT invited THEN NULL WHEN consented THEN 'consented' WHEN ineligible THEN 'ineligible'
              WHEN responded THEN 'eligible' WHEN declined THEN 'declined' WHEN opted_out THEN 'opted_out'
              ELSE 'no_reply' END AS reply
  FROM per_patient p
)
SELECT run_id, practice_id, patient_id, evidence,
       review = 'screened_out' AS screened_out,
       review = 'not_invited' AS not_invited,
       review = 'invited' AS invited,
       coalesce(reply = 'declined', false) AS declined,
       coalesce(reply = 'opted_out', false) AS opted_out,
       coalesce(reply IN ('consented', 'ineligible', 'eligible'), false) AS responded,
       coalesce(reply = 'ineligible', false) AS ineligible,
       coalesce(reply = 'ineligible' AND reason = 'in_work', false) AS ineligible_in_work,
       coalesce(reply = 'ineligible' AND reason = 'off_sick_with_job', false) AS ineligible_off_sick_with_job,
       coalesce(reply = 'ineligible' AND reason IN ('in_work', 'off_sick_with_job'), false) AS ineligible_working,
       coalesce(reply = 'ineligible' AND reason = 'not_chronic_pain', false) AS ineligible_not_chronic_pain,
       coalesce(reply = 'ineligible' AND reason IS NOT NULL AND reason NOT IN ('in_work', 'off_sick_with_job', 'not_chronic_pain'), false) AS ineligible_other,
       coalesce(reply = 'ineligible' AND reason IS NULL, false) AS ineligible_reason_not_recorded,
       coalesce(reply IN ('consented', 'eligible'), false) AS screened_eligible,
       coalesce(reply = 'consented', false) AS consented,
       coalesce(reply = 'consented' AND withdrawn, false) AS withdrawn,
       review = 'not_recorded' AS review_not_recorded,
       coalesce(reply = 'no_reply', false) AS no_reply,
       coalesce(reply <> 'no_reply', false) AS replied,
       coalesce(reply = 'eligible', false) AS eligible_not_consented,
       coalesce(reply <> 'consented', false) AS not_consented,
       CASE WHEN review = 'screened_out' THEN screened_out_code END AS screened_out_code,
       CASE WHEN reply = 'declined' THEN declined_code END AS declined_code,
       coalesce(first_listed, false) AS newly_eligible
FROM staged;

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
       count(*) FILTER (WHERE withdrawn) AS withdrawn,
       count(*) FILTER (WHERE review_not_recorded) AS review_not_recorded,
       count(*) FILTER (WHERE no_reply) AS no_reply,
       count(*) FILTER (WHERE replied) AS replied,
       count(*) FILTER (WHERE eligible_not_consented) AS eligible_not_consented,
       count(*) FILTER (WHERE not_consented) AS not_consented,
       count(*) FILTER (WHERE newly_eligible) AS newly_eligible
FROM report_invitee_outcomes
GROUP BY run_id, practice_id;

