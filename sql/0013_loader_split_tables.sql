-- The loader's definer functions (sql/0012) for the tables the loader really
-- makes: a load's events are filled as two halves split by patient id
-- (events_l<ID>_1 below the split key, events_l<ID>_2 from it), attached at
-- the swap as the range partitions of a partitioned events_l<ID> (sql/0003).
-- With these, `recruit load` runs as a member of recruit_loader, which owns no
-- table and may create nothing in the schema.
--
-- p_part: 0 for a load's whole table (<kind>_l<ID>), 1 or 2 for a half;
-- p_split_key: the first patient id of half 2 (needed for halves, refused otherwise).

-- The name of a load's table or half, after checking the arguments.
CREATE FUNCTION load_table_name(p_kind text, p_load_id bigint, p_part integer) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_part IS NULL OR p_part NOT IN (0, 1, 2) THEN
    RAISE EXCEPTION 'a load table part is 0, 1 or 2, not %', coalesce(p_part::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_load_id IS NULL OR p_load_id < 1 THEN
    RAISE EXCEPTION 'not a load id: %', coalesce(p_load_id::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN load_table_kind(p_kind) || '_l' || p_load_id || CASE WHEN p_part = 0 THEN '' ELSE '_' || p_part END;
END $$;

DROP FUNCTION create_load_table(text, bigint);
DROP FUNCTION index_load_table(text, bigint);
DROP FUNCTION attach_load_tables(bigint);

-- Creates one load's (empty, unindexed, unattached) table or half, shaped like
-- the partitioned table, with the CHECK constraints that make ATTACH PARTITION
-- skip its scan (the load id; for a half, its range of patient ids). Call it in
-- the transaction that COPYs into the table: the table is then new in that
-- transaction, so COPY ... FREEZE applies and, with wal_level = minimal, no WAL
-- is written.
CREATE FUNCTION create_load_table(p_kind text, p_load_id bigint, p_part integer DEFAULT 0, p_split_key text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  v_table text := load_table_name(p_kind, p_load_id, p_part);
  v_range text := '';
BEGIN
  PERFORM load_require_running(p_load_id);
  IF (p_part = 0) <> (p_split_key IS NULL) THEN
    RAISE EXCEPTION 'a split key is given for the halves of a table (part 1 or 2), and only for them'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_part > 0 THEN
    v_range := format(', CONSTRAINT %I CHECK (patient_id %s %L)', v_table || '_range',
                      CASE WHEN p_part = 1 THEN '<' ELSE '>=' END, p_split_key);
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS, CONSTRAINT %I CHECK (load_id = %s)%s)',
                 v_table, p_kind, v_table || '_load', p_load_id, v_range);
  PERFORM load_table_grant(v_table);
  RETURN v_table;
END $$;

-- Builds the indexes the cohort engine needs on one load's table or half, and
-- ANALYZEs it: patients by (practice_id, patient_id), unique; events and
-- prescriptions by code and date. The caller's maintenance_work_mem and
-- max_parallel_maintenance_workers (SET LOCAL) apply.
CREATE FUNCTION index_load_table(p_kind text, p_load_id bigint, p_part integer DEFAULT 0) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_table text := load_table_name(p_kind, p_load_id, p_part);
BEGIN
  PERFORM load_require_running(p_load_id);
  IF to_regclass(quote_ident(v_table)) IS NULL THEN
    RAISE EXCEPTION 'load % has no table %', p_load_id, v_table USING ERRCODE = 'undefined_table';
  END IF;
  IF p_kind = 'patients' THEN
    EXECUTE format('CREATE UNIQUE INDEX %I ON %I (practice_id, patient_id)', v_table || '_key', v_table);
  ELSIF p_kind = 'events' THEN
    EXECUTE format('CREATE INDEX %I ON %I (code, event_date)', v_table || '_code', v_table);
  ELSE
    EXECUTE format('CREATE INDEX %I ON %I (code, issue_date)', v_table || '_code', v_table);
  END IF;
  EXECUTE format('ANALYZE %I', v_table);
END $$;

-- Attaches a load's tables as partitions (the CHECK constraints spare the
-- scans). A kind filled as two halves gets a partitioned <kind>_l<ID> by range
-- of patient id over them first (p_split_key, as given to create_load_table).
-- Commit it before pointing practices at the load.
CREATE FUNCTION attach_load_tables(p_load_id bigint, p_split_key text DEFAULT NULL) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_kind  text;
  v_table text;
BEGIN
  PERFORM load_require_running(p_load_id);
  FOREACH v_kind IN ARRAY ARRAY['patients', 'events', 'prescriptions'] LOOP
    v_table := load_table_name(v_kind, p_load_id, 0);
    IF to_regclass(quote_ident(v_table)) IS NULL THEN
      IF to_regclass(quote_ident(v_table || '_1')) IS NULL OR to_regclass(quote_ident(v_table || '_2')) IS NULL THEN
        RAISE EXCEPTION 'load % has no % table', p_load_id, v_kind USING ERRCODE = 'undefined_table';
      END IF;
      IF p_split_key IS NULL THEN
        RAISE EXCEPTION 'load % filled % as two halves: the split key is needed to attach them', p_load_id, v_kind
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS) PARTITION BY RANGE (patient_id)', v_table, v_kind);
      EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)', v_table, v_table || '_1', p_split_key);
      EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (MAXVALUE)', v_table, v_table || '_2', p_split_key);
      PERFORM load_table_grant(v_table);
    END IF;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES IN (%s)', v_kind, v_table, p_load_id);
  END LOOP;
END $$;

-- Drops every table of the given loads, halves included (attached or not),
-- refusing as sql/0012 does a load a practice's current snapshot is, or one
-- still running with its session alive; the partitioned tables are locked
-- with NOWAIT (SQLSTATE 55P03 when a search holds them: try again later).
-- Returns the ids of the loads whose tables were dropped.
CREATE OR REPLACE FUNCTION drop_load_tables(p_load_ids bigint[]) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
  v_row     record;
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
  IF EXISTS (SELECT 1 FROM pg_class c
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relispartition
               AND c.relname ~ '^(patients|events|prescriptions)_l[0-9]+$'
               AND substring(c.relname from '_l([0-9]+)$')::bigint = ANY(p_load_ids)) THEN
    LOCK TABLE patients, events, prescriptions IN ACCESS EXCLUSIVE MODE NOWAIT;
  END IF;
  -- Parents before their halves (a dropped parent takes its attached halves with it).
  FOR v_row IN
    SELECT c.relname, substring(c.relname from '_l([0-9]+)')::bigint AS load_id
    FROM pg_class c
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
      AND c.relname ~ '^(patients|events|prescriptions)_l[0-9]+(_[12])?$'
      AND substring(c.relname from '_l([0-9]+)')::bigint = ANY(p_load_ids)
    ORDER BY length(c.relname), c.relname
  LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I', v_row.relname);
    IF NOT v_row.load_id = ANY(v_dropped) THEN v_dropped := v_dropped || v_row.load_id; END IF;
  END LOOP;
  RETURN v_dropped;
END $$;

DO $$
DECLARE
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['create_load_table(text, bigint, integer, text)', 'index_load_table(text, bigint, integer)',
                           'attach_load_tables(bigint, text)', 'drop_load_tables(bigint[])'] LOOP
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', f, current_schema());
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;
