-- An agent enrolled by challenge without an invite waits for its owner: status PENDING.
-- An agent_id names one enrolment for good: at most one row per agent_id is not REVOKED (older
-- databases may hold several revoked rows of one id, from re-enrolments that replaced them).
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt.

CREATE TABLE agents_0007 (
    agent_principal_id TEXT PRIMARY KEY,
    agent_id           TEXT NOT NULL,
    owner_type         TEXT NOT NULL,
    owner_id           TEXT NOT NULL,
    public_key_b64     TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('ACTIVE', 'PENDING', 'REVOKED')),
    attributes_json    TEXT NOT NULL DEFAULT '{}',
    created_at         TEXT NOT NULL,
    revoked_at         TEXT,
    webhook_url        TEXT NOT NULL DEFAULT '',
    webhook_secret     TEXT NOT NULL DEFAULT '',
    webhook_auth_token TEXT NOT NULL DEFAULT ''
);

INSERT INTO agents_0007 (
    agent_principal_id, agent_id, owner_type, owner_id, public_key_b64, status,
    attributes_json, created_at, revoked_at, webhook_url, webhook_secret, webhook_auth_token
)
SELECT agent_principal_id, agent_id, owner_type, owner_id, public_key_b64, status,
    attributes_json, created_at, revoked_at, webhook_url, webhook_secret, webhook_auth_token
FROM agents;

DROP TABLE agents;

ALTER TABLE agents_0007 RENAME TO agents;

-- INVARIANT: X-Agent-Id names at most one usable (ACTIVE or PENDING) enrolment.
CREATE UNIQUE INDEX agents_live_agent_id ON agents (agent_id) WHERE status <> 'REVOKED';
CREATE INDEX agents_agent_id ON agents (agent_id);
CREATE INDEX agents_owner ON agents (owner_id);
CREATE INDEX agents_webhook_url ON agents (webhook_url) WHERE webhook_url <> '';

-- Expired challenges are purged a few at a time, oldest first.
CREATE INDEX challenges_expires_at ON challenges (expires_at);
