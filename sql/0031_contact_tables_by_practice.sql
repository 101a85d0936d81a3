-- The run's patient rows and the contact history, ready to be distributed by
-- practice_id on Citus (issue 18), co-located with the extract tables. On one
-- server nothing changes in what the tables hold or what queries return.
--
-- Citus co-locates tables only when their distribution columns have the same
-- collation, and every unique key of a distributed table must include the
-- distribution column. So:
--
-- * practice_id of run_invitations, history_invitations and contact_outcomes
--   is collated "C", as the extract tables' is (sql/0003). recruit's own
--   clusters are initialised with the C locale, where this changes no order;
--   on a server with another default collation these tables now sort their
--   practice ids byte-wise, as the lists already are.
-- * contact_outcomes' primary key is (practice_id, outcome_id). outcome_id is
--   an identity column, unique by itself as before.
-- * run_issued_frozen() reads `runs` with a pinned search_path: on Citus the
--   trigger fires on the workers' shards, in the workers' sessions.
--
-- PostgreSQL refuses to change a column's collation while a view uses it, so
-- every view of the schema is recreated around the change, from its own
-- definition, options, privileges and comment.

CREATE TEMPORARY TABLE migration_0031_views ON COMMIT DROP AS
SELECT c.oid, c.relname, pg_get_viewdef(c.oid) AS definition, c.reloptions, c.relacl,
       obj_description(c.oid, 'pg_class') AS comment, false AS recreated
FROM pg_class c
WHERE c.relkind = 'v' AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema());

DO $$
DECLARE
  v record;
  n_left integer;
  n_before integer;
BEGIN
  FOR v IN SELECT relname FROM migration_0031_views ORDER BY oid DESC LOOP
    EXECUTE format('DROP VIEW IF EXISTS %I CASCADE', v.relname);
  END LOOP;

  ALTER TABLE run_invitations ALTER COLUMN practice_id TYPE text COLLATE "C";
  ALTER TABLE history_invitations ALTER COLUMN practice_id TYPE text COLLATE "C";
  ALTER TABLE contact_outcomes ALTER COLUMN practice_id TYPE text COLLATE "C";
  ALTER TABLE contact_outcomes DROP CONSTRAINT contact_outcomes_pkey,
                               ADD PRIMARY KEY (practice_id, outcome_id);

  -- A view may use one made after it: recreate until every one is back.
  LOOP
    SELECT count(*) INTO n_before FROM migration_0031_views WHERE NOT recreated;
    EXIT WHEN n_before = 0;
    FOR v IN SELECT * FROM migration_0031_views WHERE NOT recreated ORDER BY oid LOOP
      BEGIN
        EXECUTE format('CREATE VIEW %I%s AS %s', v.relname,
                       CASE WHEN v.reloptions IS NULL THEN ''
                            ELSE ' WITH (' || array_to_string(v.reloptions, ', ') || ')' END,
                       v.definition);
        UPDATE migration_0031_views SET recreated = true WHERE oid = v.oid;
      EXCEPTION WHEN undefined_table THEN
        NULL;  -- it reads a view not recreated yet
      END;
    END LOOP;
    SELECT count(*) INTO n_left FROM migration_0031_views WHERE NOT recreated;
    IF n_left = n_before THEN
      RAISE EXCEPTION '% view(s) could not be recreated', n_left;
    END IF;
  END LOOP;

  FOR v IN
    SELECT w.relname, a.privilege_type, a.grantee, a.is_grantable
    FROM migration_0031_views w, aclexplode(w.relacl) a
    WHERE a.grantee <> a.grantor
  LOOP
    EXECUTE format('GRANT %s ON %I TO %s%s', v.privilege_type, v.relname,
                   CASE WHEN v.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(v.grantee)) END,
                   CASE WHEN v.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
  END LOOP;
  FOR v IN SELECT relname, comment FROM migration_0031_views WHERE comment IS NOT NULL LOOP
    EXECUTE format('COMMENT ON VIEW %I IS %L', v.relname, v.comment);
  END LOOP;

  EXECUTE format('ALTER FUNCTION run_issued_frozen() SET search_path = %I, pg_temp', current_schema());
END $$;

-- The invitees' age bands (sql/0019) without a subquery that has no FROM
-- clause: Citus pushes a query on the distributed run_invitations down to the
-- shards only when such a subquery has immutable functions alone, and age()
-- of a date is not. The same columns and values.
CREATE OR REPLACE VIEW report_invitee_profiles AS
SELECT a.run_id, a.practice_id, a.patient_id,
       CASE WHEN a.age < 18 THEN 'under 18' WHEN a.age <= 24 THEN '18-24' WHEN a.age >= 65 THEN '65 and over'
            WHEN a.age IS NULL THEN 'unknown'
            ELSE ((a.age - 25) / 10 * 10 + 25)::text || '-' || ((a.age - 25) / 10 * 10 + 34)::text END AS age_band,
       a.sex
FROM (
  SELECT i.run_id, i.practice_id, i.patient_id, pt.sex::text AS sex,
         CASE WHEN pt.year_of_birth BETWEEN 1 AND 9999
              THEN extract(year FROM age(r.index_date, make_date(pt.year_of_birth, coalesce(pt.month_of_birth, 7)::int, 1)))::int END AS age
  FROM run_invitations i
  JOIN runs r ON r.run_id = i.run_id
  JOIN run_practices rp ON rp.run_id = i.run_id AND rp.practice_id = i.practice_id
  JOIN (SELECT load_id, practice_id, patient_id, year_of_birth, month_of_birth, sex FROM patients
        UNION ALL
        SELECT load_id, practice_id, patient_id, year_of_birth, month_of_birth, sex FROM retained_patients) pt
    ON pt.load_id = rp.load_id AND pt.practice_id = i.practice_id AND pt.patient_id = i.patient_id
) a;
