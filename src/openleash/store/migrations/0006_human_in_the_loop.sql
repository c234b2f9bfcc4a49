-- Owners sign in, approve and step up; agents ask for approvals and propose policies.

-- Secrets of an owner, kept apart from the owner record every API may show.
CREATE TABLE owner_credentials (
    user_principal_id TEXT PRIMARY KEY,
    passphrase_hash   TEXT,
    -- Set by TOTP enrolment; only trusted once totp_enabled (the owner confirmed a code).
    totp_secret       TEXT,
    totp_enabled      BOOLEAN NOT NULL DEFAULT FALSE,
    -- A new secret during (re-)enrolment; it replaces totp_secret once a code of it is confirmed.
    totp_pending      TEXT,
    -- The time step of the last TOTP code accepted: a code is never accepted twice.
    totp_last_counter INTEGER,
    failed_logins     INTEGER NOT NULL DEFAULT 0,
    locked_until_ms   INTEGER NOT NULL DEFAULT 0,
    updated_at        TEXT NOT NULL
);

-- One row per backup code (SHA-256 of the normalised code); a code is used at most once.
CREATE TABLE owner_backup_codes (
    user_principal_id TEXT NOT NULL,
    code_hash         TEXT NOT NULL,
    used_at           TEXT,
    PRIMARY KEY (user_principal_id, code_hash)
);

-- Owner sessions: the session token names its row, so logout and a passphrase reset end it.
CREATE TABLE owner_sessions (
    session_id        TEXT PRIMARY KEY,
    user_principal_id TEXT NOT NULL,
    csrf_token        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    expires_at        TEXT NOT NULL,
    revoked_at        TEXT
);
CREATE INDEX owner_sessions_by_user ON owner_sessions (user_principal_id);

-- Decisions that asked for a human (REQUIRE_APPROVAL, REQUIRE_STEP_UP): an approval request
-- must name one of these, of the same agent and action hash.
CREATE TABLE held_decisions (
    decision_id         TEXT PRIMARY KEY,
    owner_id            TEXT NOT NULL,
    agent_principal_id  TEXT NOT NULL,
    action_hash         TEXT NOT NULL,
    result              TEXT NOT NULL,
    matched_rule_id     TEXT,
    min_assurance_level TEXT,
    reason              TEXT NOT NULL,
    explanation         TEXT,
    created_at          TEXT NOT NULL
);

-- What an approval request asks for (approval, or step-up to a level), what the owner saw,
-- and the assurance the owner's answer achieved.
ALTER TABLE approval_requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'approval';
ALTER TABLE approval_requests ADD COLUMN min_assurance_level TEXT;
ALTER TABLE approval_requests ADD COLUMN matched_rule_id TEXT;
ALTER TABLE approval_requests ADD COLUMN reason TEXT;
ALTER TABLE approval_requests ADD COLUMN explanation TEXT;
ALTER TABLE approval_requests ADD COLUMN context_json TEXT;
ALTER TABLE approval_requests ADD COLUMN assurance_level TEXT;
ALTER TABLE approval_requests ADD COLUMN approval_token_expires_at TEXT;
-- INVARIANT: one approval request per held decision.
CREATE UNIQUE INDEX approval_requests_decision ON approval_requests (decision_id);

CREATE TABLE policy_drafts (
    policy_draft_id               TEXT PRIMARY KEY,
    owner_type                    TEXT NOT NULL,
    owner_id                      TEXT NOT NULL,
    agent_principal_id            TEXT NOT NULL,
    agent_id                      TEXT NOT NULL,
    applies_to_agent_principal_id TEXT,
    name                          TEXT,
    description                   TEXT,
    policy_yaml                   TEXT NOT NULL,
    justification                 TEXT,
    status                        TEXT NOT NULL,
    resulting_policy_id           TEXT,
    created_at                    TEXT NOT NULL,
    resolved_at                   TEXT,
    resolved_by                   TEXT,
    denial_reason                 TEXT
);
CREATE INDEX policy_drafts_by_owner ON policy_drafts (owner_id, status, created_at);
CREATE INDEX policy_drafts_by_agent ON policy_drafts (agent_principal_id, created_at);

-- Webhook deliveries, written in the transaction of the event they announce (nothing is lost
-- when a process dies) and sent afterwards, with retries, by any server process.
CREATE TABLE webhook_outbox (
    delivery_id        TEXT PRIMARY KEY,
    agent_principal_id TEXT NOT NULL,
    event_type         TEXT NOT NULL,
    data_json          TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'PENDING',
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms    INTEGER NOT NULL,
    last_error         TEXT,
    last_status_code   INTEGER
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_ms) WHERE status = 'PENDING';
