"""The SQL of :mod:`openleash.store.sql.queries`, spelled for PostgreSQL.

The shared statements are reused as they are, with ``?`` placeholders numbered (``$1``, ``$2``,
...) by :func:`pg`. The few that differ between the two databases are defined here, next to the
statements only PostgreSQL needs (the write lock).
"""

# ruff: noqa: S608 -- built from constants of this module and of queries.py; values are always
# placeholders

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache

from openleash.domain.errors import InvalidInputError
from openleash.store.sql import queries as q


@lru_cache(maxsize=1024)
def pg(sql: str) -> str:
    """``sql`` with each ``?`` placeholder replaced by ``$1``, ``$2``, ... in order.

    A ``?`` inside a quoted literal or identifier is left alone (the shared statements have
    none, but a future one might).
    """
    out: list[str] = []
    number = 0
    quote: str | None = None
    for char in sql:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "?":
            number += 1
            out.append(f"${number}")
            continue
        out.append(char)
    if quote is not None:
        raise ValueError(f"unterminated quote in SQL: {sql!r}")
    return "".join(out)


def refuse_nul(params: Iterable[object]) -> None:
    """Refuse a text parameter holding U+0000, before its statement is sent.

    PostgreSQL text cannot hold that character: the statement would fail, and a failed
    statement aborts the whole transaction, with it every other unit of a group-commit batch
    (other agents' decisions). JSON and query strings can carry it (``\\u0000``, ``%00``), so
    it is the sender's input to refuse (400), not the store's failure."""
    for value in params:
        if isinstance(value, str) and "\x00" in value:
            raise InvalidInputError(
                "INVALID_REQUEST",
                "Text with a NUL character (U+0000) cannot be stored; leave the character out",
            )


def _lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key of its own for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


#: Held (per transaction) by every write transaction, first thing after ``BEGIN``: writers of
#: all replicas take turns, as SQLite's writers do with its file lock.
WRITE_LOCK_KEY = _lock_key("openleash.store.write")
#: Held (per session) while migrations are checked and applied.
MIGRATION_LOCK_KEY = _lock_key("openleash.store.migrate")

LOCK_WRITERS = f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY:d})"

# -- statements that differ from SQLite's -----------------------------------------------------


def _greatest(sql: str) -> str:
    # SQLite's two-argument max() is GREATEST in PostgreSQL (where max() is only an aggregate).
    scalar_max = "max(usage_streams.last_at_ms, excluded.last_at_ms)"
    if scalar_max not in sql:
        raise RuntimeError("queries.ADD_TO_STREAM changed: update its PostgreSQL spelling")
    return sql.replace(scalar_max, "GREATEST(usage_streams.last_at_ms, excluded.last_at_ms)")


ADD_TO_STREAM = pg(_greatest(q.ADD_TO_STREAM))
# The stream's new totals go straight into the action's row (queries.RECORD_ALLOWED's columns).
# Parameters: those of ADD_TO_STREAM ($1 to $7), then decision_id, amount_minor.
RECORD_ALLOWED = (
    f"WITH stream AS ({ADD_TO_STREAM})"
    " INSERT INTO allowed_actions (stream_id, decision_id, amount_minor, at_ms, total_amount,"
    " total_count) SELECT stream_id, $8::text, $9::double precision, last_at_ms, total_amount,"
    " total_count FROM stream"
)

SERVER_ENCODING = "SHOW server_encoding"


_DECISION_STATEMENTS: dict[tuple[bool, bool, int], str] = {}


def decision_statement(allowed: bool, held: bool, events: int) -> str:
    """One statement that records a decided action (see ``Transaction.record_decision``): the
    nonce, the allowed action with its stream's totals, the held decision and the chained audit
    rows, as data-modifying parts of one ``WITH``, each of which writes only if the nonce was
    taken (a replay writes nothing at all). It answers how many nonce rows it took: 0 or 1.

    Parameters, in order: those of ``queries.USE_NONCE``; with ``allowed``, those of
    ``ADD_TO_STREAM`` then decision_id and amount_minor; with ``held``, those of
    ``queries.HOLD_DECISION``; then each event's ``queries.APPEND_CHAINED`` parameters."""
    shape = (allowed, held, events)
    found = _DECISION_STATEMENTS.get(shape)
    if found is not None:
        return found
    parts = [f"nonce AS ({q.USE_NONCE} RETURNING 1)"]
    if allowed:
        stream = _if_nonce(_greatest(q.ADD_TO_STREAM), _STREAM_TYPES)
        parts.append(f"stream AS ({stream})")
        parts.append(
            "allowed AS (INSERT INTO allowed_actions (stream_id, decision_id, amount_minor, at_ms,"
            " total_amount, total_count) SELECT stream_id, ?::text, ?::double precision,"
            " last_at_ms, total_amount, total_count FROM stream)"
        )
    if held:
        parts.append(f"held AS ({_if_nonce(q.HOLD_DECISION, ('text',) * 10)})")
    event = _if_nonce(q.APPEND_CHAINED, ("bigint",) + ("text",) * 13)
    parts.extend(f"event_{i} AS ({event})" for i in range(events))
    statement = pg("WITH " + ", ".join(parts) + " SELECT count(*) FROM nonce")
    _DECISION_STATEMENTS[shape] = statement
    return statement


#: Column types of ``ADD_TO_STREAM``'s parameters (its ``total_count`` is the literal 1).
_STREAM_TYPES = ("text", "text", "text", "text", "text", "double precision", "bigint")


def _if_nonce(insert: str, types: tuple[str, ...]) -> str:
    """``INSERT ... VALUES (...)`` as ``INSERT ... SELECT ... WHERE`` the nonce was taken; its
    parameters get their column types (a bare parameter in a SELECT list would be text)."""
    head, sep, rest = insert.partition(" VALUES (")
    values, close, tail = rest.partition(")")
    if not sep or not close:
        raise RuntimeError(f"not an INSERT ... VALUES statement: {insert[:60]}")
    typed = iter(types)
    items = [
        f"?::{next(typed)}" if item.strip() == "?" else item.strip() for item in values.split(",")
    ]
    if next(typed, None) is not None:
        raise RuntimeError(f"more types than parameters for: {insert[:60]}")
    return f"{head} SELECT {', '.join(items)} WHERE EXISTS (SELECT 1 FROM nonce){tail}"
