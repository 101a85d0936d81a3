-- Cohort runs, their outputs, and the contact history that criteria 11
-- ("recently invited") and 12 ("contact ended") read (issues: cohort engine, runs).

-- Every cohort definition text a run used, by SHA-256 of its bytes.
CREATE TABLE cohort_definitions (
  cohort_sha256  text PRIMARY KEY,
  name           text NOT NULL,
  version        text NOT NULL,
  definition     text NOT NULL,
  stored_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE runs (
  run_id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  cohort_name        text NOT NULL,
  cohort_version     text NOT NULL,
  cohort_sha256      text NOT NULL REFERENCES cohort_definitions,
  index_date         date NOT NULL,
  parameters         jsonb NOT NULL DEFAULT '{}',
  codelists          jsonb NOT NULL DEFAULT '[]',  -- [{name, version, sha256, expanded_sha256, codelist_version_id}]
  status             text NOT NULL CHECK (status IN ('dry_run', 'draft', 'issued')),
  -- History (criteria 11, 12) is what was recorded before this instant; a
  -- reproduction evaluates with the same value, so a run never sees itself.
  history_as_of      timestamptz NOT NULL,
  supersedes_run_id  bigint REFERENCES runs,
  allow_stale        boolean NOT NULL DEFAULT false,
  os_user            text NOT NULL,
  tool_version       text NOT NULL,
  started_at         timestamptz NOT NULL DEFAULT now(),
  finished_at        timestamptz,
  issued_at          timestamptz,
  output_dir         text,
  outputs            jsonb NOT NULL DEFAULT '{}',  -- {relative path: sha256}
  counts             jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_cohort ON runs (cohort_name, index_date);

-- The practices a run covered and the snapshot (load) of each it used.
CREATE TABLE run_practices (
  run_id                bigint NOT NULL REFERENCES runs,
  practice_id           text NOT NULL,
  load_id               bigint NOT NULL REFERENCES loads,
  extract_date          date NOT NULL,
  superseded_by_run_id  bigint REFERENCES runs,
  superseded_at         timestamptz,
  PRIMARY KEY (run_id, practice_id)
);

-- The invitation list of a run, with the evidence that put each patient on it.
CREATE TABLE run_invitations (
  run_id       bigint NOT NULL REFERENCES runs,
  practice_id  text NOT NULL,
  patient_id   text NOT NULL,
  evidence     jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (run_id, practice_id, patient_id)
);
CREATE INDEX run_invitations_patient ON run_invitations (practice_id, patient_id);

-- The attrition table of a run: per practice (and '__total__'), step 0 = in the
-- extract, then the patients left after each criterion in order.
CREATE TABLE run_yields (
  run_id       bigint NOT NULL REFERENCES runs,
  practice_id  text NOT NULL,
  step         integer NOT NULL,
  criterion    text NOT NULL,   -- the criterion's id; '' for step 0
  label        text NOT NULL,
  remaining    bigint NOT NULL,
  PRIMARY KEY (run_id, practice_id, step)
);

-- Imported files (history from before recruit, and practice feedback).
CREATE TABLE contact_imports (
  import_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind         text NOT NULL CHECK (kind IN ('history_invitations', 'history_screened_out', 'feedback')),
  cohort_name  text NOT NULL,
  file_name    text NOT NULL,
  file_sha256  text NOT NULL,
  rows         bigint NOT NULL,
  os_user      text NOT NULL,
  imported_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kind, cohort_name, file_sha256)
);

-- People invited by searches made before recruit (criterion 11).
CREATE TABLE history_invitations (
  import_id    bigint NOT NULL REFERENCES contact_imports,
  cohort_name  text NOT NULL,
  practice_id  text NOT NULL,
  patient_id   text NOT NULL,
  index_date   date NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (cohort_name, practice_id, patient_id, index_date)
);
CREATE INDEX history_invitations_patient ON history_invitations (practice_id, patient_id);

-- Outcomes recorded for a cohort: from practice feedback (run_id set) or
-- imported history (run_id null). Criterion 12 excludes anyone with an outcome
-- that ends contact: screened_out, declined, opted_out, ineligible, consented, withdrawn.
CREATE TABLE contact_outcomes (
  outcome_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  import_id     bigint NOT NULL REFERENCES contact_imports,
  cohort_name   text NOT NULL,
  practice_id   text NOT NULL,
  patient_id    text NOT NULL,
  run_id        bigint REFERENCES runs,
  outcome       text NOT NULL CHECK (outcome IN ('screened_out', 'invited', 'not_invited', 'declined', 'opted_out',
                                                 'responded', 'ineligible', 'consented', 'withdrawn')),
  reason        text,            -- for ineligible: in_work | off_sick_with_job | not_chronic_pain | other
  outcome_date  date,
  recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_outcomes_patient ON contact_outcomes (cohort_name, practice_id, patient_id);
