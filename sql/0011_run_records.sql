-- Recorded runs (issue: runs): the facts sql/0005_runs.sql does not hold yet,
-- and the rules that make an issued run's record frozen.

-- The run's own options, recorded so a reproduction and an auditor see them:
-- the staleness limit (days an extract may be older than D) and the practices
-- asked for (NULL: every loaded practice). (run.json's own SHA-256 is in the
-- run's audit entries: the file states the run's status, which issuing changes.)
ALTER TABLE runs
  ADD COLUMN max_extract_age_days  integer,
  ADD COLUMN requested_practices   text[];

-- Whether a practice's snapshot was older than the staleness limit (run with --allow-stale).
ALTER TABLE run_practices
  ADD COLUMN stale boolean NOT NULL DEFAULT false;

CREATE INDEX run_practices_practice ON run_practices (practice_id, run_id);

-- An issued run is frozen: its row, list and yield never change again. The one
-- change allowed afterwards is a later run superseding it for a practice,
-- which sets run_practices.superseded_by_run_id and superseded_at once.
CREATE FUNCTION run_issued_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'runs' THEN
    IF OLD.status = 'issued' THEN
      RAISE EXCEPTION 'run % is issued and frozen: % refused', OLD.run_id, TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (SELECT 1 FROM runs WHERE run_id = OLD.run_id AND status = 'issued') THEN
    -- (Nested: plpgsql does not short-circuit, and other tables have no such columns.)
    IF TG_TABLE_NAME = 'run_practices' AND TG_OP = 'UPDATE' THEN
      IF OLD.superseded_by_run_id IS NULL AND NEW.superseded_by_run_id IS NOT NULL AND NEW.superseded_at IS NOT NULL
         AND (NEW.run_id, NEW.practice_id, NEW.load_id, NEW.extract_date, NEW.stale)
             IS NOT DISTINCT FROM (OLD.run_id, OLD.practice_id, OLD.load_id, OLD.extract_date, OLD.stale) THEN
        RETURN NEW;
      END IF;
    END IF;
    RAISE EXCEPTION 'run % is issued and frozen: % on % refused', OLD.run_id, TG_OP, TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- Rows of an issued run may be added only by the transaction that wrote the
  -- run row itself (a run recorded and issued at once, with --issue).
  IF TG_OP IN ('INSERT', 'UPDATE') AND EXISTS (SELECT 1 FROM runs WHERE run_id = NEW.run_id AND status = 'issued'
                                                 AND xmin <> pg_current_xact_id()::xid) THEN
    RAISE EXCEPTION 'run % is issued and frozen: % on % refused', NEW.run_id, TG_OP, TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE TRIGGER runs_issued_frozen BEFORE UPDATE OR DELETE ON runs
  FOR EACH ROW EXECUTE FUNCTION run_issued_frozen();
CREATE TRIGGER run_practices_issued_frozen BEFORE INSERT OR UPDATE OR DELETE ON run_practices
  FOR EACH ROW EXECUTE FUNCTION run_issued_frozen();
CREATE TRIGGER run_invitations_issued_frozen BEFORE INSERT OR UPDATE OR DELETE ON run_invitations
  FOR EACH ROW EXECUTE FUNCTION run_issued_frozen();
CREATE TRIGGER run_yields_issued_frozen BEFORE INSERT OR UPDATE OR DELETE ON run_yields
  FOR EACH ROW EXECUTE FUNCTION run_issued_frozen();
