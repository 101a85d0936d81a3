-- Practice feedback and pre-recruit history imports (issue: runs, feedback,
-- audit): database-enforced uniqueness of what the importers already refuse,
-- and the line of the imported file each recorded row came from.

-- One outcome of each kind per patient per run (feedback), and one identical
-- history outcome per patient per cohort (history: run_id null, date optional).
CREATE UNIQUE INDEX contact_outcomes_feedback_once
  ON contact_outcomes (run_id, practice_id, patient_id, outcome) WHERE run_id IS NOT NULL;
CREATE UNIQUE INDEX contact_outcomes_history_once
  ON contact_outcomes (cohort_name, practice_id, patient_id, outcome, outcome_date) NULLS NOT DISTINCT
  WHERE run_id IS NULL;
CREATE INDEX contact_outcomes_import ON contact_outcomes (import_id);

-- Where each row came from: the 1-based physical line of the imported file
-- (contact_imports.file_name), so `runs why` and an auditor can point at it.
ALTER TABLE contact_outcomes ADD COLUMN source_line bigint;
ALTER TABLE history_invitations ADD COLUMN source_line bigint;
CREATE INDEX history_invitations_import ON history_invitations (import_id);
