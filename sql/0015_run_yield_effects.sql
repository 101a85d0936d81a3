-- Whether each step of a run's attrition includes or excludes (issue 16), so
-- that reports read it with the yield instead of parsing the stored cohort
-- definition again. NULL for step 0 and for runs recorded before this
-- migration (a report shows their steps without the word).
ALTER TABLE run_yields ADD COLUMN effect text CHECK (effect IN ('include', 'exclude'));

CREATE OR REPLACE VIEW report_run_yields AS
SELECT y.run_id, y.practice_id, y.step, y.criterion, y.label, y.remaining, y.effect
FROM run_yields y
WHERE y.practice_id <> '__total__'
  AND NOT EXISTS (SELECT 1 FROM run_practices rp
                  WHERE rp.run_id = y.run_id AND rp.practice_id = y.practice_id
                    AND rp.superseded_by_run_id IS NOT NULL);
