-- Lifecycle dispatch: which events an installation wants, where its
-- fan-out cursor is, one execution row per (installation, event) and the
-- log of every attempt. Times are microseconds since the Unix epoch.

ALTER TABLE plugin_installations ADD COLUMN event_types JSONB NOT NULL DEFAULT '[]';
-- Events with seq <= cursor_seq have been fanned out (lifecycle only).
ALTER TABLE plugin_installations ADD COLUMN cursor_seq BIGINT;

CREATE TABLE lifecycle_executions (
    installation_id  TEXT NOT NULL REFERENCES plugin_installations (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    event_seq        BIGINT NOT NULL,
    event_type       TEXT NOT NULL,
    -- Executions of one subject (a user, else the group or directory) run
    -- in event order.
    subject          TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    round_start      BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT,
    lease_until      BIGINT,
    detail           TEXT,
    last_error       TEXT,
    last_duration_us BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    finished_at      BIGINT,
    PRIMARY KEY (installation_id, event_id)
);
CREATE INDEX lifecycle_executions_due ON lifecycle_executions (next_attempt_at) WHERE state = 'pending';
CREATE INDEX lifecycle_executions_subject ON lifecycle_executions (installation_id, subject, event_seq) WHERE state = 'pending';
CREATE INDEX lifecycle_executions_seq ON lifecycle_executions (event_seq);

CREATE TABLE lifecycle_attempts (
    installation_id TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    attempt         BIGINT NOT NULL,
    started_at      BIGINT NOT NULL,
    duration_us     BIGINT NOT NULL,
    outcome         TEXT NOT NULL,
    detail          TEXT,
    PRIMARY KEY (installation_id, event_id, attempt),
    FOREIGN KEY (installation_id, event_id) REFERENCES lifecycle_executions (installation_id, event_id) ON DELETE CASCADE
);
