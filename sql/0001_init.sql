-- recruit schema, version 1: the foundation.
-- Every project object lives in the project schema (recruit by default); the
-- migrator sets search_path to it, so nothing here names a schema.

-- Facts about this database that commands report (db status).
CREATE TABLE settings (
  key text PRIMARY KEY,
  value text NOT NULL
);
INSERT INTO settings (key, value) VALUES ('created_at', now()::text);
