"""Attack review of the last pieces of the security release: variants that took another path
than the ones the release's own tests cover."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from openleash.api.cookies import DEVICE_COOKIE
from openleash.policy.keys import currency_code, host_name
from openleash.store.migrate import available, migrate
from openleash.store.sql import postgres_migrate
from tests.api.conftest import Api
from tests.api.owners import PASSPHRASE, set_passphrase
from tests.api.test_abuse import OWNER_ADDRESS, _lock_the_account, login_from
from tests.contract import _postgres

NEW_PASSPHRASE = "a brand new passphrase nobody saw"

# -- migration 0009: usage under another spelling joins the stream the server now counts ------

BEFORE = 9
STREAM = (
    "INSERT INTO usage_streams (owner_id, agent_principal_id, action_type, currency,"
    " counterparty, total_amount, total_count, last_at_ms) VALUES (?, ?, ?, ?, ?, ?, 1, ?)"
)
ACTION = (
    "INSERT INTO allowed_actions (stream_id, decision_id, amount_minor, at_ms, total_amount,"
    " total_count) VALUES (?, ?, ?, ?, ?, 1)"
)
STREAMS = "SELECT currency, counterparty, total_amount, total_count FROM usage_streams"

#: Spellings older versions stored as the agent wrote them, which the server now reads as USD at
#: shop.example: Python's strip() takes every kind of white space, not only the space.
WHITESPACE_SPELLINGS = [
    ("USD", "shop.example"),
    ("usd\t", "shop.example"),
    ("USD\n", "Shop.Example.\r\n"),
    ("\x0bUsd\x0c", "shop.example\x1f"),
    ("USD\u00a0", "\u3000shop.example"),
]
#: A look-alike the server refuses as a currency (the long s), which must stay apart.
LOOK_ALIKE = ("u\u017fd", "shop.example")


def _rows(spellings: list[tuple[str, str]]) -> list[tuple[str, str, float, int]]:
    return [(c, p, 100.0 * (n + 1), 1_000 * (n + 1)) for n, (c, p) in enumerate(spellings)]


def _counted(streams: list[Any]) -> list[tuple[Any, ...]]:
    """The streams the server finds (it looks them up by its one spelling, exactly), with their
    totals; any other stream is never read again, whatever it holds."""
    found = [tuple(s) for s in streams if currency_code(s[0]) == s[0] and host_name(s[1]) == s[1]]
    return sorted(found)


def _expected(rows: list[tuple[str, str, float, int]]) -> list[tuple[Any, ...]]:
    """Every row whose values have one spelling, in the stream of that spelling."""
    groups: dict[tuple[str, str], tuple[float, int]] = {}
    for currency, counterparty, amount, _ in rows:
        code, host = currency_code(currency), host_name(counterparty)
        if code and host:
            total, count = groups.get((code, host), (0.0, 0))
            groups[code, host] = (total + amount, count + 1)
    return sorted((c, p, t, n) for (c, p), (t, n) in groups.items())


def _insert_sqlite(conn: sqlite3.Connection, rows: list[tuple[str, str, float, int]]) -> None:
    for n, (currency, counterparty, amount, at_ms) in enumerate(rows):
        stream = ("o-1", "a-1", "purchase", currency, counterparty, amount, at_ms)
        stream_id = conn.execute(STREAM + " RETURNING stream_id", stream).fetchone()[0]
        conn.execute(ACTION, (stream_id, f"d-{n}", amount, at_ms, amount))


def test_migration_0009_merges_spellings_with_any_white_space_sqlite(tmp_path: Path) -> None:
    rows = _rows([*WHITESPACE_SPELLINGS, LOOK_ALIKE])
    with closing(sqlite3.connect(tmp_path / "x.db", isolation_level=None)) as conn:
        migrate(conn, [m for m in available() if m.version < BEFORE])
        _insert_sqlite(conn, rows)
        migrate(conn)
        assert _counted(conn.execute(STREAMS).fetchall()) == _expected(rows)


def _pg(sql: str) -> str:
    parts = sql.split("?")
    return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    reason = _postgres.unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    url = _postgres.create_database()
    try:
        yield url
    finally:
        _postgres.drop_database(url)


async def _migrate_postgres(url: str, rows: list[tuple[str, str, float, int]]) -> list[Any]:
    conn = await asyncpg.connect(url)
    try:
        every = postgres_migrate.postgres_migrations()
        await postgres_migrate.migrate(conn, [m for m in every if m.version < BEFORE])
        for n, (currency, counterparty, amount, at_ms) in enumerate(rows):
            stream = ("o-1", "a-1", "purchase", currency, counterparty, amount, at_ms)
            stream_id = await conn.fetchval(_pg(STREAM + " RETURNING stream_id"), *stream)
            await conn.execute(_pg(ACTION), stream_id, f"d-{n}", amount, at_ms, amount)
        await postgres_migrate.migrate(conn, every)
        return [tuple(r) for r in await conn.fetch(STREAMS)]
    finally:
        await conn.close()


def test_migration_0009_merges_spellings_as_the_server_reads_them_postgres(
    postgres_url: str,
) -> None:
    rows = _rows([*WHITESPACE_SPELLINGS, LOOK_ALIKE])
    assert _counted(asyncio.run(_migrate_postgres(postgres_url, rows))) == _expected(rows)


# -- the owner device cookie: it must not outlive the passphrase it was earned with -----------


def test_a_device_token_from_before_a_passphrase_reset_no_longer_passes_the_account_lock(
    api: Api,
) -> None:
    """Someone who once signed in with the owner's passphrase (phished, shared) keeps the device
    cookie after the owner resets the passphrase to evict them. It must not keep the one thing
    it grants: logins that pass the account lock, so passphrase guesses from many addresses
    while strangers' failures keep the account locked."""
    owner_id = api.agent.owner_id
    set_passphrase(api, owner_id)
    evicted = login_from(api, "198.51.100.50", owner_id, PASSPHRASE)
    assert evicted.status_code == 200, evicted.text
    stale = {"Cookie": f"{DEVICE_COOKIE}={evicted.cookies[DEVICE_COOKIE]}"}
    set_passphrase(api, owner_id, NEW_PASSPHRASE)  # the owner's reset, by a setup invite
    _lock_the_account(api, owner_id)
    guess = login_from(api, "198.51.100.51", owner_id, NEW_PASSPHRASE, headers=stale)
    assert guess.status_code == 429, guess.text
    assert guess.json()["error"]["code"] == "LOGIN_LOCKED"
    # The owner's own browser, signed in after the reset, still gets through the lock.
    api.clock.advance(api.services.options.login_lock_max_seconds + 1)
    fresh = login_from(api, OWNER_ADDRESS, owner_id, NEW_PASSPHRASE)
    assert fresh.status_code == 200, fresh.text
    mine = {"Cookie": f"{DEVICE_COOKIE}={fresh.cookies[DEVICE_COOKIE]}"}
    _lock_the_account(api, owner_id)
    again = login_from(api, "198.51.100.52", owner_id, NEW_PASSPHRASE, headers=mine)
    assert again.status_code == 200, again.text


# -- /v1/health: public, not throttled, so its log must not grow with its callers --------------


def test_health_checks_of_a_failing_store_log_once_not_once_per_check(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Anyone may call /v1/health as fast as they like; while the store is down each check
    probes again (so recovery shows at once), but a traceback per check would let a stranger
    fill the operator's log during the outage."""

    async def broken() -> int:
        raise OSError("disk gone")

    monkeypatch.setattr(api.services.store, "revision", broken)
    with caplog.at_level(logging.WARNING, logger="openleash"):
        for _ in range(30):
            assert api.client.get("/v1/health").status_code == 503
    health = [r for r in caplog.records if r.getMessage().startswith("health check")]
    assert 1 <= len(health) <= 2, [r.getMessage() for r in health]
