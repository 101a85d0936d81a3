-- Channels (issue 21): how a person came to the study. Feedback rows carry a
-- channel: `letter` (the default: the practice's invitation letter), or
-- `self_referral`, `gp_referral`, `other`. A referral of someone who was never
-- listed is recorded against the run's cohort and practice: with their
-- pseudonymised id when they are in the extract, and without one (patient_id
-- null, one row per person) when they are not. Only a referral may lack an id.
ALTER TABLE contact_outcomes ADD COLUMN channel text NOT NULL DEFAULT 'letter'
  CONSTRAINT contact_outcomes_channel CHECK (channel IN ('letter', 'self_referral', 'gp_referral', 'other'));
ALTER TABLE contact_outcomes ALTER COLUMN patient_id DROP NOT NULL;
ALTER TABLE contact_outcomes ADD CONSTRAINT contact_outcomes_id_unless_referral
  CHECK (patient_id IS NOT NULL OR (channel <> 'letter' AND run_id IS NOT NULL));

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
CREATE OR REPLACE VIEW report_invitee_outcomes AS
WITH per_patient AS (
  SELECT i.run_id, i.practice_id, i.patient_id, i.evidence,
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
       CASE WHEN reply = 'declined' THEN declined_code END AS declined_code
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
       count(*) FILTER (WHERE not_consented) AS not_consented
FROM report_invitee_outcomes
GROUP BY run_id, practice_id;

-- Referrals (issue 21): one row per person who came to a run's study through
-- a channel other than the letter, listed or not: by (run, practice, patient)
-- when they have a pseudonymised id, one row per feedback row when they do
-- not. Their furthest stage, with the same precedence as a letter's reply:
-- consented (or withdrawn) > ineligible > eligible on screening > declined > opted_out.
CREATE VIEW report_referrals AS
WITH people AS (
  SELECT o.run_id, o.practice_id, o.patient_id, min(o.channel) AS channel,
         bool_or(o.outcome IN ('consented', 'withdrawn')) AS consented, bool_or(o.outcome = 'withdrawn') AS withdrawn,
         bool_or(o.outcome = 'ineligible') AS ineligible, bool_or(o.outcome = 'responded') AS responded,
         bool_or(o.outcome = 'declined') AS declined, bool_or(o.outcome = 'opted_out') AS opted_out
  FROM contact_outcomes o
  WHERE o.run_id IS NOT NULL AND o.channel <> 'letter'
  GROUP BY o.run_id, o.practice_id, o.patient_id, CASE WHEN o.patient_id IS NULL THEN o.outcome_id END
)
SELECT p.run_id, p.practice_id, p.patient_id, p.channel,
       p.patient_id IS NOT NULL AS in_extract,
       EXISTS (SELECT 1 FROM run_invitations i WHERE i.run_id = p.run_id AND i.practice_id = p.practice_id AND i.patient_id = p.patient_id) AS listed,
       CASE WHEN p.consented THEN 'consented' WHEN p.ineligible THEN 'ineligible' WHEN p.responded THEN 'eligible'
            WHEN p.declined THEN 'declined' ELSE 'opted_out' END AS stage,
       p.consented AND p.withdrawn AS withdrawn
FROM people p;

-- Age band and sex of each invitee at the run's index date, from the snapshot
-- the run used (current or retained): what the study compares responders
-- with non-responders by. Ten-year bands as on the screening sheet.
CREATE VIEW report_invitee_profiles AS
SELECT i.run_id, i.practice_id, i.patient_id,
       CASE WHEN a.age < 18 THEN 'under 18' WHEN a.age <= 24 THEN '18-24' WHEN a.age >= 65 THEN '65 and over'
            WHEN a.age IS NULL THEN 'unknown'
            ELSE ((a.age - 25) / 10 * 10 + 25)::text || '-' || ((a.age - 25) / 10 * 10 + 34)::text END AS age_band,
       pt.sex::text AS sex
FROM run_invitations i
JOIN runs r ON r.run_id = i.run_id
JOIN run_practices rp ON rp.run_id = i.run_id AND rp.practice_id = i.practice_id
JOIN (SELECT load_id, practice_id, patient_id, year_of_birth, month_of_birth, sex FROM patients
      UNION ALL
      SELECT load_id, practice_id, patient_id, year_of_birth, month_of_birth, sex FROM retained_patients) pt
  ON pt.load_id = rp.load_id AND pt.practice_id = i.practice_id AND pt.patient_id = i.patient_id
CROSS JOIN LATERAL (
  SELECT CASE WHEN pt.year_of_birth BETWEEN 1 AND 9999
              THEN extract(year FROM age(r.index_date, make_date(pt.year_of_birth, coalesce(pt.month_of_birth, 7)::int, 1)))::int END AS age
) a;
