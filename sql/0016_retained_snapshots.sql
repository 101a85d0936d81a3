-- Snapshots that issued runs used outlive the loads that replace them (issue 20),
-- so `recruit runs why` and `recruit run --reproduce` keep answering for every
-- issued run. A load's tables leave the partitioned `patients`, `events` and
-- `prescriptions` once no practice points at them, as before; if an issued run
-- used them they are attached to `retained_patients`, `retained_events` and
-- `retained_prescriptions` instead of being dropped. The searches read only
-- the current partitions (their plans do not grow with the months kept); a
-- reproduction reads the run's loads from both. Only `recruit db prune` drops
-- retained tables, and never those an issued run within the retention period used.

CREATE TABLE retained_patients (LIKE patients INCLUDING DEFAULTS) PARTITION BY LIST (load_id);
CREATE TABLE retained_events (LIKE events INCLUDING DEFAULTS) PARTITION BY LIST (load_id);
CREATE TABLE retained_prescriptions (LIKE prescriptions INCLUDING DEFAULTS) PARTITION BY LIST (load_id);

-- The loads issued runs used, with the last time one of those runs was issued.
CREATE VIEW issued_run_loads AS
SELECT rp.load_id, max(r.issued_at) AS last_issued_at, count(DISTINCT r.run_id) AS runs
FROM run_practices rp JOIN runs r ON r.run_id = rp.run_id
WHERE r.status = 'issued'
GROUP BY rp.load_id;

-- Moves loads' tables from the current partitioned tables to the retained
-- ones: loads no practice points at and no running load is making, that an
-- issued run used. Takes the partitioned tables' locks with NOWAIT (SQLSTATE
-- 55P03 when a search holds them: try again later). Returns the loads moved.
CREATE FUNCTION retain_load_tables(p_load_ids bigint[]) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
  v_load  bigint;
  v_kind  text;
  v_table text;
  v_moved bigint[] := '{}';
BEGIN
  IF EXISTS (SELECT 1 FROM practice_snapshots WHERE load_id = ANY(p_load_ids)) THEN
    RAISE EXCEPTION 'a practice''s current snapshot is one of loads %: they stay current', p_load_ids
      USING ERRCODE = 'object_in_use';
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(p_load_ids) AS u(id) WHERE u.id NOT IN (SELECT load_id FROM issued_run_loads)) THEN
    RAISE EXCEPTION 'only loads an issued run used are retained (loads %)', p_load_ids USING ERRCODE = 'invalid_parameter_value';
  END IF;
  LOCK TABLE patients, events, prescriptions, retained_patients, retained_events, retained_prescriptions
    IN ACCESS EXCLUSIVE MODE NOWAIT;
  FOREACH v_load IN ARRAY p_load_ids LOOP
    FOREACH v_kind IN ARRAY ARRAY['patients', 'events', 'prescriptions'] LOOP
      v_table := load_table_name(v_kind, v_load, 0);
      IF EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = to_regclass(quote_ident(v_table))
                   AND i.inhparent = to_regclass(quote_ident(v_kind))) THEN
        EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', v_kind, v_table);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES IN (%s)', 'retained_' || v_kind, v_table, v_load);
        IF NOT v_load = ANY(v_moved) THEN v_moved := v_moved || v_load; END IF;
      END IF;
    END LOOP;
  END LOOP;
  RETURN v_moved;
END $$;

-- drop_load_tables now also keeps what an issued run used: the one-argument
-- form (the loader's) keeps every such load; `recruit db prune` passes the
-- start of the retention period and drops those whose issued runs were all
-- issued before it.
CREATE OR REPLACE FUNCTION drop_load_tables(p_load_ids bigint[], p_keep_issued_since timestamptz) RETURNS bigint[]
LANGUAGE plpgsql AS $$
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
  IF EXISTS (SELECT 1 FROM issued_run_loads WHERE load_id = ANY(p_load_ids)
               AND (p_keep_issued_since IS NULL OR last_issued_at >= p_keep_issued_since)) THEN
    RAISE EXCEPTION 'an issued run within the retention period used one of loads %: their tables are kept', p_load_ids
      USING ERRCODE = 'object_in_use';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_class c
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relispartition
               AND c.relname ~ '^(patients|events|prescriptions)_l[0-9]+$'
               AND substring(c.relname from '_l([0-9]+)$')::bigint = ANY(p_load_ids)) THEN
    LOCK TABLE patients, events, prescriptions, retained_patients, retained_events, retained_prescriptions
      IN ACCESS EXCLUSIVE MODE NOWAIT;
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

CREATE OR REPLACE FUNCTION drop_load_tables(p_load_ids bigint[]) RETURNS bigint[] LANGUAGE sql AS $$
  SELECT drop_load_tables(p_load_ids, NULL::timestamptz)
$$;

DO $$
DECLARE
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['retain_load_tables(bigint[])', 'drop_load_tables(bigint[], timestamptz)', 'drop_load_tables(bigint[])'] LOOP
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', f, current_schema());
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END $$;
