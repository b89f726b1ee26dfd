-- Pull sync: per-directory schedule and checkpoint, the runs (which are
-- also the job queue: leased rows), and the "seen in full pass N" marks
-- that let a complete pass remove what the provider no longer has.
-- Times are microseconds since the Unix epoch. Keep in step with ../postgres.

ALTER TABLE directory_users ADD COLUMN sync_generation INTEGER;
ALTER TABLE directory_groups ADD COLUMN sync_generation INTEGER;
ALTER TABLE directory_memberships ADD COLUMN sync_generation INTEGER;

CREATE TABLE directory_sync (
    directory_id  TEXT PRIMARY KEY REFERENCES directories (id) ON DELETE CASCADE,
    -- When the schedule next enqueues a run (NULL: as soon as possible).
    next_run_at   INTEGER,
    -- The connector's checkpoint after the last successful run.
    checkpoint    TEXT,
    -- The newest full-pass generation begun.
    generation    INTEGER NOT NULL DEFAULT 0,
    last_full_at  INTEGER,
    last_success_at INTEGER,
    -- Why the directory needs an operator (invalid config), if it does.
    attention     TEXT,
    updated_at    INTEGER NOT NULL
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
    generation       INTEGER,
    force_full       INTEGER NOT NULL DEFAULT 0,
    pages            INTEGER NOT NULL DEFAULT 0,
    users_created    INTEGER NOT NULL DEFAULT 0,
    users_updated    INTEGER NOT NULL DEFAULT 0,
    users_deleted    INTEGER NOT NULL DEFAULT 0,
    users_unchanged  INTEGER NOT NULL DEFAULT 0,
    users_skipped    INTEGER NOT NULL DEFAULT 0,
    groups_created   INTEGER NOT NULL DEFAULT 0,
    groups_updated   INTEGER NOT NULL DEFAULT 0,
    groups_deleted   INTEGER NOT NULL DEFAULT 0,
    groups_unchanged INTEGER NOT NULL DEFAULT 0,
    members_added    INTEGER NOT NULL DEFAULT 0,
    members_removed  INTEGER NOT NULL DEFAULT 0,
    members_unchanged INTEGER NOT NULL DEFAULT 0,
    members_skipped  INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    not_before       INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_until      INTEGER,
    warning          TEXT,
    error            TEXT,
    error_kind       TEXT,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    updated_at       INTEGER NOT NULL
);
-- At most one queued or running run per directory.
CREATE UNIQUE INDEX sync_runs_one_active ON sync_runs (directory_id) WHERE status IN ('queued', 'running');
CREATE INDEX sync_runs_directory ON sync_runs (directory_id, id);
CREATE INDEX sync_runs_claimable ON sync_runs (not_before) WHERE status IN ('queued', 'running');
