-- Scheduled jobs: one row per job. A run is claimed by taking the lease (a conditional
-- UPDATE), so one process runs each due run whatever the number of processes.
CREATE TABLE jobs (
    job              TEXT PRIMARY KEY,
    due_at           BIGINT NOT NULL,
    lease_holder     TEXT NULL,
    lease_until      BIGINT NULL,
    last_finished_at BIGINT NULL,
    last_outcome     TEXT NULL
);
