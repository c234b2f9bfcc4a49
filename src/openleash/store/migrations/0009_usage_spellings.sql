-- Budgets count by one spelling of each currency code and counterparty: upper-case ISO codes,
-- lower-case domains without trailing dots. Usage recorded before, under other spellings
-- ("usd", "USD ", "Shop.Example."), is merged into the stream of its one spelling, so that no
-- budget starts again from zero. Streams are never pruned, so a stream's totals are the sums of
-- its rows.

CREATE TABLE usage_stream_moves (
    stream_id BIGINT PRIMARY KEY,
    target_id BIGINT NOT NULL
);

INSERT INTO usage_stream_moves (stream_id, target_id)
SELECT s.stream_id, (
    SELECT min(t.stream_id) FROM usage_streams t
    WHERE t.owner_id = s.owner_id
      AND t.agent_principal_id = s.agent_principal_id
      AND t.action_type = s.action_type
      AND upper(trim(t.currency)) = upper(trim(s.currency))
      AND rtrim(lower(trim(t.counterparty)), '.') = rtrim(lower(trim(s.counterparty)), '.')
)
FROM usage_streams s;

DELETE FROM usage_stream_moves WHERE stream_id = target_id;

UPDATE allowed_actions
SET stream_id = (
    SELECT m.target_id FROM usage_stream_moves m WHERE m.stream_id = allowed_actions.stream_id
)
WHERE stream_id IN (SELECT stream_id FROM usage_stream_moves);

-- The running totals of a stream that took in rows, again in time order.
UPDATE allowed_actions
SET total_amount = (
        SELECT sum(coalesce(b.amount_minor, 0)) FROM allowed_actions b
        WHERE b.stream_id = allowed_actions.stream_id
          AND (b.at_ms < allowed_actions.at_ms
               OR (b.at_ms = allowed_actions.at_ms AND b.seq <= allowed_actions.seq))
    ),
    total_count = (
        SELECT count(*) FROM allowed_actions b
        WHERE b.stream_id = allowed_actions.stream_id
          AND (b.at_ms < allowed_actions.at_ms
               OR (b.at_ms = allowed_actions.at_ms AND b.seq <= allowed_actions.seq))
    )
WHERE stream_id IN (SELECT target_id FROM usage_stream_moves);

UPDATE usage_streams
SET total_amount = (
        SELECT coalesce(sum(coalesce(a.amount_minor, 0)), 0) FROM allowed_actions a
        WHERE a.stream_id = usage_streams.stream_id
    ),
    total_count = (
        SELECT count(*) FROM allowed_actions a WHERE a.stream_id = usage_streams.stream_id
    ),
    last_at_ms = (
        SELECT max(x.last_at_ms) FROM usage_streams x
        WHERE x.stream_id = usage_streams.stream_id
           OR x.stream_id IN (
               SELECT m.stream_id FROM usage_stream_moves m
               WHERE m.target_id = usage_streams.stream_id
           )
    )
WHERE stream_id IN (SELECT target_id FROM usage_stream_moves);

DELETE FROM usage_streams WHERE stream_id IN (SELECT stream_id FROM usage_stream_moves);

UPDATE usage_streams
SET currency = upper(trim(currency)), counterparty = rtrim(lower(trim(counterparty)), '.')
WHERE currency <> upper(trim(currency)) OR counterparty <> rtrim(lower(trim(counterparty)), '.');

DROP TABLE usage_stream_moves;
