-- Plugins: installed components (by digest, versions side by side), their
-- installations (bindings to an organization, optionally a directory) and
-- per-installation state. Keep in step with ../postgres.

CREATE TABLE plugins (
    id          TEXT PRIMARY KEY,
    digest      TEXT NOT NULL UNIQUE,
    plugin_id   TEXT NOT NULL,
    version     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    wit_version TEXT NOT NULL,
    description TEXT NOT NULL,
    manifest    TEXT NOT NULL,
    source      TEXT NOT NULL,
    size_bytes  INTEGER NOT NULL,
    wasm        BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (plugin_id, version)
);

CREATE TABLE plugin_installations (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    directory_id    TEXT REFERENCES directories (id) ON DELETE CASCADE,
    plugin_digest   TEXT NOT NULL REFERENCES plugins (digest),
    plugin_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    config          TEXT NOT NULL DEFAULT '{}',
    grants          TEXT NOT NULL DEFAULT '{}',
    secret_names    TEXT NOT NULL DEFAULT '[]',
    credential_names TEXT NOT NULL DEFAULT '[]',
    sealed          BLOB,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX plugin_installations_organization ON plugin_installations (organization_id, id);
CREATE INDEX plugin_installations_digest ON plugin_installations (plugin_digest);

CREATE TABLE plugin_state (
    organization_id TEXT NOT NULL,
    installation_id TEXT NOT NULL REFERENCES plugin_installations (id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    value           TEXT NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (organization_id, installation_id, key)
);
CREATE INDEX plugin_state_installation ON plugin_state (installation_id);
