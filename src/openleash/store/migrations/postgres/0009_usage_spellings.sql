-- The PostgreSQL spelling of ../0009_usage_spellings.sql: usage recorded under other spellings
-- of a currency code or counterparty is merged into the stream of its one spelling.

-- Each stream's one spelling, as the server works it out: every character Python's str.strip()
-- takes (not only the space) is trimmed, and only ASCII letters change case (a look-alike such
-- as the long s is no letter of a code, and never joins one).
CREATE TABLE usage_stream_spellings (
    stream_id    BIGINT PRIMARY KEY,
    currency     TEXT NOT NULL,
    counterparty TEXT NOT NULL
);

INSERT INTO usage_stream_spellings (stream_id, currency, counterparty)
SELECT stream_id,
       translate(btrim(currency, w.chars), 'abcdefghijklmnopqrstuvwxyz',
                 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'),
       rtrim(translate(btrim(counterparty, w.chars), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                       'abcdefghijklmnopqrstuvwxyz'), '.')
FROM usage_streams, (
    -- The characters Python's str.isspace() is true of: what str.strip() takes.
    SELECT
        chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) ||
        chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194) ||
        chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) ||
        chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288)
    AS chars
) w;

CREATE TABLE usage_stream_moves (
    stream_id BIGINT PRIMARY KEY,
    target_id BIGINT NOT NULL
);

INSERT INTO usage_stream_moves (stream_id, target_id)
SELECT s.stream_id, (
    SELECT min(t.stream_id) FROM usage_streams t
    JOIN usage_stream_spellings tn ON tn.stream_id = t.stream_id
    WHERE t.owner_id = s.owner_id
      AND t.agent_principal_id = s.agent_principal_id
      AND t.action_type = s.action_type
      AND tn.currency = sn.currency
      AND tn.counterparty = sn.counterparty
)
FROM usage_streams s JOIN usage_stream_spellings sn ON sn.stream_id = s.stream_id;

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
SET currency = (
        SELECT n.currency FROM usage_stream_spellings n WHERE n.stream_id = usage_streams.stream_id
    ),
    counterparty = (
        SELECT n.counterparty FROM usage_stream_spellings n
        WHERE n.stream_id = usage_streams.stream_id
    )
WHERE stream_id IN (
    SELECT n.stream_id FROM usage_stream_spellings n
    JOIN usage_streams u ON u.stream_id = n.stream_id
    WHERE u.currency <> n.currency OR u.counterparty <> n.counterparty
);

DROP TABLE usage_stream_moves;
DROP TABLE usage_stream_spellings;
