"""What is particular to the PostgreSQL adapter: migrations under an advisory lock, schema
parity with SQLite, replicas in separate processes, and how failures are reported.

Every test skips when no PostgreSQL server is reachable (see conftest.py)."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from openleash.domain.errors import OpenLeashError
from openleash.domain.models import AllowedAction, UsageFilter
from openleash.service.audit_chain import verify_chain
from openleash.service.ports import Store, Transaction
from openleash.store import open_store
from openleash.store.migrate import Migration, available
from openleash.store.migrate import migrate as migrate_sqlite
from openleash.store.sql.postgres import PostgresStore
from openleash.store.sql.postgres_migrate import migrate, postgres_migrations
from openleash.store.sql.sqlite import AuditCheckpointRule, SqliteStore

from . import _workers
from . import records as r

PROCESSES = 4
NONCES = [f"nonce-{n:03d}" for n in range(100)]
DEADLINE_SECONDS = 30


async def _fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()


async def _versions(url: str) -> list[int]:
    found = await _fetch(url, "SELECT version FROM schema_migrations ORDER BY version")
    return [v for (v,) in found]


def _run_all(
    target: Callable[..., None], args: Callable[[int, Any, Any], tuple[Any, ...]]
) -> dict[int, Any]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=args(w, start, out)) for w in range(PROCESSES)]
    for p in procs:
        p.start()
    try:
        results = dict(out.get(timeout=DEADLINE_SECONDS) for _ in procs)
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
    for worker, result in results.items():
        assert not isinstance(result, str), f"worker {worker} failed:\n{result}"
    return results


# -- migrations -------------------------------------------------------------------------------


async def test_open_migrates_once_and_reopening_keeps_the_data(postgres_url: str) -> None:
    first = await PostgresStore.open(postgres_url)
    async with first.transaction() as tx:
        await tx.add_owner(r.owner())
        await tx.bump_revision()
    await first.close()
    again = await open_store(postgres_url.replace("postgresql://", "postgres://", 1))
    try:
        assert await again.revision() == 1
        async with again.read() as tx:
            assert await tx.list_owners() == [r.owner()]
    finally:
        await again.close()
    assert await _versions(postgres_url) == [m.version for m in postgres_migrations()]


def test_replicas_opening_a_fresh_database_together_migrate_it_once(postgres_url: str) -> None:
    results = _run_all(_workers.open_fresh, lambda w, start, out: (postgres_url, w, start, out))
    assert set(results.values()) == {0}
    assert asyncio.run(_versions(postgres_url)) == [m.version for m in postgres_migrations()]


async def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        await migrate(conn)
        await conn.execute("INSERT INTO schema_migrations VALUES (9999, 'x')")
    finally:
        await conn.close()
    with pytest.raises(RuntimeError, match="newer than this OpenLeash knows"):
        await PostgresStore.open(postgres_url)


async def test_a_failing_migration_leaves_nothing_behind(postgres_url: str) -> None:
    bad = [
        Migration(1, "0001_a.sql", "CREATE TABLE a (x INTEGER); CREATE TABLE b (y INTEGER);"),
        Migration(2, "0002_b.sql", "CREATE TABLE c (z INTEGER); SELECT * FROM missing;"),
    ]
    conn = await asyncpg.connect(postgres_url)
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            await migrate(conn, bad)
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        # The advisory lock went with the failure: migrating again does not wait.
        assert await asyncio.wait_for(migrate(conn, bad[:1]), timeout=5) == [1]
    finally:
        await conn.close()
    assert tables == []


#: Column types by kind: SQLite's declared type, PostgreSQL's.
_LITE_KINDS = {"INTEGER": "integer", "TEXT": "text", "REAL": "float", "BOOLEAN": "boolean"}
_PG_KINDS = {
    "bigint": "integer",
    "integer": "integer",
    "text": "text",
    "double precision": "float",
    "boolean": "boolean",
}


async def test_the_schema_mirrors_the_sqlite_one(postgres_url: str, tmp_path: Path) -> None:
    """Same versions, tables, columns (kind of type, NOT NULL) and named indexes as SQLite at
    the same version; text sorts by code point. (A newer SQLite migration may wait for its
    PostgreSQL spelling; it is compared once that exists.)"""
    ours = postgres_migrations()
    theirs = {m.version: m for m in available()}
    assert [m.name for m in ours] == [theirs[m.version].name for m in ours]
    with closing(sqlite3.connect(tmp_path / "x.db", isolation_level=None)) as lite:
        migrate_sqlite(lite, [theirs[m.version] for m in ours])
        tables = [
            name
            for (name,) in lite.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        # SQLite lets a key column of another type than INTEGER be NULL; PostgreSQL does not.
        lite_columns = {
            (table, name): (_LITE_KINDS[kind], None if pk else bool(not_null))
            for table in tables
            for _, name, kind, not_null, _, pk in lite.execute(f"PRAGMA table_info({table})")
        }
        lite_indexes = {
            name
            for (name,) in lite.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        }
    store = await PostgresStore.open(postgres_url)
    await store.close()
    found = await _fetch(
        postgres_url,
        "SELECT table_name, column_name, data_type, is_nullable, collation_name"
        " FROM information_schema.columns WHERE table_schema = 'public'",
    )
    pg_columns = {
        (table, name): (
            _PG_KINDS[kind],
            None if lite_columns.get((table, name), (None, True))[1] is None else nullable == "NO",
        )
        for table, name, kind, nullable, _ in found
    }
    pg_indexes = {
        name
        for (name,) in await _fetch(
            postgres_url,
            "SELECT indexname FROM pg_indexes i WHERE schemaname = 'public' AND NOT EXISTS"
            " (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        )
    }
    assert pg_columns == lite_columns
    assert pg_indexes == lite_indexes
    assert {collation for _, _, kind, _, collation in found if kind == "text"} == {"C"}


# -- the audit chain ----------------------------------------------------------------------------


async def test_the_records_and_checkpoints_are_those_sqlite_writes(
    postgres_url: str, tmp_path: Path
) -> None:
    key = r.signing_key("k1")
    events = [
        r.event(0, event_type="KEY_CREATED", timestamp=r.at(0)),
        *(r.event(n, timestamp=r.at(n * 7)) for n in range(1, 9)),
        r.event(
            9,
            metadata_json={
                "owner_id": "user-9",
                "agent_principal_id": "ap-9",
                "action_type": "purchase",
                "result": "DENY",
                "amount": 2.5,
                "big": 2**60,
                "nested": {"é": [1, None, "\u2028"], "": True},
            },
        ),
    ]
    rule = AuditCheckpointRule(every_records=4, every_seconds=30)
    stores: list[Store] = [
        SqliteStore.open(tmp_path / "openleash.db", audit_checkpoints=rule),
        await PostgresStore.open(postgres_url, audit_checkpoints=rule),
    ]
    written = []
    try:
        for store in stores:
            async with store.transaction() as tx:
                await tx.add_key(key, make_active=True)
                await tx.append(events[:1])
            for n in range(1, len(events), 3):
                async with store.transaction() as tx:
                    await tx.append(events[n : n + 3])
            async with store.read() as tx:
                written.append(
                    (await tx.audit_rows(after_seq=0, limit=100), await tx.list_checkpoints())
                )
            assert (await verify_chain(store)).ok
    finally:
        for store in stores:
            await store.close()
    (lite_rows, lite_checkpoints), (pg_rows, pg_checkpoints) = written
    assert pg_rows == lite_rows
    assert pg_checkpoints == lite_checkpoints
    assert len(pg_checkpoints) >= 3


# -- replicas ---------------------------------------------------------------------------------


def test_each_nonce_is_won_exactly_once_across_processes(postgres_url: str) -> None:
    results = _run_all(
        _workers.claim_nonces, lambda w, start, out: (postgres_url, w, NONCES, start, out)
    )
    wins = Counter(n for won in results.values() for n in won)
    assert wins == Counter(NONCES), "every nonce won once, by exactly one process"
    events = asyncio.run(_fetch(postgres_url, "SELECT event_id, event_type FROM audit_events"))
    assert {e for e, _ in events} == {f"{w}:{n}" for w in range(PROCESSES) for n in NONCES}
    assert len(events) == PROCESSES * len(NONCES)
    assert sum(1 for _, kind in events if kind == "NONCE_WON") == len(NONCES)


async def test_a_limit_checked_and_recorded_by_two_replicas_is_exact(postgres_url: str) -> None:
    replicas = [await PostgresStore.open(postgres_url) for _ in range(2)]
    where = UsageFilter(owner_id="owner-1", since_ms=0)

    async def spend(store: PostgresStore, n: int) -> bool:
        async def work(tx: Transaction) -> bool:
            _, count = await tx.usage(where)
            if count >= 10:
                return False
            action = AllowedAction(f"d-{n}", "owner-1", "ap-1", "purchase", "USD", None, 1, n)
            await tx.record_allowed(action)
            return True

        return await store.submit(work)

    try:
        allowed = await asyncio.gather(
            *(spend(replicas[n % 2], n) for n in range(40)),
            *(spend(replicas[n % 2], n) for n in range(40, 60)),
        )
        async with replicas[0].read() as tx:
            assert await tx.usage(where) == (10, 10)
    finally:
        for store in replicas:
            await store.close()
    assert sum(allowed) == 10


# -- transactions and failures ----------------------------------------------------------------


@pytest.fixture
def pg_store(postgres_url: str, event_runner: asyncio.Runner) -> Iterator[PostgresStore]:
    store = event_runner.run(PostgresStore.open(postgres_url))
    yield store
    event_runner.run(store.close())


async def test_transactions_do_not_nest(pg_store: PostgresStore) -> None:
    async with pg_store.transaction() as tx:
        with pytest.raises(RuntimeError, match="do not nest"):
            async with pg_store.transaction():
                pass
        await tx.add_owner(r.owner())
    async with pg_store.read() as tx:
        assert await tx.list_owners() == [r.owner()]


async def test_a_transaction_cannot_be_used_after_it_ends(pg_store: PostgresStore) -> None:
    async with pg_store.transaction() as tx:
        pass
    with pytest.raises(RuntimeError, match="has ended"):
        await tx.add_owner(r.owner())


async def test_a_failed_statement_is_never_committed_as_done(pg_store: PostgresStore) -> None:
    async with pg_store.transaction() as tx:
        await tx.add_owner(r.owner())

    async def goes_on_after_a_failed_statement() -> None:
        async with pg_store.transaction() as tx:
            await tx.add_owner(r.owner("user-2"))
            with pytest.raises(asyncpg.UniqueViolationError):
                await tx.add_owner(r.owner())

    with pytest.raises(RuntimeError, match="rolled back"):
        await goes_on_after_a_failed_statement()
    async with pg_store.read() as tx:
        assert await tx.list_owners() == [r.owner()]


async def test_a_failed_statement_in_a_batch_spares_the_other_units(
    pg_store: PostgresStore,
) -> None:
    async with pg_store.transaction() as tx:
        await tx.add_owner(r.owner())

    async def add(owner_id: str) -> None:
        async def work(tx: Transaction) -> None:
            await tx.add_owner(r.owner(owner_id))

        await pg_store.submit(work)

    outcomes = await asyncio.gather(
        add("user-2"), add("user-1"), add("user-3"), return_exceptions=True
    )
    assert outcomes[0] is None
    assert outcomes[2] is None
    assert isinstance(outcomes[1], asyncpg.UniqueViolationError)
    async with pg_store.read() as tx:
        assert {o.user_principal_id for o in await tx.list_owners()} == {
            "user-1",
            "user-2",
            "user-3",
        }


class _RefusingPool:
    def acquire(self, timeout: float | None = None) -> Any:
        raise ConnectionRefusedError("injected")


async def test_a_store_that_cannot_begin_fails_every_waiting_unit(
    pg_store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_store, "_pool", _RefusingPool())

    async def unit() -> None:
        async def work(tx: Transaction) -> None:
            await tx.append([r.event(1)])

        await pg_store.submit(work)

    outcomes = await asyncio.wait_for(
        asyncio.gather(*(unit() for _ in range(3)), return_exceptions=True), timeout=5
    )
    assert all(isinstance(o, OpenLeashError) and o.code == "STORE_UNAVAILABLE" for o in outcomes)


async def _end_store_sessions(url: str) -> None:
    await _fetch(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = 'openleash' AND datname = current_database()"
        " AND pid <> pg_backend_pid()",
    )


async def test_a_connection_lost_mid_transaction_is_reported_then_replaced(
    pg_store: PostgresStore, postgres_url: str
) -> None:

    async def loses_its_connection() -> None:
        async with pg_store.transaction() as tx:
            await tx.add_owner(r.owner("lost"))
            await _end_store_sessions(postgres_url)
            await tx.add_owner(r.owner())

    with pytest.raises(OpenLeashError) as caught:
        await loses_its_connection()
    assert caught.value.code == "STORE_UNAVAILABLE"
    await _end_store_sessions(postgres_url)  # idle ones too: the pool replaces them unasked
    async with pg_store.transaction() as tx:
        await tx.add_owner(r.owner())
    async with pg_store.read() as tx:
        assert await tx.list_owners() == [r.owner()]


async def test_an_unreachable_server_is_reported_unavailable() -> None:
    with pytest.raises(OpenLeashError) as caught:
        await PostgresStore.open("postgresql://openleash@127.0.0.1:1/none")
    assert caught.value.code == "STORE_UNAVAILABLE"
