"""Migration 0009: usage recorded before budgets counted one spelling of each currency code and
counterparty is merged into the stream of that spelling, on SQLite and PostgreSQL alike, so an
upgrade restarts no budget."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import asyncpg

from openleash.store.migrate import available, migrate
from openleash.store.sql import postgres_migrate

BEFORE = 9  # the first version that knows one spelling

#: (currency, counterparty, amount_minor, at_ms) of one agent's purchases, as older versions
#: recorded them: four spellings of USD at shop.example, and one EUR purchase elsewhere.
ROWS = [
    ("USD", "shop.example", 100.0, 1_000),
    ("usd", "Shop.Example.", 200.0, 2_000),
    ("USD ", "shop.example", 300.0, 1_500),
    ("Usd", "SHOP.EXAMPLE", None, 3_000),
    ("EUR", "other.example", 50.0, 2_500),
]

STREAM = (
    "INSERT INTO usage_streams (owner_id, agent_principal_id, action_type, currency,"
    " counterparty, total_amount, total_count, last_at_ms) VALUES (?, ?, ?, ?, ?, ?, 1, ?)"
)
ACTION = (
    "INSERT INTO allowed_actions (stream_id, decision_id, amount_minor, at_ms, total_amount,"
    " total_count) VALUES (?, ?, ?, ?, ?, 1)"
)
STREAMS = (
    "SELECT currency, counterparty, total_amount, total_count, last_at_ms FROM usage_streams"
    " ORDER BY currency"
)
RUNNING = "SELECT at_ms, total_amount, total_count FROM allowed_actions ORDER BY at_ms"

EXPECTED_STREAMS = [
    ("EUR", "other.example", 50.0, 1, 2_500),
    ("USD", "shop.example", 600.0, 4, 3_000),
]
#: Running totals in time order within the merged stream (and the EUR one on its own).
EXPECTED_RUNNING = [
    (1_000, 100.0, 1),
    (1_500, 400.0, 2),
    (2_000, 600.0, 3),
    (2_500, 50.0, 1),
    (3_000, 600.0, 4),
]


def _params(n: int, row: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    currency, counterparty, amount, at_ms = row
    stream = ("o-1", "a-1", "purchase", currency, counterparty, amount or 0, at_ms)
    return stream, (f"d-{n}", amount, at_ms, amount or 0)


def test_sqlite_merges_usage_recorded_under_other_spellings(tmp_path: Path) -> None:
    with closing(sqlite3.connect(tmp_path / "x.db", isolation_level=None)) as conn:
        migrate(conn, [m for m in available() if m.version < BEFORE])
        for n, row in enumerate(ROWS):
            stream, action = _params(n, row)
            stream_id = conn.execute(STREAM + " RETURNING stream_id", stream).fetchone()[0]
            conn.execute(ACTION, (stream_id, *action))
        assert migrate(conn) == [m.version for m in available() if m.version >= BEFORE]
        assert conn.execute(STREAMS).fetchall() == EXPECTED_STREAMS
        assert conn.execute(RUNNING).fetchall() == EXPECTED_RUNNING
        assert conn.execute("SELECT count(*) FROM allowed_actions").fetchone()[0] == len(ROWS)


async def test_postgres_merges_usage_recorded_under_other_spellings(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        every = postgres_migrate.postgres_migrations()
        await postgres_migrate.migrate(conn, [m for m in every if m.version < BEFORE])
        for n, row in enumerate(ROWS):
            stream, action = _params(n, row)
            stream_id = await conn.fetchval(_pg(STREAM + " RETURNING stream_id"), *stream)
            await conn.execute(_pg(ACTION), stream_id, *action)
        await postgres_migrate.migrate(conn, every)
        assert [tuple(r) for r in await conn.fetch(STREAMS)] == EXPECTED_STREAMS
        assert [tuple(r) for r in await conn.fetch(RUNNING)] == EXPECTED_RUNNING
    finally:
        await conn.close()


def _pg(sql: str) -> str:
    parts = sql.split("?")
    return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))
