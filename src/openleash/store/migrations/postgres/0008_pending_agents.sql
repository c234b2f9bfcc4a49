-- An agent enrolled by challenge without an invite waits for its owner: status PENDING.
-- An agent_id names one enrolment for good: at most one row per agent_id is not REVOKED (older
-- databases may hold several revoked rows of one id, from re-enrolments that replaced them).

ALTER TABLE agents DROP CONSTRAINT agents_status_check;
ALTER TABLE agents ADD CONSTRAINT agents_status_check
    CHECK (status IN ('ACTIVE', 'PENDING', 'REVOKED'));

DROP INDEX agents_active_agent_id;
-- INVARIANT: X-Agent-Id names at most one usable (ACTIVE or PENDING) enrolment.
CREATE UNIQUE INDEX agents_live_agent_id ON agents (agent_id) WHERE status <> 'REVOKED';
CREATE INDEX agents_agent_id ON agents (agent_id);

-- Expired challenges are purged a few at a time, oldest first.
CREATE INDEX challenges_expires_at ON challenges (expires_at);
