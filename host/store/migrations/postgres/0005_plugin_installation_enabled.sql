-- An installation can be switched off without losing its config, secrets
-- and state. Keep in step with ../sqlite.

ALTER TABLE plugin_installations ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT TRUE;
