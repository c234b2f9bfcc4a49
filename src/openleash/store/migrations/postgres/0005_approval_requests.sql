-- Approval requests: an agent asks its owner to approve one action (by its action hash).
-- Resolution and consumption are conditional updates, so each happens exactly once: a second
-- updater waits for the first to commit, then finds the condition no longer holds.
CREATE TABLE approval_requests (
    approval_request_id  TEXT COLLATE "C" PRIMARY KEY,
    owner_type           TEXT COLLATE "C" NOT NULL,
    owner_id             TEXT COLLATE "C" NOT NULL,
    agent_principal_id   TEXT COLLATE "C" NOT NULL,
    agent_id             TEXT COLLATE "C" NOT NULL,
    decision_id          TEXT COLLATE "C" NOT NULL,
    action_json          TEXT COLLATE "C" NOT NULL,
    action_hash          TEXT COLLATE "C" NOT NULL,
    action_type          TEXT COLLATE "C" NOT NULL,
    justification        TEXT COLLATE "C",
    status               TEXT COLLATE "C" NOT NULL,
    created_at           TEXT COLLATE "C" NOT NULL,
    expires_at           TEXT COLLATE "C" NOT NULL,
    resolved_at          TEXT COLLATE "C",
    resolved_by          TEXT COLLATE "C",
    denial_reason        TEXT COLLATE "C",
    consumed_at          TEXT COLLATE "C"
);
CREATE INDEX approval_requests_by_owner ON approval_requests (owner_id, status, created_at);
CREATE INDEX approval_requests_by_agent ON approval_requests (agent_principal_id, created_at);
