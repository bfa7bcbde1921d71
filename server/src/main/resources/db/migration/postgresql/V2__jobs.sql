-- Runs as jobs (see ../sqlite/V2__jobs.sql).
ALTER TABLE runs ADD COLUMN started_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN finished_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_state ON runs (state, priority, created_ms);
CREATE INDEX runs_created ON runs (created_ms, run_id);
CREATE INDEX run_tags_tag ON run_tags (tag);
CREATE TABLE progress (run_id TEXT PRIMARY KEY, attempt INTEGER NOT NULL, epoch INTEGER NOT NULL,
  batch INTEGER NOT NULL, batches INTEGER NOT NULL, unix_ms BIGINT NOT NULL);
