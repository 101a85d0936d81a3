-- The deployment's safeguards a run was evaluated with (issue 20: research
-- dissent, contact ended and the minimum re-invitation interval, applied after
-- every cohort's own criteria from recruit.yaml, never from the cohort file), so
-- that `--reproduce` and `runs why` apply the same ones after recruit.yaml
-- changes. NULL for runs recorded before: they are reproduced as they were made.
ALTER TABLE runs ADD COLUMN safeguards jsonb;

-- Which steps of a run's yield are the safeguards, so that reports show them
-- as their own section. NULL for runs recorded before.
ALTER TABLE run_yields ADD COLUMN safeguard boolean;

CREATE OR REPLACE VIEW report_run_yields AS
SELECT y.run_id, y.practice_id, y.step, y.criterion, y.label, y.remaining, y.effect, y.safeguard
FROM run_yields y
WHERE y.practice_id <> '__total__'
  AND NOT EXISTS (SELECT 1 FROM run_practices rp
                  WHERE rp.run_id = y.run_id AND rp.practice_id = y.practice_id
                    AND rp.superseded_by_run_id IS NOT NULL);
