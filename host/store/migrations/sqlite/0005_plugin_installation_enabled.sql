-- An installation can be switched off without losing its config, secrets
-- and state. Keep in step with ../postgres.

ALTER TABLE plugin_installations ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
