-- Citus (issue 18): the loader's functions also work when `recruit db
-- distribute` has distributed the extract tables by practice_id. On a single
-- node (no Citus, or the tables not distributed) they do exactly what they did.
--
-- tables_distributed(): whether this schema's `patients` is a Citus
-- distributed table (false without Citus). The loader asks it once per load.
CREATE FUNCTION tables_distributed() RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_distributed boolean;
BEGIN
  IF to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
    RETURN false;
  END IF;
  EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1)'
    INTO v_distributed USING to_regclass(quote_ident(current_schema()) || '.patients');
  RETURN v_distributed;
END $$;

-- create_load_table, as in sql/0013, and when the extract tables are
-- distributed, the new table is distributed too (by practice_id, co-located
-- with patients), so that the COPY into it is routed to the shards on the
-- workers and the ATTACH at the swap joins co-located tables. Citus does not
-- support multi-level partitioning, so a distributed load is never filled as
-- two halves (the loader asks tables_distributed() and does not split).
CREATE OR REPLACE FUNCTION create_load_table(p_kind text, p_load_id bigint, p_part integer DEFAULT 0, p_split_key text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  v_table text := load_table_name(p_kind, p_load_id, p_part);
  v_range text := '';
  v_distributed boolean := tables_distributed();
BEGIN
  PERFORM load_require_running(p_load_id);
  IF (p_part = 0) <> (p_split_key IS NULL) THEN
    RAISE EXCEPTION 'a split key is given for the halves of a table (part 1 or 2), and only for them'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_part > 0 AND v_distributed THEN
    RAISE EXCEPTION 'the extract tables are distributed (Citus): a load''s table is not filled as halves'
      USING ERRCODE = 'feature_not_supported';
  END IF;
  IF p_part > 0 THEN
    v_range := format(', CONSTRAINT %I CHECK (patient_id %s %L)', v_table || '_range',
                      CASE WHEN p_part = 1 THEN '<' ELSE '>=' END, p_split_key);
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS, CONSTRAINT %I CHECK (load_id = %s)%s)',
                 v_table, p_kind, v_table || '_load', p_load_id, v_range);
  IF v_distributed THEN
    EXECUTE 'SELECT create_distributed_table($1::regclass, $2, colocate_with => $3)'
      USING quote_ident(v_table), 'practice_id', quote_ident(current_schema()) || '.patients';
  END IF;
  PERFORM load_table_grant(v_table);
  RETURN v_table;
END $$;

-- CREATE OR REPLACE resets the function's attributes: the definer's rights and
-- search_path of sql/0013 again.
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION create_load_table(text, bigint, integer, text) SECURITY DEFINER SET search_path = %I, pg_temp',
                 current_schema());
  REVOKE EXECUTE ON FUNCTION create_load_table(text, bigint, integer, text) FROM PUBLIC;
END $$;
