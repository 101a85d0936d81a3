-- Loaded practice extracts (issue: loader).
--
-- Snapshot semantics: every load gets its own partition of patients, events
-- and prescriptions (partitioned BY LIST (load_id)); `practice_snapshots` says,
-- per practice, which load is current. Replacing a practice is one short
-- transaction that moves its pointer; readers go through the current_* views
-- and so never see a half-replaced practice. A load's partitions are dropped
-- once no practice points at them any more.
--
-- The loader fills a load's tables (patients_l<ID>, events_l<ID>,
-- prescriptions_l<ID>) as standalone tables created in the transaction that
-- COPYs into them (no WAL under wal_level = minimal, rows frozen by COPY
-- FREEZE), indexes them there, then ATTACHes them (SHARE UPDATE EXCLUSIVE on
-- the parent: readers are not blocked) and, in a second short transaction,
-- moves the practices' pointers. A load's events are filled as two halves
-- split by patient id (events_l<ID>_1, events_l<ID>_2: two COPY streams),
-- attached as the range partitions of events_l<ID>. Indexes are per partition
-- (none on the parents, so ATTACH builds nothing): patients (practice_id,
-- patient_id) unique; events (code, event_date); prescriptions (code, issue_date).
-- See docs/design.md, "Snapshots".
--
-- Readers that run several statements must use one snapshot (REPEATABLE
-- READ) to see one state of every practice across them.

CREATE TABLE loads (
  load_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  started_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  status           text NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'loaded', 'refused', 'failed', 'dry_run', 'unchanged')),
  reason           text,
  os_user          text NOT NULL,
  db_user          text NOT NULL DEFAULT current_user,
  tool_version     text NOT NULL,
  backend_pid      integer NOT NULL DEFAULT pg_backend_pid(),
  source_dir       text,
  profile_name     text NOT NULL,
  profile_sha256   text NOT NULL,
  extract_date     date,
  files            jsonb NOT NULL DEFAULT '[]',  -- [{name, size, sha256, rows_read, rows_loaded, rows_rejected}]
  practices        jsonb NOT NULL DEFAULT '{}',  -- {practice_id: {patients, events, prescriptions}}
  summary          jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE load_rejects (
  load_id  bigint NOT NULL REFERENCES loads ON DELETE CASCADE,
  file     text NOT NULL,
  line     bigint NOT NULL,
  raw      text NOT NULL,
  reason   text NOT NULL
);
CREATE INDEX load_rejects_load ON load_rejects (load_id, file, line);
CREATE INDEX loads_status ON loads (status) WHERE status = 'running';

-- The current snapshot of each practice.
CREATE TABLE practice_snapshots (
  practice_id    text PRIMARY KEY,
  load_id        bigint NOT NULL REFERENCES loads,
  extract_date   date NOT NULL,
  replaced_at    timestamptz NOT NULL DEFAULT now(),
  patients       bigint NOT NULL DEFAULT 0,
  events         bigint NOT NULL DEFAULT 0,
  prescriptions  bigint NOT NULL DEFAULT 0
);

CREATE TABLE patients (
  load_id             bigint NOT NULL,
  practice_id         text COLLATE "C" NOT NULL,
  patient_id          text COLLATE "C" NOT NULL,
  year_of_birth       integer NOT NULL,
  month_of_birth      smallint,
  sex                 "char" NOT NULL,
  registration_start  date NOT NULL,
  registration_end    date,
  death_date          date
) PARTITION BY LIST (load_id);

CREATE TABLE events (
  load_id      bigint NOT NULL,
  practice_id  text COLLATE "C" NOT NULL,
  patient_id   text COLLATE "C" NOT NULL,
  event_date   date NOT NULL,
  code         text COLLATE "C" NOT NULL,  -- Read v2: the five-character code, term id apart
  term_id      text COLLATE "C",           -- Read v2 term id ('00' of 'N245.00'), else null
  code_system  text COLLATE "C" NOT NULL,  -- read2 | ctv3 | snomed
  value        numeric
) PARTITION BY LIST (load_id);

CREATE TABLE prescriptions (
  load_id        bigint NOT NULL,
  practice_id    text COLLATE "C" NOT NULL,
  patient_id     text COLLATE "C" NOT NULL,
  issue_date     date NOT NULL,
  code           text COLLATE "C" NOT NULL,  -- Read v2 drug codes: five characters, term id dropped
  code_system    text COLLATE "C" NOT NULL,  -- dmd | read2 | bnf
  quantity       numeric,
  duration_days  integer,
  issue_type     text              -- acute | repeat | null
) PARTITION BY LIST (load_id);

-- Creates the (empty, unindexed) partitions of one load: patients_l<ID>,
-- events_l<ID>, prescriptions_l<ID>. Used by the loader and by test fixtures.
CREATE FUNCTION create_load_partitions(p_load_id bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['patients', 'events', 'prescriptions'] LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES IN (%s)', t || '_l' || p_load_id, t, p_load_id);
  END LOOP;
END $$;

-- What every reader uses: the rows of each practice's current snapshot.
CREATE VIEW current_patients AS
  SELECT p.* FROM patients p JOIN practice_snapshots s USING (load_id, practice_id);
CREATE VIEW current_events AS
  SELECT e.* FROM events e JOIN practice_snapshots s USING (load_id, practice_id);
CREATE VIEW current_prescriptions AS
  SELECT r.* FROM prescriptions r JOIN practice_snapshots s USING (load_id, practice_id);
