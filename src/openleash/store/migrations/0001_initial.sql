-- The first schema. Times are ISO-8601 text (milliseconds, Z) except *_ms columns (epoch ms).
-- JSON is stored as text. Indexes are few on purpose: nonces and audit events are written on
-- every authorization, and every index is one more b-tree to update under the write lock.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

-- Grows whenever owners, agents, policies, bindings or keys change; caches reload on a change.
INSERT INTO meta (key, value) VALUES ('revision', 0);

CREATE TABLE owners (
    user_principal_id TEXT PRIMARY KEY,
    owner_type        TEXT NOT NULL DEFAULT 'user',
    display_name      TEXT NOT NULL,
    status            TEXT NOT NULL,
    created_at        TEXT NOT NULL
);

CREATE TABLE agents (
    agent_principal_id TEXT PRIMARY KEY,
    agent_id           TEXT NOT NULL,
    owner_type         TEXT NOT NULL,
    owner_id           TEXT NOT NULL,
    public_key_b64     TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('ACTIVE', 'REVOKED')),
    attributes_json    TEXT NOT NULL DEFAULT '{}',
    created_at         TEXT NOT NULL,
    revoked_at         TEXT,
    webhook_url        TEXT NOT NULL DEFAULT '',
    webhook_secret     TEXT NOT NULL DEFAULT '',
    webhook_auth_token TEXT NOT NULL DEFAULT ''
);

-- INVARIANT: at most one ACTIVE agent per agent_id (X-Agent-Id must name exactly one key).
CREATE UNIQUE INDEX agents_active_agent_id ON agents (agent_id) WHERE status = 'ACTIVE';
CREATE INDEX agents_owner ON agents (owner_id);
CREATE INDEX agents_webhook_url ON agents (webhook_url) WHERE webhook_url <> '';

CREATE TABLE policies (
    policy_id                     TEXT PRIMARY KEY,
    owner_type                    TEXT NOT NULL,
    owner_id                      TEXT NOT NULL,
    applies_to_agent_principal_id TEXT,
    name                          TEXT,
    description                   TEXT,
    policy_yaml                   TEXT NOT NULL,
    created_at                    TEXT NOT NULL,
    updated_at                    TEXT NOT NULL
);

CREATE INDEX policies_owner ON policies (owner_id);

-- seq keeps insertion order: layering sorts by rank, stably, so ties keep the order of creation.
CREATE TABLE bindings (
    seq                           INTEGER PRIMARY KEY,
    binding_id                    TEXT NOT NULL UNIQUE,
    owner_type                    TEXT NOT NULL,
    owner_id                      TEXT NOT NULL,
    policy_id                     TEXT NOT NULL REFERENCES policies (policy_id) ON DELETE CASCADE,
    applies_to_agent_principal_id TEXT,
    applies_to_group_id           TEXT,
    rank                          INTEGER
);

CREATE INDEX bindings_owner ON bindings (owner_id, owner_type);
CREATE INDEX bindings_policy ON bindings (policy_id);

CREATE TABLE server_keys (
    seq             INTEGER PRIMARY KEY,
    kid             TEXT NOT NULL UNIQUE,
    public_key_b64  TEXT NOT NULL,
    private_key_b64 TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    revoked_at      TEXT,
    active          BOOLEAN NOT NULL DEFAULT FALSE
);

-- INVARIANT: at most one active signing key.
CREATE UNIQUE INDEX server_keys_one_active ON server_keys (active) WHERE active;

-- Replay protection. A row whose expires_ms has passed may be taken again (see use_nonce).
CREATE TABLE nonces (
    agent_id   TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (agent_id, nonce)
) WITHOUT ROWID;

CREATE INDEX nonces_expires ON nonces (expires_ms);

CREATE TABLE challenges (
    challenge_id          TEXT PRIMARY KEY,
    agent_id              TEXT NOT NULL,
    agent_pubkey_b64      TEXT NOT NULL,
    owner_type            TEXT,
    owner_id              TEXT,
    challenge_b64         TEXT NOT NULL,
    expires_at            TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    agent_attributes_json TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE invites (
    invite_id  TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('agent', 'setup')),
    owner_type TEXT NOT NULL,
    owner_id   TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    token_salt TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    used_at    TEXT
);

-- owner_id and agent_principal_id are copied out of metadata_json so that the owner and agent
-- views of the log can use an index. AUTOINCREMENT: a seq is never reused, so cursors stay valid.
CREATE TABLE audit_events (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id           TEXT NOT NULL,
    timestamp          TEXT NOT NULL,
    event_type         TEXT NOT NULL,
    principal_id       TEXT,
    action_id          TEXT,
    decision_id        TEXT,
    owner_id           TEXT,
    agent_principal_id TEXT,
    metadata_json      TEXT NOT NULL
);

-- The owner and agent views page by seq and may bound the time; with timestamp in the index
-- their counts and time filters never read the table.
CREATE INDEX audit_events_owner ON audit_events (owner_id, seq, timestamp)
    WHERE owner_id IS NOT NULL;
CREATE INDEX audit_events_agent ON audit_events (agent_principal_id, seq, timestamp)
    WHERE agent_principal_id IS NOT NULL;
