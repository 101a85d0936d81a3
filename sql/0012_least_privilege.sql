-- Least privilege (issue: hardening). docs/security.md explains the model.
--
-- Three NOLOGIN group roles, created and granted by `recruit db roles` (roles
-- are cluster-wide, so this migration does not create them): recruit_loader,
-- recruit_practice, recruit_research. People log in as themselves and are
-- granted membership of one of them.
--
-- No role but the schema's owner may CREATE in the schema: every piece of DDL
-- another role needs (the loader's per-load tables, their indexes, attaching
-- and dropping them) and every audit entry goes through a function below that
-- runs with the owner's rights (SECURITY DEFINER) and a fixed search_path
-- (the schema, then pg_temp last, so nobody can shadow what it calls). Each
-- checks its arguments; none takes SQL text. EXECUTE on them is revoked from
-- PUBLIC here and granted per role by `recruit db roles`.

-- The audit trail: everyone appends through audit_append, nobody writes
-- audit_log directly (the roles have no INSERT, UPDATE or DELETE on it).
-- session_user, which audit_append records as db_user, is still the person
-- who logged in inside a SECURITY DEFINER function.
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION audit_append(text, text, jsonb, jsonb) SECURITY DEFINER SET search_path = %I, pg_temp',
                 current_schema());
END $$;
REVOKE EXECUTE ON FUNCTION audit_append(text, text, jsonb, jsonb) FROM PUBLIC;

-- The kinds of per-load table: the partitioned tables of sql/0003.
CREATE FUNCTION load_table_kind(p_kind text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_kind IS NULL OR p_kind NOT IN ('patients', 'events', 'prescriptions') THEN
    RAISE EXCEPTION 'not a per-load table kind: %', coalesce(p_kind, 'NULL') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN p_kind;
END $$;

-- Refuses a load id that is not a running load (the per-load DDL is only for
-- the load being made).
CREATE FUNCTION load_require_running(p_load_id bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM loads WHERE load_id = p_load_id AND status = 'running') THEN
    RAISE EXCEPTION 'load % is not a running load', p_load_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- Gives the loader role what it needs on one per-load table: COPY into it and
-- read it back (nothing else: it does not own it).
CREATE FUNCTION load_table_grant(p_table text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'recruit_loader') THEN
    EXECUTE format('GRANT SELECT, INSERT ON %I TO recruit_loader', p_table);
  END IF;
END $$;

-- Creates one load's (empty, unindexed, unattached) table for one kind:
-- <kind>_l<load_id>, shaped like the partitioned table, with the CHECK that
-- makes ATTACH PARTITION skip its scan. Call it in the transaction that COPYs
-- into the table: the table is then new in that transaction, so COPY ...
-- FREEZE applies and, with wal_level = minimal, no WAL is written.
CREATE FUNCTION create_load_table(p_kind text, p_load_id bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  v_table text := load_table_kind(p_kind) || '_l' || p_load_id;
BEGIN
  PERFORM load_require_running(p_load_id);
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS, CONSTRAINT %I CHECK (load_id = %s))',
                 v_table, p_kind, v_table || '_load', p_load_id);
  PERFORM load_table_grant(v_table);
  RETURN v_table;
END $$;

-- Builds the indexes the cohort engine needs on one load's table, and
-- ANALYZEs it: patients by (practice_id, patient_id), unique; events and
-- prescriptions by code and date. The caller's maintenance_work_mem and
-- max_parallel_maintenance_workers (SET LOCAL) apply.
CREATE FUNCTION index_load_table(p_kind text, p_load_id bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_kind  text := load_table_kind(p_kind);
  v_table text := v_kind || '_l' || p_load_id;
BEGIN
  PERFORM load_require_running(p_load_id);
  IF to_regclass(quote_ident(v_table)) IS NULL THEN
    RAISE EXCEPTION 'load % has no % table', p_load_id, v_kind USING ERRCODE = 'undefined_table';
  END IF;
  IF v_kind = 'patients' THEN
    EXECUTE format('CREATE UNIQUE INDEX %I ON %I (practice_id, patient_id)', v_table || '_key', v_table);
  ELSIF v_kind = 'events' THEN
    EXECUTE format('CREATE INDEX %I ON %I (code, event_date)', v_table || '_code', v_table);
  ELSE
    EXECUTE format('CREATE INDEX %I ON %I (code, issue_date)', v_table || '_code', v_table);
  END IF;
  EXECUTE format('ANALYZE %I', v_table);
END $$;

-- Attaches a load's three tables as partitions (the CHECK constraint spares
-- the scan). Commit it before pointing practices at the load.
CREATE FUNCTION attach_load_tables(p_load_id bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_kind text;
BEGIN
  PERFORM load_require_running(p_load_id);
  FOREACH v_kind IN ARRAY ARRAY['patients', 'events', 'prescriptions'] LOOP
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES IN (%s)', v_kind, v_kind || '_l' || p_load_id, p_load_id);
  END LOOP;
END $$;

-- Drops the tables of the given loads (attached or not), refusing a load a
-- practice's current snapshot is, or one still running with its session
-- alive. Dropping an attached partition needs an exclusive lock on the
-- partitioned tables: it is asked for with NOWAIT, so a reader is never queued
-- behind it (SQLSTATE 55P03 when a search holds them: try again later).
-- Returns the ids of the loads whose tables were dropped.
CREATE FUNCTION drop_load_tables(p_load_ids bigint[]) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
  v_id      bigint;
  v_kind    text;
  v_dropped bigint[] := '{}';
BEGIN
  IF EXISTS (SELECT 1 FROM practice_snapshots WHERE load_id = ANY(p_load_ids)) THEN
    RAISE EXCEPTION 'a practice''s current snapshot is one of loads %: their tables are kept', p_load_ids
      USING ERRCODE = 'object_in_use';
  END IF;
  IF EXISTS (SELECT 1 FROM loads l WHERE l.load_id = ANY(p_load_ids) AND l.status = 'running'
               AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.backend_pid)) THEN
    RAISE EXCEPTION 'one of loads % is still running: their tables are kept', p_load_ids USING ERRCODE = 'object_in_use';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE c.relnamespace = current_schema()::regnamespace
               AND c.relname IN (SELECT k || '_l' || id FROM unnest(p_load_ids) id,
                                 unnest(ARRAY['patients', 'events', 'prescriptions']) k)) THEN
    LOCK TABLE patients, events, prescriptions IN ACCESS EXCLUSIVE MODE NOWAIT;
  END IF;
  FOREACH v_id IN ARRAY p_load_ids LOOP
    FOREACH v_kind IN ARRAY ARRAY['patients', 'events', 'prescriptions'] LOOP
      IF to_regclass(quote_ident(v_kind || '_l' || v_id)) IS NOT NULL THEN
        EXECUTE format('DROP TABLE %I', v_kind || '_l' || v_id);
        IF NOT v_id = ANY(v_dropped) THEN v_dropped := v_dropped || v_id; END IF;
      END IF;
    END LOOP;
  END LOOP;
  RETURN v_dropped;
END $$;

-- create_load_partitions (sql/0003, used by test fixtures) creates attached
-- partitions directly; as a definer function it also grants them to the loader.
CREATE OR REPLACE FUNCTION create_load_partitions(p_load_id bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['patients', 'events', 'prescriptions'] LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES IN (%s)', t || '_l' || p_load_id, t, p_load_id);
    PERFORM load_table_grant(t || '_l' || p_load_id);
  END LOOP;
END $$;

DO $$
DECLARE
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['create_load_table(text, bigint)', 'index_load_table(text, bigint)',
                           'attach_load_tables(bigint)', 'drop_load_tables(bigint[])', 'create_load_partitions(bigint)'] LOOP
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', f, current_schema());
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;

-- What the research role reads: aggregate yields of issued runs, across all
-- the practices a run covered, with small numbers suppressed: a count from 1
-- to 7 is NULL (shown as "≤7"), every other count is rounded to the nearest
-- 5 (0 stays 0). No practice id, no patient id, no per-practice breakdown.
CREATE FUNCTION research_count(n bigint) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE WHEN n BETWEEN 1 AND 7 THEN NULL ELSE ((n + 2) / 5) * 5 END
$$;

-- security_barrier: a caller's own functions in WHERE cannot see rows the
-- view leaves out.
CREATE VIEW research_run_yields WITH (security_barrier) AS
SELECT r.run_id, r.cohort_name, r.cohort_version, r.index_date, r.issued_at,
       (SELECT count(*) FROM run_practices rp WHERE rp.run_id = r.run_id) AS practices,
       y.step, y.criterion, y.label,
       research_count(y.remaining) AS remaining,
       y.remaining BETWEEN 1 AND 7 AS remaining_suppressed
FROM runs r
JOIN run_yields y ON y.run_id = r.run_id AND y.practice_id = '__total__'
WHERE r.status = 'issued';
