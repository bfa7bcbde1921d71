-- The tables of ctrlab 0.1 (see ../sqlite/V1__runs.sql), in PostgreSQL's types.
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, state INTEGER NOT NULL,
  created_ms BIGINT NOT NULL, backbone TEXT NOT NULL, dataset TEXT NOT NULL, record BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS run_tags (run_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (run_id, tag));
CREATE TABLE IF NOT EXISTS events (run_id TEXT NOT NULL, idx BIGINT NOT NULL, event BYTEA NOT NULL,
  PRIMARY KEY (run_id, idx));
CREATE TABLE IF NOT EXISTS studies (study_id TEXT PRIMARY KEY, owner TEXT NOT NULL, created_ms BIGINT NOT NULL,
  record BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS artifacts (run_id TEXT NOT NULL, name TEXT NOT NULL, data BYTEA NOT NULL,
  PRIMARY KEY (run_id, name));
