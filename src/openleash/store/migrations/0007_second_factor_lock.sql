-- Wrong second factors given inside a signed-in session are counted apart from failed logins:
-- strangers who fail to log in must not lock a signed-in owner out of approving.
ALTER TABLE owner_credentials ADD COLUMN factor_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE owner_credentials ADD COLUMN factor_locked_until_ms INTEGER NOT NULL DEFAULT 0;
