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
