"""What is particular to the SQLite adapter: opening, files, migrations, URLs, errors."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from openleash.domain.errors import OpenLeashError
from openleash.store import open_store, store_path
from openleash.store.migrate import Migration, available, migrate, statements
from openleash.store.sql import queries as q
from openleash.store.sql.sqlite import SqliteStore

from . import records as r


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore.open(tmp_path / "openleash.db")
    yield store
    asyncio.run(store.close())


def _versions(db: Path) -> list[int]:
    with closing(sqlite3.connect(db)) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]


async def test_open_creates_folders_and_a_private_file(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "openleash.db"
    store = SqliteStore.open(db)
    try:
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        assert (tmp_path / "a" / "b" / "openleash.db.lock").exists()
        assert _versions(db) == [m.version for m in available()]
    finally:
        await store.close()


async def test_reopen_keeps_data_and_applies_nothing_twice(tmp_path: Path) -> None:
    db = tmp_path / "openleash.db"
    first = SqliteStore.open(db)
    async with first.transaction() as tx:
        await tx.add_owner(r.owner())
        await tx.bump_revision()
    await first.close()
    again = SqliteStore.open(db)
    try:
        assert await again.revision() == 1
        async with again.transaction() as tx:
            assert await tx.list_owners() == [r.owner()]
        assert _versions(db) == [m.version for m in available()]
    finally:
        await again.close()


async def test_open_store_accepts_paths_and_sqlite_urls(tmp_path: Path) -> None:
    for name in (str(tmp_path / "plain.db"), f"sqlite:///{tmp_path}/url.db"):
        store = await open_store(name)
        await store.close()
    assert (tmp_path / "plain.db").exists()
    assert (tmp_path / "url.db").exists()


def test_store_path_forms() -> None:
    assert store_path("data/openleash.db") == Path("data/openleash.db")
    assert store_path("sqlite:///data/openleash.db") == Path("data/openleash.db")
    assert store_path("sqlite:////var/lib/openleash.db") == Path("/var/lib/openleash.db")
    assert store_path("SQLITE:////x.db") == Path("/x.db")


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://h/db"])
def test_a_postgresql_url_names_no_file(url: str) -> None:
    with pytest.raises(ValueError, match="names a database, not a file"):
        store_path(url)


@pytest.mark.parametrize("name", ["", ":memory:", "sqlite://", "sqlite:///", "mysql://h/db"])
def test_unusable_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        store_path(name)


def test_wal_mode_and_pragmas(sqlite_store: SqliteStore) -> None:
    conn = sqlite_store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    with closing(sqlite3.connect(tmp_path / "x.db", isolation_level=None)) as conn:
        migrate(conn)
        conn.execute("INSERT INTO schema_migrations VALUES (9999, 'later')")
        with pytest.raises(RuntimeError, match="newer than this OpenLeash"):
            migrate(conn)
        assert not conn.in_transaction


def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    broken = [
        Migration(1, "0001_x.sql", "CREATE TABLE a (x INTEGER);\nINSERT INTO nope VALUES (1);")
    ]
    with closing(sqlite3.connect(tmp_path / "x.db", isolation_level=None)) as conn:
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, broken)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == set()


def test_statements_split_on_complete_statements_only() -> None:
    script = (
        "-- leading comment\n"
        "CREATE TABLE t (x TEXT DEFAULT ';');\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n"
        "  UPDATE t SET x = 'a;b';\n"
        "END;\n"
        "-- trailing comment\n"
    )
    found = statements(script)
    assert len(found) == 2
    assert found[1].endswith("END;")
    with pytest.raises(ValueError, match="incomplete"):
        statements("CREATE TABLE t (x TEXT)")


async def test_operational_errors_become_store_unavailable(sqlite_store: SqliteStore) -> None:
    with pytest.raises(OpenLeashError) as caught:
        async with sqlite_store.transaction():
            raise sqlite3.OperationalError("database is locked")
    assert caught.value.code == "STORE_UNAVAILABLE"
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)


async def test_transactions_do_not_nest(sqlite_store: SqliteStore) -> None:
    async with sqlite_store.transaction() as tx:
        with pytest.raises(RuntimeError, match="do not nest"):
            async with sqlite_store.transaction():
                pass
        await tx.add_owner(r.owner())
    async with sqlite_store.transaction() as tx:
        assert await tx.list_owners() == [r.owner()]


async def test_a_transaction_cannot_be_used_after_it_ends(sqlite_store: SqliteStore) -> None:
    async with sqlite_store.transaction() as tx:
        pass
    with pytest.raises(RuntimeError, match="has ended"):
        await tx.add_owner(r.owner())


async def test_nonce_uses_clear_expired_ones(sqlite_store: SqliteStore) -> None:
    old = 3 * q.PURGE_PER_TURN
    async with sqlite_store.transaction() as tx:
        for n in range(old):
            await tx.use_nonce("agent-a", f"old-{n}", 0, 100)
    uses = 2 * q.PURGE_EVERY
    async with sqlite_store.transaction() as tx:
        for n in range(uses):
            await tx.use_nonce("agent-a", f"new-{n}", 100, 1_000)
    conn = sqlite_store._conn
    left = [row[0] for row in conn.execute("SELECT nonce FROM nonces")]
    assert len([n for n in left if n.startswith("new")]) == uses
    # every PURGE_EVERY uses clear up to PURGE_PER_TURN expired ones: more than they add
    assert len([n for n in left if n.startswith("old")]) == old - 2 * q.PURGE_PER_TURN
    assert q.PURGE_PER_TURN > q.PURGE_EVERY


async def test_background_checkpoint_rewinds_the_wal(tmp_path: Path) -> None:
    db = tmp_path / "openleash.db"
    store = SqliteStore.open(db, checkpoint_interval=3600)
    checkpointer = store._checkpointer
    assert checkpointer is not None

    async def write(count: int) -> None:
        for n in range(count):
            async with store.transaction() as tx:
                await tx.append([r.event(n)])

    def wal_pages() -> int:
        return (db.with_name(db.name + "-wal").stat().st_size - 32) // (4096 + 24)

    try:
        await write(20)
        checkpointer._rewind_pages = 1
        checkpointer.run_once()
        size = wal_pages()
        await write(1)
        assert wal_pages() == size, "the next commit wrote at the start of the WAL again"
        async with store.transaction() as tx:
            assert (await tx.page(limit=1))[1] == 21
    finally:
        await store.close()


def test_one_process_checkpoints_at_a_time_and_another_takes_over(tmp_path: Path) -> None:
    db = tmp_path / "openleash.db"

    def leading(store: SqliteStore) -> bool:
        assert store._checkpointer is not None
        return store._checkpointer._leading

    def wait_for(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 5
        while not condition():
            assert time.monotonic() < deadline
            time.sleep(0.01)

    first = SqliteStore.open(db, checkpoint_interval=0.01)
    wait_for(lambda: leading(first))
    second = SqliteStore.open(db, checkpoint_interval=0.01)
    time.sleep(0.1)  # ten rounds: the second one never leads while the first does
    assert not leading(second)
    asyncio.run(first.close())
    wait_for(lambda: leading(second))
    asyncio.run(second.close())
