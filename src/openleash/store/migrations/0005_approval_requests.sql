-- Approval requests: an agent asks its owner to approve one action (by its action hash).
-- Resolution and consumption are conditional updates, so each happens exactly once.
CREATE TABLE approval_requests (
    approval_request_id  TEXT PRIMARY KEY,
    owner_type           TEXT NOT NULL,
    owner_id             TEXT NOT NULL,
    agent_principal_id   TEXT NOT NULL,
    agent_id             TEXT NOT NULL,
    decision_id          TEXT NOT NULL,
    action_json          TEXT NOT NULL,
    action_hash          TEXT NOT NULL,
    action_type          TEXT NOT NULL,
    justification        TEXT,
    status               TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    expires_at           TEXT NOT NULL,
    resolved_at          TEXT,
    resolved_by          TEXT,
    denial_reason        TEXT,
    consumed_at          TEXT
);
CREATE INDEX approval_requests_by_owner ON approval_requests (owner_id, status, created_at);
CREATE INDEX approval_requests_by_agent ON approval_requests (agent_principal_id, created_at);
