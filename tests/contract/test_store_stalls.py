"""A store that does not answer makes units fail with ``STORE_UNAVAILABLE`` within the store's
timeout, never hangs them or the event loop, writes nothing of a unit that timed out, and works
again once it answers.

SQLite: the cross-process write lock held elsewhere. PostgreSQL: a proxy in front of the server
that stops forwarding (a stalled server or network), and the writers' advisory lock held by
another session.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest

from openleash.domain.errors import OpenLeashError, StoreUnavailableError, UnavailableError
from openleash.service.ports import Store, Transaction
from openleash.store.sql import postgres_queries as pq
from openleash.store.sql.availability import PROBE_REUSE_SECONDS, WriteHealth
from openleash.store.sql.postgres import PostgresStore
from openleash.store.sql.sqlite import SqliteStore
from openleash.store.sql.sqlite_wal import WriteLock, lock_path

from . import records as r
from ._stalling_proxy import StallingProxy

T = TypeVar("T")

#: The store's bound in these tests, and the slack allowed on top of it (a slow, shared machine).
TIMEOUT = 0.5
SLACK = 1.0
#: Readiness answers within a second of its own, or the store's timeout if shorter.
HEALTH_BOUND = min(1.0, TIMEOUT) + SLACK
#: Where a test gives up on a store that does not keep its bound (the old, unbounded code).
GIVE_UP = TIMEOUT + SLACK + 5


async def _timed(awaitable: Awaitable[T]) -> tuple[T, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    value = await asyncio.wait_for(awaitable, GIVE_UP)
    return value, loop.time() - started


async def _refused_in_time(awaitable: Awaitable[object]) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(OpenLeashError) as caught:
        await asyncio.wait_for(awaitable, GIVE_UP)
    assert caught.value.code == "STORE_UNAVAILABLE"
    assert isinstance(caught.value, UnavailableError)
    assert loop.time() - started < TIMEOUT + SLACK


async def _add_owner(store: Store, name: str) -> None:
    async def work(tx: Transaction) -> None:
        await tx.add_owner(r.owner(name))

    await store.submit(work)


async def _read_owners(store: Store) -> set[str]:
    async with store.read() as tx:
        return {o.user_principal_id for o in await tx.list_owners()}


class _Ticker:
    """Counts event-loop turns of ~10 ms: a loop blocked by a wait stops counting."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1

    def stop(self) -> None:
        self._task.cancel()


# -- SQLite ---------------------------------------------------------------------------------------


#: The longest a holder keeps the SQLite lock, should the code under test block the loop (and
#: so the test, which would free it): the test then fails rather than hangs.
HOLD_MAX = 4.0


class _Holder:
    """The write lock of ``path``'s store, taken as another process would (its own open file),
    until :meth:`free`, or for :data:`HOLD_MAX` at most (a thread of its own frees it then)."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._mutex = threading.Lock()
        self._timer = threading.Timer(HOLD_MAX, self.free)
        self._timer.start()

    def free(self) -> None:
        with self._mutex:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        self._timer.cancel()


def _is_free(path: Path) -> bool:
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


async def test_waiting_for_a_held_write_lock_keeps_the_loop_running_and_gives_up_in_time(
    tmp_path: Path,
) -> None:
    db = tmp_path / "openleash.db"
    lock = WriteLock(lock_path(db))
    holder = _Holder(db)
    ticker = _Ticker()
    try:
        with pytest.raises(TimeoutError):
            await _timed(lock.acquire_async(TIMEOUT))
        # The loop went on turning while the lock was waited for (a blocking flock on it
        # would have stopped every other request for as long).
        assert ticker.ticks >= TIMEOUT / 0.01 / 4
    finally:
        ticker.stop()
        holder.free()
    # The abandoned wait gives the lock back as soon as it gets it: nobody is left locked out.
    for _ in range(100):
        if _is_free(db):
            break
        await asyncio.sleep(0.01)
    assert _is_free(db)
    await _timed(lock.acquire_async(TIMEOUT))
    assert not _is_free(db)
    lock.release()
    assert _is_free(db)
    lock.close()


async def test_a_wait_begun_for_a_caller_who_gave_up_serves_the_next_one(tmp_path: Path) -> None:
    db = tmp_path / "openleash.db"
    lock = WriteLock(lock_path(db))
    holder = _Holder(db)
    try:
        with pytest.raises(TimeoutError):
            await lock.acquire_async(0.05)
        asyncio.get_running_loop().call_later(0.2, holder.free)
        await _timed(lock.acquire_async(GIVE_UP))
        assert not _is_free(db)  # really held: by this lock, nobody else
    finally:
        lock.release()
        lock.close()
    assert _is_free(db)


async def test_a_sqlite_unit_that_times_out_is_never_written(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path / "openleash.db", timeout=TIMEOUT)
    try:
        await _add_owner(store, "before")
        holder = _Holder(store.path)
        try:
            await _refused_in_time(_add_owner(store, "refused"))
            await _refused_in_time(_direct_transaction(store, "refused-too"))
            assert await store.readiness() == "unavailable"
            assert await _read_owners(store) == {"before"}  # reads take no lock
        finally:
            holder.free()
        await asyncio.sleep(TIMEOUT)
        await _add_owner(store, "after")
        assert await _read_owners(store) == {"before", "after"}
        assert await store.readiness() == "ok"
    finally:
        await store.close()


async def _direct_transaction(store: Store, name: str) -> None:
    async with store.transaction() as tx:
        await tx.add_owner(r.owner(name))


# -- PostgreSQL -----------------------------------------------------------------------------------


@asynccontextmanager
async def _pg_store(url: str) -> AsyncIterator[PostgresStore]:
    store = await PostgresStore.open(url, timeout=TIMEOUT)
    try:
        yield store
    finally:
        await asyncio.wait_for(store.close(), GIVE_UP)


async def test_a_stalled_postgresql_is_unavailable_in_time_and_recovers(postgres_url: str) -> None:
    async with (
        StallingProxy.to(postgres_url) as proxy,
        _pg_store(proxy.url_for(postgres_url)) as store,
    ):
        await _add_owner(store, "before")
        assert await store.readiness() == "ok"
        proxy.stall()
        try:
            await _refused_in_time(_add_owner(store, "refused"))
            await _refused_in_time(_read_owners(store))
            await _refused_in_time(store.revision())
            state, seconds = await _timed(store.readiness())
            assert state == "unavailable"
            assert seconds < HEALTH_BOUND
        finally:
            proxy.resume()
        await _add_owner(store, "after")
        assert await _read_owners(store) == {"before", "after"}
        assert await store.readiness() == "ok"


async def test_the_writers_lock_held_elsewhere_times_out_and_reads_go_on(
    postgres_url: str,
) -> None:
    async with _pg_store(postgres_url) as store:
        await _add_owner(store, "before")
        other = await asyncpg.connect(postgres_url)
        try:
            await other.execute(f"SELECT pg_advisory_lock({pq.WRITE_LOCK_KEY:d})")
            await _refused_in_time(_add_owner(store, "refused"))
            await _refused_in_time(_direct_transaction(store, "refused-too"))
            state, seconds = await _timed(store.readiness())
            assert state == "unavailable"
            assert seconds < HEALTH_BOUND
            assert await _read_owners(store) == {"before"}
            await other.execute(f"SELECT pg_advisory_unlock({pq.WRITE_LOCK_KEY:d})")
        finally:
            await other.close()
        await _add_owner(store, "after")
        assert await _read_owners(store) == {"before", "after"}
        assert await store.readiness() == "ok"


@pytest.mark.parametrize("statement", ["LOCK TABLE owners IN ACCESS EXCLUSIVE MODE"])
async def test_a_table_locked_elsewhere_times_out_and_nothing_is_half_written(
    postgres_url: str, statement: str
) -> None:
    async with _pg_store(postgres_url) as store:
        other = await asyncpg.connect(postgres_url)
        try:
            async with other.transaction():
                await other.execute(statement)
                await _refused_in_time(_add_owner(store, "refused"))
        finally:
            await other.close()
        await _add_owner(store, "after")
        assert await _read_owners(store) == {"after"}


async def test_a_flood_of_health_checks_writes_a_few_probes_not_one_each() -> None:
    writes: list[float] = []

    async def read() -> None:
        return None

    async def write() -> None:
        writes.append(time.monotonic())

    health = WriteHealth(read, write, timeout=5.0)
    answers = [await health.readiness() for _ in range(200)]
    assert set(answers) == {"ok"}
    assert len(writes) <= 2
    # A write that fails after the last probe is not hidden by it.
    health.failed(StoreUnavailableError("STORE_UNAVAILABLE", "disk full"))
    assert await health.readiness() == "failing"
    # Once the reuse window is over, the store is asked again.
    await asyncio.sleep(PROBE_REUSE_SECONDS)
    health.succeeded()
    assert await health.readiness() == "ok"
    assert len(writes) >= 2
