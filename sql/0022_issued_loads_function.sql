-- The loads issued runs used (the view issued_run_loads, sql/0016), as a
-- SECURITY DEFINER function, for the loader and `db status`.
--
-- On Citus a query on a view over reference tables is sent to a node with the
-- view expanded into the tables' shard names, and there each table is checked
-- as the caller, not as the view's owner: the loader, which may not read runs
-- or run_practices (docs/security.md), was refused "permission denied for
-- table run_practices_<shard>" when a load decided which snapshots to keep.
-- The function reads the view with its owner's rights on every node. On one
-- server it returns what the view does.
CREATE FUNCTION issued_loads() RETURNS TABLE (load_id bigint, last_issued_at timestamptz, runs bigint)
LANGUAGE sql STABLE AS $$
  SELECT u.load_id, u.last_issued_at, u.runs FROM issued_run_loads u
$$;

DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION issued_loads() SECURITY DEFINER SET search_path = %I, pg_temp', current_schema());
END $$;
REVOKE EXECUTE ON FUNCTION issued_loads() FROM PUBLIC;

