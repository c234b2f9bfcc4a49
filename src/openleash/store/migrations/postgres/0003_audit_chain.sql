-- Tamper-evident audit log (docs/audit.md; as in ../0003_audit_chain.sql).
--
-- Every record stores the hash of the record before it and its own hash, which covers that
-- previous hash and every other column. The store computes both inside the write transaction,
-- under the write lock every writer takes, so the chain follows seq order whatever replica
-- writes. Records written before this version have empty hashes; `openleash audit verify`
-- reports them as not chained.
--
-- action_type and result are copied out of metadata_json (as owner_id and agent_principal_id
-- are) so that searches can filter on them without parsing JSON.
ALTER TABLE audit_events ADD COLUMN action_type TEXT COLLATE "C";
ALTER TABLE audit_events ADD COLUMN result TEXT COLLATE "C";
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN hash TEXT COLLATE "C" NOT NULL DEFAULT '';

-- Signed heads of the chain: the server key's signature over the hash of record `seq`. Written
-- by the transaction that appends that record, every so many records or seconds and whenever a
-- server key is created, rotated or revoked.
CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY,
    head_hash  TEXT COLLATE "C" NOT NULL,
    kid        TEXT COLLATE "C" NOT NULL,
    signature  TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
);
