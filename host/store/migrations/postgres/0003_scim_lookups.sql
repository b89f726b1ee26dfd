-- Indexed lookups for SCIM filters and uniqueness, per-directory custom
-- SCIM schemas, and the SCIM request log. Keep in step with ../sqlite.

ALTER TABLE directory_users ADD COLUMN username_key TEXT;
ALTER TABLE directory_users ADD COLUMN external_id TEXT;
UPDATE directory_users SET username_key = lower(username) WHERE username IS NOT NULL;
CREATE UNIQUE INDEX directory_users_username_key ON directory_users (directory_id, username_key);
CREATE INDEX directory_users_external_id ON directory_users (directory_id, external_id);

CREATE TABLE directory_user_emails (
    user_id      TEXT NOT NULL REFERENCES directory_users (id) ON DELETE CASCADE,
    directory_id TEXT NOT NULL,
    email_key    TEXT NOT NULL,
    PRIMARY KEY (user_id, email_key)
);
CREATE INDEX directory_user_emails_lookup ON directory_user_emails (directory_id, email_key);

ALTER TABLE directory_groups ADD COLUMN name_key TEXT;
ALTER TABLE directory_groups ADD COLUMN external_id TEXT;
UPDATE directory_groups SET name_key = lower(name);
CREATE INDEX directory_groups_name_key ON directory_groups (directory_id, name_key);
CREATE INDEX directory_groups_external_id ON directory_groups (directory_id, external_id);

CREATE TABLE scim_schemas (
    directory_id  TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    urn           TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    definition    JSONB NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (directory_id, urn)
);

-- The last requests per directory, for support ("why didn't my user sync").
CREATE TABLE scim_requests (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    directory_id  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    status        BIGINT NOT NULL,
    duration_us   BIGINT NOT NULL,
    user_agent    TEXT,
    request_body  TEXT,
    response_body TEXT
);
CREATE INDEX scim_requests_directory ON scim_requests (directory_id, seq);
