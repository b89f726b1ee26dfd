-- Rollcall schema, PostgreSQL. Times are BIGINT microseconds since the epoch;
-- JSON is JSONB; ids are prefixed ULIDs. Keep in step with ../sqlite.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    external_id TEXT,
    domains     JSONB NOT NULL DEFAULT '[]'::jsonb,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX organizations_external_id ON organizations (external_id) WHERE external_id IS NOT NULL;

CREATE TABLE directories (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    type            TEXT NOT NULL,
    state           TEXT NOT NULL,
    domain          TEXT,
    settings        JSONB NOT NULL DEFAULT '{}'::jsonb,
    secret_names    JSONB NOT NULL DEFAULT '[]'::jsonb,
    secrets         BYTEA,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX directories_organization ON directories (organization_id, id);

CREATE TABLE scim_tokens (
    id           TEXT PRIMARY KEY,
    directory_id TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    token_hash   BYTEA NOT NULL UNIQUE,
    suffix       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at   BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX scim_tokens_directory ON scim_tokens (directory_id, id);

CREATE TABLE admin_keys (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    organization_id TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    key_hash        BYTEA NOT NULL UNIQUE,
    suffix          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT
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
    roles             JSONB NOT NULL DEFAULT '[]'::jsonb,
    custom_attributes JSONB NOT NULL DEFAULT '{}'::jsonb,
    raw_attributes    JSONB NOT NULL DEFAULT '{}'::jsonb,
    content_hash      BYTEA NOT NULL,
    version           BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
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
    raw_attributes  JSONB NOT NULL DEFAULT '{}'::jsonb,
    content_hash    BYTEA NOT NULL,
    version         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (directory_id, idp_id)
);
CREATE INDEX directory_groups_directory ON directory_groups (directory_id, id);

CREATE TABLE directory_memberships (
    group_id     TEXT NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES directory_users (id) ON DELETE CASCADE,
    directory_id TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX directory_memberships_user ON directory_memberships (user_id, group_id);

-- The event log. `seq` is the total order; identity values are never reused; writers of events
-- serialize on an advisory lock so that commit order equals seq order.
CREATE TABLE events (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    type            TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    directory_id    TEXT,
    data            JSONB NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX events_organization ON events (organization_id, seq);
CREATE INDEX events_directory ON events (directory_id, seq);
CREATE INDEX events_type ON events (type, seq);
CREATE INDEX events_created_at ON events (created_at);
