-- Code lists used by runs, stored as immutable versions (issue: code lists), so
-- a run's record points to exactly the codes it used even after the files change.
CREATE TABLE codelist_versions (
  codelist_version_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name                 text NOT NULL,
  version              text,              -- from the manifest, if any
  sha256               text NOT NULL,     -- of the CSV file's bytes
  expanded_sha256      text NOT NULL,     -- of the expanded (code_system, code) set a run matched on
  manifest             jsonb NOT NULL DEFAULT '{}',  -- the list's manifest entry (sources, status, rules)
  stored_at            timestamptz NOT NULL DEFAULT now(),
  UNIQUE (name, sha256, expanded_sha256)
);

-- The expanded codes of each stored version: what "in list X" matched.
CREATE TABLE codelist_codes (
  codelist_version_id  bigint NOT NULL REFERENCES codelist_versions,
  code_system          text NOT NULL,
  code                 text NOT NULL,
  term                 text,
  PRIMARY KEY (codelist_version_id, code_system, code)
);

CREATE FUNCTION codelist_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'stored code-list versions are immutable: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER codelist_versions_immutable BEFORE UPDATE OR DELETE ON codelist_versions
  FOR EACH ROW EXECUTE FUNCTION codelist_immutable();
CREATE TRIGGER codelist_codes_immutable BEFORE UPDATE OR DELETE ON codelist_codes
  FOR EACH ROW EXECUTE FUNCTION codelist_immutable();
CREATE TRIGGER codelist_versions_no_truncate BEFORE TRUNCATE ON codelist_versions
  FOR EACH STATEMENT EXECUTE FUNCTION codelist_immutable();
CREATE TRIGGER codelist_codes_no_truncate BEFORE TRUNCATE ON codelist_codes
  FOR EACH STATEMENT EXECUTE FUNCTION codelist_immutable();

-- A version's codes are written with it, in the transaction that stores it,
-- and never later: codes cannot be slipped into a stored version.
CREATE FUNCTION codelist_codes_with_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_codes n JOIN codelist_versions v USING (codelist_version_id)
             WHERE v.xmin <> pg_current_xact_id()::xid) THEN
    RAISE EXCEPTION 'stored code-list versions are immutable: codes can be added only with their version'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER codelist_codes_only_with_version AFTER INSERT ON codelist_codes
  REFERENCING NEW TABLE AS new_codes FOR EACH STATEMENT EXECUTE FUNCTION codelist_codes_with_version();
