-- Owners sign in, approve and step up; agents ask for approvals and propose policies
-- (as in ../0006_human_in_the_loop.sql).

-- Secrets of an owner, kept apart from the owner record every API may show.
CREATE TABLE owner_credentials (
    user_principal_id TEXT COLLATE "C" PRIMARY KEY,
    passphrase_hash   TEXT COLLATE "C",
    -- Set by TOTP enrolment; only trusted once totp_enabled (the owner confirmed a code).
    totp_secret       TEXT COLLATE "C",
    totp_enabled      BOOLEAN NOT NULL DEFAULT FALSE,
    -- A new secret during (re-)enrolment; it replaces totp_secret once a code of it is confirmed.
    totp_pending      TEXT COLLATE "C",
    -- The time step of the last TOTP code accepted: a code is never accepted twice.
    totp_last_counter BIGINT,
    failed_logins     BIGINT NOT NULL DEFAULT 0,
    locked_until_ms   BIGINT NOT NULL DEFAULT 0,
    updated_at        TEXT COLLATE "C" NOT NULL
);

-- One row per backup code (SHA-256 of the normalised code); a code is used at most once.
CREATE TABLE owner_backup_codes (
    user_principal_id TEXT COLLATE "C" NOT NULL,
    code_hash         TEXT COLLATE "C" NOT NULL,
    used_at           TEXT COLLATE "C",
    PRIMARY KEY (user_principal_id, code_hash)
);

-- Owner sessions: the session token names its row, so logout and a passphrase reset end it.
CREATE TABLE owner_sessions (
    session_id        TEXT COLLATE "C" PRIMARY KEY,
    user_principal_id TEXT COLLATE "C" NOT NULL,
    csrf_token        TEXT COLLATE "C" NOT NULL,
    created_at        TEXT COLLATE "C" NOT NULL,
    expires_at        TEXT COLLATE "C" NOT NULL,
    revoked_at        TEXT COLLATE "C"
);
CREATE INDEX owner_sessions_by_user ON owner_sessions (user_principal_id);

-- Decisions that asked for a human (REQUIRE_APPROVAL, REQUIRE_STEP_UP): an approval request
-- must name one of these, of the same agent and action hash.
CREATE TABLE held_decisions (
    decision_id         TEXT COLLATE "C" PRIMARY KEY,
    owner_id            TEXT COLLATE "C" NOT NULL,
    agent_principal_id  TEXT COLLATE "C" NOT NULL,
    action_hash         TEXT COLLATE "C" NOT NULL,
    result              TEXT COLLATE "C" NOT NULL,
    matched_rule_id     TEXT COLLATE "C",
    min_assurance_level TEXT COLLATE "C",
    reason              TEXT COLLATE "C" NOT NULL,
    explanation         TEXT COLLATE "C",
    created_at          TEXT COLLATE "C" NOT NULL
);

-- What an approval request asks for (approval, or step-up to a level), what the owner saw,
-- and the assurance the owner's answer achieved.
ALTER TABLE approval_requests ADD COLUMN kind TEXT COLLATE "C" NOT NULL DEFAULT 'approval';
ALTER TABLE approval_requests ADD COLUMN min_assurance_level TEXT COLLATE "C";
ALTER TABLE approval_requests ADD COLUMN matched_rule_id TEXT COLLATE "C";
ALTER TABLE approval_requests ADD COLUMN reason TEXT COLLATE "C";
ALTER TABLE approval_requests ADD COLUMN explanation TEXT COLLATE "C";
ALTER TABLE approval_requests ADD COLUMN context_json TEXT COLLATE "C";
ALTER TABLE approval_requests ADD COLUMN assurance_level TEXT COLLATE "C";
ALTER TABLE approval_requests ADD COLUMN approval_token_expires_at TEXT COLLATE "C";
-- INVARIANT: one approval request per held decision.
CREATE UNIQUE INDEX approval_requests_decision ON approval_requests (decision_id);

CREATE TABLE policy_drafts (
    policy_draft_id               TEXT COLLATE "C" PRIMARY KEY,
    owner_type                    TEXT COLLATE "C" NOT NULL,
    owner_id                      TEXT COLLATE "C" NOT NULL,
    agent_principal_id            TEXT COLLATE "C" NOT NULL,
    agent_id                      TEXT COLLATE "C" NOT NULL,
    applies_to_agent_principal_id TEXT COLLATE "C",
    name                          TEXT COLLATE "C",
    description                   TEXT COLLATE "C",
    policy_yaml                   TEXT COLLATE "C" NOT NULL,
    justification                 TEXT COLLATE "C",
    status                        TEXT COLLATE "C" NOT NULL,
    resulting_policy_id           TEXT COLLATE "C",
    created_at                    TEXT COLLATE "C" NOT NULL,
    resolved_at                   TEXT COLLATE "C",
    resolved_by                   TEXT COLLATE "C",
    denial_reason                 TEXT COLLATE "C"
);
CREATE INDEX policy_drafts_by_owner ON policy_drafts (owner_id, status, created_at);
CREATE INDEX policy_drafts_by_agent ON policy_drafts (agent_principal_id, created_at);

-- Webhook deliveries, written in the transaction of the event they announce (nothing is lost
-- when a process dies) and sent afterwards, with retries, by any server process.
CREATE TABLE webhook_outbox (
    delivery_id        TEXT COLLATE "C" PRIMARY KEY,
    agent_principal_id TEXT COLLATE "C" NOT NULL,
    event_type         TEXT COLLATE "C" NOT NULL,
    data_json          TEXT COLLATE "C" NOT NULL,
    created_at         TEXT COLLATE "C" NOT NULL,
    status             TEXT COLLATE "C" NOT NULL DEFAULT 'PENDING',
    attempts           BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms    BIGINT NOT NULL,
    last_error         TEXT COLLATE "C",
    last_status_code   BIGINT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_ms) WHERE status = 'PENDING';
