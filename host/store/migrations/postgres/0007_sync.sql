-- Pull sync: per-directory schedule and checkpoint, the runs (which are
-- also the job queue: leased rows), and the "seen in full pass N" marks
-- that let a complete pass remove what the provider no longer has.
-- Times are microseconds since the Unix epoch. Keep in step with ../sqlite.

ALTER TABLE directory_users ADD COLUMN sync_generation BIGINT;
ALTER TABLE directory_groups ADD COLUMN sync_generation BIGINT;
ALTER TABLE directory_memberships ADD COLUMN sync_generation BIGINT;

CREATE TABLE directory_sync (
    directory_id  TEXT PRIMARY KEY REFERENCES directories (id) ON DELETE CASCADE,
    -- When the schedule next enqueues a run (NULL: as soon as possible).
    next_run_at   BIGINT,
    -- The connector's checkpoint after the last successful run.
    checkpoint    TEXT,
    -- The newest full-pass generation begun.
    generation    BIGINT NOT NULL DEFAULT 0,
    last_full_at  BIGINT,
    last_success_at BIGINT,
    -- Why the directory needs an operator (invalid config), if it does.
    attention     TEXT,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX directory_sync_due ON directory_sync (next_run_at);

CREATE TABLE sync_runs (
    id               TEXT PRIMARY KEY,
    directory_id     TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    organization_id  TEXT NOT NULL,
    trigger          TEXT NOT NULL,
    mode             TEXT NOT NULL,
    status           TEXT NOT NULL,
    phase            TEXT NOT NULL,
    cursor           TEXT,
    member_group     TEXT,
    checkpoint       TEXT,
    generation       BIGINT,
    force_full       BIGINT NOT NULL DEFAULT 0,
    pages            BIGINT NOT NULL DEFAULT 0,
    users_created    BIGINT NOT NULL DEFAULT 0,
    users_updated    BIGINT NOT NULL DEFAULT 0,
    users_deleted    BIGINT NOT NULL DEFAULT 0,
    users_unchanged  BIGINT NOT NULL DEFAULT 0,
    users_skipped    BIGINT NOT NULL DEFAULT 0,
    groups_created   BIGINT NOT NULL DEFAULT 0,
    groups_updated   BIGINT NOT NULL DEFAULT 0,
    groups_deleted   BIGINT NOT NULL DEFAULT 0,
    groups_unchanged BIGINT NOT NULL DEFAULT 0,
    members_added    BIGINT NOT NULL DEFAULT 0,
    members_removed  BIGINT NOT NULL DEFAULT 0,
    members_unchanged BIGINT NOT NULL DEFAULT 0,
    members_skipped  BIGINT NOT NULL DEFAULT 0,
    attempts         BIGINT NOT NULL DEFAULT 0,
    not_before       BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    warning          TEXT,
    error            TEXT,
    error_kind       TEXT,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    updated_at       BIGINT NOT NULL
);
-- At most one queued or running run per directory.
CREATE UNIQUE INDEX sync_runs_one_active ON sync_runs (directory_id) WHERE status IN ('queued', 'running');
CREATE INDEX sync_runs_directory ON sync_runs (directory_id, id);
CREATE INDEX sync_runs_claimable ON sync_runs (not_before) WHERE status IN ('queued', 'running');
