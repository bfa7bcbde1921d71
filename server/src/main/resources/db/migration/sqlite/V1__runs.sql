-- The schema of ctrlab 0.1 (before migrations were tracked); an existing database of that version is baselined here.
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, state INTEGER NOT NULL,
  created_ms INTEGER NOT NULL, backbone TEXT NOT NULL, dataset TEXT NOT NULL, record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS run_tags (run_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (run_id, tag));
CREATE TABLE IF NOT EXISTS events (run_id TEXT NOT NULL, idx INTEGER NOT NULL, event BLOB NOT NULL,
  PRIMARY KEY (run_id, idx));
CREATE TABLE IF NOT EXISTS studies (study_id TEXT PRIMARY KEY, owner TEXT NOT NULL, created_ms INTEGER NOT NULL,
  record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS artifacts (run_id TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY (run_id, name));
