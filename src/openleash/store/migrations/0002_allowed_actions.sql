-- Every allowed action, for spend and rate limits and first-time counterparties.
-- Written in the same transaction as the decision that allowed it.
CREATE TABLE allowed_actions (
    seq                 INTEGER PRIMARY KEY,
    decision_id         TEXT NOT NULL,
    owner_id            TEXT NOT NULL,
    agent_principal_id  TEXT NOT NULL,
    action_type         TEXT NOT NULL,
    currency            TEXT,
    counterparty        TEXT,
    amount_minor        REAL,
    at_ms               INTEGER NOT NULL
);
CREATE INDEX allowed_actions_by_agent ON allowed_actions (agent_principal_id, at_ms);
CREATE INDEX allowed_actions_by_owner ON allowed_actions (owner_id, at_ms);
CREATE INDEX allowed_actions_by_counterparty ON allowed_actions (owner_id, counterparty);
