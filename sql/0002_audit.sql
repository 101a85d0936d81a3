-- The audit trail: an append-only, hash-chained log of every load, code-list
-- version, cohort definition, run, issue, supersede, feedback import and export.
--
-- Each entry's facts are fixed once, as the JSON text `entry_text` (written by
-- audit_append below), and entry_hash = hex(sha256(prev_hash || entry_text)).
-- The other columns are a queryable copy of entry_text. Altering a column breaks
-- its agreement with entry_text; altering entry_text breaks the hash; inserting
-- or deleting a row breaks the chain: `recruit audit verify` finds each, and an
-- export (JSON Lines of entry_text + hashes) is verifiable offline.
-- docs/audit.md describes the format.
CREATE TABLE audit_log (
  entry_id     bigint PRIMARY KEY,          -- 1, 2, 3, ... without gaps
  recorded_at  timestamptz NOT NULL,
  os_user      text NOT NULL,
  db_user      text NOT NULL DEFAULT current_user,
  action       text NOT NULL,               -- e.g. load, load.refused, codelist.version, run, run.issue
  subjects     jsonb NOT NULL DEFAULT '{}', -- ids the entry concerns: {"load_id": 3, "run_id": 7, ...}
  payload      jsonb NOT NULL DEFAULT '{}', -- the facts
  prev_hash    text NOT NULL,               -- entry_hash of entry_id - 1 (64 zeros for the first)
  entry_hash   text NOT NULL,
  entry_text   text NOT NULL
);
CREATE INDEX audit_log_action ON audit_log (action, recorded_at);

-- Append-only, enforced by the database for every role (owners included):
-- the hardening issue's roles are granted INSERT and SELECT only as well.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Appends are serialised by a transaction-level advisory lock keyed on this
-- table (not LOCK TABLE: it needs no privilege beyond INSERT and SELECT, and it
-- cannot deadlock against a plain INSERT's row-exclusive lock). Held to the end
-- of the appending transaction, so append last.
CREATE FUNCTION audit_log_lock() RETURNS void LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(hashtextextended('recruit.audit_log:' || 'audit_log'::regclass::oid::text, 0))
$$;

-- entry_text as jsonb, or null when it is not JSON: `recruit audit verify`
-- reads every row through it, so a tampered row is reported, not an error.
CREATE FUNCTION audit_entry_facts(p_text text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN p_text::jsonb;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;

-- Every row inserted must extend the chain correctly: the next id, the last
-- entry's hash as prev_hash, the right entry_hash, and columns that agree
-- with entry_text. So a row that breaks the chain can only get in with this
-- trigger disabled (by the table's owner or a superuser), which verify finds.
CREATE FUNCTION audit_log_check_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_last  record;
  v_text  jsonb;
BEGIN
  PERFORM audit_log_lock();
  SELECT entry_id, entry_hash INTO v_last FROM audit_log ORDER BY entry_id DESC LIMIT 1;
  IF NEW.entry_id IS DISTINCT FROM coalesce(v_last.entry_id, 0) + 1 THEN
    RAISE EXCEPTION 'audit_log: entry % does not follow the last entry %', NEW.entry_id, coalesce(v_last.entry_id, 0)
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF NEW.prev_hash IS DISTINCT FROM coalesce(v_last.entry_hash, repeat('0', 64)) THEN
    RAISE EXCEPTION 'audit_log: entry %''s prev_hash is not the hash of entry %', NEW.entry_id, coalesce(v_last.entry_id, 0)
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF NEW.entry_hash IS DISTINCT FROM encode(sha256(convert_to(NEW.prev_hash || NEW.entry_text, 'UTF8')), 'hex') THEN
    RAISE EXCEPTION 'audit_log: entry %''s entry_hash is not sha256(prev_hash || entry_text)', NEW.entry_id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  v_text := NEW.entry_text::jsonb;
  IF v_text IS DISTINCT FROM jsonb_build_object(
       'entry_id', NEW.entry_id,
       'recorded_at', to_char(NEW.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       'os_user', NEW.os_user,
       'db_user', NEW.db_user,
       'action', NEW.action,
       'subjects', NEW.subjects,
       'payload', NEW.payload)
     OR NEW.recorded_at <> date_trunc('milliseconds', NEW.recorded_at) THEN
    RAISE EXCEPTION 'audit_log: entry %''s columns disagree with its entry_text', NEW.entry_id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_check_insert();

-- The only way entries are written (the tool calls it; the hardening issue's
-- roles get EXECUTE on it). One writer at a time, so the chain never forks.
--
-- Call it from a READ COMMITTED transaction: it must see the last committed
-- entry once it holds the lock. A REPEATABLE READ or SERIALIZABLE transaction
-- whose snapshot predates the last entry cannot, and is refused with
-- serialization_failure (retry it) rather than forking the chain.
CREATE FUNCTION audit_append(p_os_user text, p_action text, p_subjects jsonb, p_payload jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_last  record;
  v_id    bigint;
  v_prev  text;
  v_at    timestamptz := date_trunc('milliseconds', clock_timestamp());
  v_text  text;
BEGIN
  IF p_action IS NULL OR p_action = '' OR p_os_user IS NULL OR p_os_user = '' THEN
    RAISE EXCEPTION 'audit_append: action and os_user are required' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_typeof(coalesce(p_subjects, '{}')) <> 'object' THEN
    RAISE EXCEPTION 'audit_append: subjects must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM audit_log_lock();
  SELECT entry_id, entry_hash INTO v_last FROM audit_log ORDER BY entry_id DESC LIMIT 1;
  v_id   := coalesce(v_last.entry_id, 0) + 1;
  v_prev := coalesce(v_last.entry_hash, repeat('0', 64));
  v_text := jsonb_build_object(
    'entry_id', v_id,
    'recorded_at', to_char(v_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'os_user', p_os_user,
    'db_user', session_user,
    'action', p_action,
    'subjects', coalesce(p_subjects, '{}'),
    'payload', coalesce(p_payload, '{}'))::text;
  BEGIN
    INSERT INTO audit_log (entry_id, recorded_at, os_user, db_user, action, subjects, payload, prev_hash, entry_hash, entry_text)
    VALUES (v_id, v_at, p_os_user, session_user, p_action, coalesce(p_subjects, '{}'), coalesce(p_payload, '{}'),
            v_prev, encode(sha256(convert_to(v_prev || v_text, 'UTF8')), 'hex'), v_text);
  EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'audit_append: this transaction''s snapshot predates the last audit entry (append from a READ COMMITTED transaction)'
      USING ERRCODE = 'serialization_failure';
  END;
  RETURN v_id;
END $$;
