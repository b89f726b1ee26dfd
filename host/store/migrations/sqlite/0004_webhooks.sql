-- Webhook endpoints, one delivery row per (endpoint, event), and the log of
-- every attempt. Times are microseconds since the Unix epoch.

CREATE TABLE webhook_endpoints (
    id                  TEXT PRIMARY KEY,
    organization_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url                 TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    -- JSON array of event types; [] means every type.
    event_types         TEXT NOT NULL,
    state               TEXT NOT NULL,
    disabled_reason     TEXT,
    -- Sealed JSON {"current": "whsec_…", "previous": "whsec_…" | null}.
    secrets             BLOB NOT NULL,
    secret_suffix       TEXT NOT NULL,
    previous_expires_at INTEGER,
    batch_size          INTEGER NOT NULL DEFAULT 1,
    rate_limit          INTEGER,
    -- Events with seq <= cursor_seq have been fanned out to deliveries.
    cursor_seq          INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_organization ON webhook_endpoints (organization_id, id);

CREATE TABLE webhook_deliveries (
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    event_seq       INTEGER NOT NULL,
    event_type      TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- attempts made before the last manual redelivery; the retry schedule
    -- restarts from there.
    round_start     INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    lease_until     INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    last_duration_us INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_seq ON webhook_deliveries (event_seq);

CREATE TABLE webhook_attempts (
    endpoint_id      TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    attempt          INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    duration_us      INTEGER NOT NULL,
    status           INTEGER,
    error            TEXT,
    response_excerpt TEXT,
    PRIMARY KEY (endpoint_id, event_id, attempt),
    FOREIGN KEY (endpoint_id, event_id) REFERENCES webhook_deliveries (endpoint_id, event_id) ON DELETE CASCADE
);
