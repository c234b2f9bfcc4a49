-- Allowed actions, counted by spend and rate limits and by first-time-counterparty checks.
-- Written in the same transaction as the decision that allowed them.
--
-- Actions are grouped into streams (owner, agent, action type, currency, counterparty; '' when
-- the action has no such value). A stream keeps running totals, and every allowed action row
-- stores the totals of its stream after it. Usage of a stream since T is then the stream's
-- totals minus those of its last row before T: two index look-ups, however busy the stream.
CREATE TABLE usage_streams (
    stream_id           INTEGER PRIMARY KEY,
    owner_id            TEXT NOT NULL,
    agent_principal_id  TEXT NOT NULL,
    action_type         TEXT NOT NULL,
    currency            TEXT NOT NULL,
    counterparty        TEXT NOT NULL,
    total_amount        REAL NOT NULL,
    total_count         INTEGER NOT NULL,
    last_at_ms          INTEGER NOT NULL,
    UNIQUE (owner_id, agent_principal_id, action_type, currency, counterparty)
);
CREATE INDEX usage_streams_by_counterparty ON usage_streams (owner_id, counterparty);

CREATE TABLE allowed_actions (
    seq           INTEGER PRIMARY KEY,
    stream_id     INTEGER NOT NULL REFERENCES usage_streams (stream_id),
    decision_id   TEXT NOT NULL,
    amount_minor  REAL,
    at_ms         INTEGER NOT NULL,
    total_amount  REAL NOT NULL,
    total_count   INTEGER NOT NULL
);
CREATE INDEX allowed_actions_by_stream ON allowed_actions (stream_id, at_ms, total_count);
