"""Copying a SQLite store into PostgreSQL (``openleash migrate-store``): every table row for row,
the numbering going on after the copy, the audit chain intact, and a target that holds data
left alone. Every test skips when no PostgreSQL server is reachable (see conftest.py)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from openleash.domain.errors import OpenLeashError
from openleash.domain.models import HeldDecision, OwnerSession, UsageFilter
from openleash.service.audit_chain import verify_chain
from openleash.service.ports import Store
from openleash.store.copy import TABLES, copy_store, migrate_store
from openleash.store.sql.postgres import PostgresStore
from openleash.store.sql.sqlite import AuditCheckpointRule, SqliteStore

from . import records as r
from .refusals import refused
from .test_approvals import request as approval
from .test_ledger import allowed
from .test_owner_access_and_outbox import credentials, delivery, draft

NOW_MS = 1_800_000_000_000
RULE = AuditCheckpointRule(every_records=3, every_seconds=3600)


async def _fill(store: Store) -> None:
    """Rows in every table, written through the store as a server would write them."""
    async with store.transaction() as tx:
        await tx.add_key(r.signing_key("k1"), make_active=True)
        await tx.add_owner(r.owner("user-1"))
        await tx.add_owner(r.owner("user-2", display_name="Zoë \u2028"))
        await tx.put_credentials(credentials())
        await tx.replace_backup_codes("user-1", ["c1", "c2", "c3"])
        await tx.use_backup_code("user-1", "c2", r.at(5))
        await tx.add_session(OwnerSession("s-1", "user-1", "csrf", r.at(0), r.at(600)))
        await tx.add_agent(r.agent("ap-1"))
        await tx.add_agent(r.agent("ap-2", agent_id="agent-b", status="REVOKED", revoked_at=r.T0))
        for pid in ("pol-1", "pol-2"):
            await tx.put_policy(r.policy(pid))
        for n, pid in enumerate(("pol-1", "pol-2", "pol-1")):
            await tx.add_binding(r.binding(f"b-{n}", pid, rank=n or None))
        await tx.delete_bindings("pol-2")  # a gap in the binding numbers
        await tx.use_nonce("agent-a", "live", NOW_MS, NOW_MS + 60_000)
        await tx.use_nonce("agent-a", "expired", NOW_MS - 120_000, NOW_MS - 60_000)
        await tx.add_challenge(r.challenge())
        await tx.add_invite(r.invite())
        await tx.append([r.event(n, timestamp=r.at(n)) for n in range(7)])
        for n in range(5):
            await tx.record_allowed(allowed(n, amount=100.5 if n else 250, at_ms=1_000 + n))
        await tx.record_allowed(allowed(9, action_type="email.send", amount=None, currency=None))
        await tx.hold_decision(
            HeldDecision(
                "d-1", "owner-1", "ap-1", "ab" * 32, "REQUIRE_APPROVAL", "r", None, "x", None, r.T0
            )
        )
        await tx.add_approval_request(approval(1, context={"limits": [{"spent": 2.5}]}))
        await tx.add_draft(draft(1))
        await tx.enqueue_webhook(delivery(1))
        await tx.add_key(r.signing_key("k2"), make_active=True)
        await tx.revoke_key("k1", r.at(9))
        await tx.append([r.event(n, timestamp=r.at(n)) for n in range(7, 10)])
        await tx.bump_revision()
        await tx.bump_revision()


async def _sqlite_store(tmp_path: Path) -> Path:
    path = tmp_path / "openleash.db"
    store = SqliteStore.open(path, audit_checkpoints=RULE)
    try:
        await _fill(store)
    finally:
        await store.close()
    return path


def _sqlite_rows(path: Path, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        found = conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()  # noqa: S608
    return sorted(found, key=repr)


_COLUMNS = (
    "SELECT column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
)


async def _postgres_rows(url: str, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    conn = await asyncpg.connect(url)
    try:
        names = [name for (name,) in await conn.fetch(_COLUMNS, table)]
        found = await conn.fetch(f"SELECT {', '.join(names)} FROM {table}")  # noqa: S608
    finally:
        await conn.close()
    # SQLite keeps booleans as 0 and 1.
    rows = [tuple(int(v) if isinstance(v, bool) else v for v in row) for row in found]
    return names, sorted(rows, key=repr)


async def _fetchval(url: str, sql: str) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def test_every_table_is_copied_row_for_row(postgres_url: str, tmp_path: Path) -> None:
    source = await _sqlite_store(tmp_path)
    told: list[str] = []
    copied = await copy_store(
        source, postgres_url, batch_rows=2, now_ms=NOW_MS, on_table=lambda t: told.append(t.name)
    )
    assert [t.name for t in copied] == told == list(TABLES)
    for table in TABLES:
        columns, rows = await _postgres_rows(postgres_url, table)
        expected = _sqlite_rows(source, table, columns)
        if table == "nonces":  # the expired one stays behind
            assert [row[1] for row in expected] == ["expired", "live"]
            expected = [row for row in expected if row[1] == "live"]
        assert rows == expected, table
        assert next(t.rows for t in copied if t.name == table) == len(rows)
        assert rows, f"{table} has no rows to compare"


async def test_the_copy_knows_every_table_of_both_schemas(
    postgres_url: str, tmp_path: Path
) -> None:
    await (await PostgresStore.open(postgres_url)).close()
    await SqliteStore.open(tmp_path / "openleash.db").close()
    with closing(sqlite3.connect(tmp_path / "openleash.db")) as conn:
        lite = {
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not name.startswith("sqlite_")
        }
    conn_pg = await asyncpg.connect(postgres_url)
    try:
        pg = {
            row[0]
            for row in await conn_pg.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        }
    finally:
        await conn_pg.close()
    assert lite - {"schema_migrations"} == pg - {"schema_migrations"} == set(TABLES)


async def test_the_copied_store_goes_on_where_sqlite_stopped(
    postgres_url: str, tmp_path: Path
) -> None:
    source = await _sqlite_store(tmp_path)
    await copy_store(source, postgres_url, now_ms=NOW_MS)
    store = await PostgresStore.open(postgres_url, audit_checkpoints=RULE)
    try:
        assert await store.revision() == 2
        before = await verify_chain(store)
        assert before.ok
        # Checkpoints at records 1, 3 and 6 by k1 (revoked since), at 9 by k2.
        assert (before.records, before.checkpoints_unverifiable) == (10, 3)
        assert (before.checkpoints_verified, before.last_checkpoint_seq) == (1, 9)
        async with store.transaction() as tx:
            # Each of these takes a number from a sequence of the database.
            await tx.add_binding(r.binding("b-new", "pol-1"))
            await tx.add_key(r.signing_key("k3"), make_active=True)
            await tx.record_allowed(allowed(10, amount=1, at_ms=2_000))
            await tx.append([r.event(n, timestamp=r.at(n)) for n in range(10, 13)])
            with refused("NONCE_REPLAY"):
                await tx.use_nonce("agent-a", "live", NOW_MS, NOW_MS + 60_000)
            await tx.use_nonce("agent-a", "expired", NOW_MS, NOW_MS + 60_000)
        async with store.read() as tx:
            assert [b.binding_id for b in await tx.list_bindings("user", "user-1")] == [
                "b-0",
                "b-2",
                "b-new",
            ]
            assert [k.kid for k in await tx.list_keys()] == ["k1", "k2", "k3"]
            assert await tx.usage(UsageFilter(owner_id="owner-1", since_ms=0)) == (
                250 + 4 * 100.5 + 1 + 0,
                7,
            )
            assert await tx.last_seq() == 13
        after = await verify_chain(store)
        assert after.ok
        assert after.records == 13
        assert after.last_checkpoint_seq is not None
        assert after.last_checkpoint_seq > before.records
    finally:
        await store.close()


async def test_a_target_that_holds_data_is_refused_and_left_alone(
    postgres_url: str, tmp_path: Path
) -> None:
    source = await _sqlite_store(tmp_path)
    store = await PostgresStore.open(postgres_url)
    try:
        async with store.transaction() as tx:
            await tx.add_owner(r.owner("someone-else"))
    finally:
        await store.close()
    with pytest.raises(OpenLeashError) as caught:
        await copy_store(source, postgres_url, now_ms=NOW_MS)
    assert caught.value.code == "VALIDATION_ERROR"
    assert "not empty (owners)" in caught.value.message
    _, owners = await _postgres_rows(postgres_url, "owners")
    assert [o[0] for o in owners] == ["someone-else"]
    assert await _fetchval(postgres_url, "SELECT count(*) FROM audit_events") == 0


async def test_a_failed_copy_leaves_the_target_empty(postgres_url: str, tmp_path: Path) -> None:
    source = await _sqlite_store(tmp_path)
    with closing(sqlite3.connect(source)) as conn, conn:
        # A value PostgreSQL refuses (SQLite's typing lets it in): the copy fails at that table.
        conn.execute("UPDATE allowed_actions SET at_ms = 'soon' WHERE seq = 3")
    with pytest.raises(OpenLeashError, match="table allowed_actions: a row among rows 3 to 4"):
        await copy_store(source, postgres_url, batch_rows=2, now_ms=NOW_MS)
    for table in ("owners", "audit_events", "server_keys"):
        assert await _fetchval(postgres_url, f"SELECT count(*) FROM {table}") == 0  # noqa: S608
    # Nothing was left half done: once fixed, the copy goes through.
    with closing(sqlite3.connect(source)) as conn, conn:
        conn.execute("UPDATE allowed_actions SET at_ms = 1002 WHERE seq = 3")
    await copy_store(source, postgres_url, now_ms=NOW_MS)


async def test_a_schema_the_copy_does_not_know_is_refused(
    postgres_url: str, tmp_path: Path
) -> None:
    source = await _sqlite_store(tmp_path)
    with closing(sqlite3.connect(source)) as conn, conn:
        conn.execute("ALTER TABLE owners ADD COLUMN nickname TEXT")
    with pytest.raises(OpenLeashError, match=r"table owners differs .*\['nickname'\]"):
        await copy_store(source, postgres_url, now_ms=NOW_MS)


async def test_migrate_store_verifies_the_chain_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    done = await migrate_store(await _sqlite_store(tmp_path), postgres_url, now_ms=NOW_MS)
    assert done.ok
    assert done.source_chain is None
    assert (done.chain.records, done.chain.last_seq) == (10, 10)
    assert done.rows == sum(t.rows for t in done.tables) > 30


async def test_a_chain_broken_before_the_copy_is_reported_as_such(
    postgres_url: str, tmp_path: Path
) -> None:
    source = await _sqlite_store(tmp_path)
    with closing(sqlite3.connect(source)) as conn, conn:
        conn.execute("UPDATE audit_events SET metadata_json = '{\"n\":99}' WHERE seq = 4")
    done = await migrate_store(source, postgres_url, now_ms=NOW_MS)
    assert not done.ok
    assert done.chain.problem is not None
    assert (done.chain.problem.seq, done.chain.problem.kind) == (4, "edited")
    assert done.source_chain is not None
    assert done.source_chain.problem == done.chain.problem
