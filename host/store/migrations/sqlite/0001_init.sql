-- Rollcall schema, SQLite. Times are BIGINT microseconds since the epoch;
-- JSON is TEXT; ids are prefixed ULIDs. Keep in step with ../postgres.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    external_id TEXT,
    domains     TEXT NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX organizations_external_id ON organizations (external_id) WHERE external_id IS NOT NULL;

CREATE TABLE directories (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    type            TEXT NOT NULL,
    state           TEXT NOT NULL,
    domain          TEXT,
    settings        TEXT NOT NULL DEFAULT '{}',
    secret_names    TEXT NOT NULL DEFAULT '[]',
    secrets         BLOB,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX directories_organization ON directories (organization_id, id);

CREATE TABLE scim_tokens (
    id           TEXT PRIMARY KEY,
    directory_id TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    token_hash   BLOB NOT NULL UNIQUE,
    suffix       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    expires_at   INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX scim_tokens_directory ON scim_tokens (directory_id, id);

CREATE TABLE admin_keys (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    organization_id TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    key_hash        BLOB NOT NULL UNIQUE,
    suffix          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    revoked_at      INTEGER
);

CREATE TABLE directory_users (
    id                TEXT PRIMARY KEY,
    directory_id      TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    organization_id   TEXT NOT NULL,
    idp_id            TEXT NOT NULL,
    email             TEXT,
    first_name        TEXT,
    last_name         TEXT,
    username          TEXT,
    state             TEXT NOT NULL,
    roles             TEXT NOT NULL DEFAULT '[]',
    custom_attributes TEXT NOT NULL DEFAULT '{}',
    raw_attributes    TEXT NOT NULL DEFAULT '{}',
    content_hash      BLOB NOT NULL,
    version           INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (directory_id, idp_id)
);
CREATE INDEX directory_users_directory ON directory_users (directory_id, id);
CREATE INDEX directory_users_email ON directory_users (directory_id, email);

CREATE TABLE directory_groups (
    id              TEXT PRIMARY KEY,
    directory_id    TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    idp_id          TEXT NOT NULL,
    name            TEXT NOT NULL,
    raw_attributes  TEXT NOT NULL DEFAULT '{}',
    content_hash    BLOB NOT NULL,
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (directory_id, idp_id)
);
CREATE INDEX directory_groups_directory ON directory_groups (directory_id, id);

CREATE TABLE directory_memberships (
    group_id     TEXT NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES directory_users (id) ON DELETE CASCADE,
    directory_id TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX directory_memberships_user ON directory_memberships (user_id, group_id);

-- The event log. `seq` is the total order; AUTOINCREMENT never reuses a value.
CREATE TABLE events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    type            TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    directory_id    TEXT,
    data            TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX events_organization ON events (organization_id, seq);
CREATE INDEX events_directory ON events (directory_id, seq);
CREATE INDEX events_type ON events (type, seq);
CREATE INDEX events_created_at ON events (created_at);
