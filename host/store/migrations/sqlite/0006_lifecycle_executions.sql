-- Lifecycle dispatch: which events an installation wants, where its
-- fan-out cursor is, one execution row per (installation, event) and the
-- log of every attempt. Times are microseconds since the Unix epoch.

ALTER TABLE plugin_installations ADD COLUMN event_types TEXT NOT NULL DEFAULT '[]';
-- Events with seq <= cursor_seq have been fanned out (lifecycle only).
ALTER TABLE plugin_installations ADD COLUMN cursor_seq INTEGER;

CREATE TABLE lifecycle_executions (
    installation_id  TEXT NOT NULL REFERENCES plugin_installations (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    event_seq        INTEGER NOT NULL,
    event_type       TEXT NOT NULL,
    -- Executions of one subject (a user, else the group or directory) run
    -- in event order.
    subject          TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    round_start      INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    lease_until      INTEGER,
    detail           TEXT,
    last_error       TEXT,
    last_duration_us INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    PRIMARY KEY (installation_id, event_id)
);
CREATE INDEX lifecycle_executions_due ON lifecycle_executions (next_attempt_at) WHERE state = 'pending';
CREATE INDEX lifecycle_executions_subject ON lifecycle_executions (installation_id, subject, event_seq) WHERE state = 'pending';
CREATE INDEX lifecycle_executions_seq ON lifecycle_executions (event_seq);

CREATE TABLE lifecycle_attempts (
    installation_id TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    started_at      INTEGER NOT NULL,
    duration_us     INTEGER NOT NULL,
    outcome         TEXT NOT NULL,
    detail          TEXT,
    PRIMARY KEY (installation_id, event_id, attempt),
    FOREIGN KEY (installation_id, event_id) REFERENCES lifecycle_executions (installation_id, event_id) ON DELETE CASCADE
);
