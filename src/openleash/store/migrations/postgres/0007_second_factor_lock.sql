-- Wrong second factors given inside a signed-in session, counted apart from failed logins
-- (as in ../0007_second_factor_lock.sql).
ALTER TABLE owner_credentials ADD COLUMN factor_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE owner_credentials ADD COLUMN factor_locked_until_ms BIGINT NOT NULL DEFAULT 0;
