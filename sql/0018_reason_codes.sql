-- Coded reasons (issue 21): a GP's free-text reason for screening someone out
-- stays at the practice and is never stored; a code from a short vocabulary is
-- stored and counted (screened_out: clinical, recent_life_event, safeguarding,
-- capacity, other; declined: an optional short list). The vocabularies are a
-- deployment setting; `reason` keeps the ineligible reasons.
ALTER TABLE contact_outcomes ADD COLUMN reason_code text;
