"""The store contract runs against every adapter; ``store`` and ``store_factory`` pick one.

Behaviour is the contract, and every adapter runs it: SQLite, PostgreSQL and the in-memory
store. A test of a SQL adapter's own mechanics (several processes over one database, files,
pools) is marked ``@pytest.mark.sql_only("why")``: the in-memory run of it is skipped with that
reason. For the in-memory store, ``store_factory`` opens every store over the test's one
:class:`~openleash.store.memory.MemoryDatabase` (as separate processes would open one database).

Tests here may be ``async def``: they run in the test's own event loop (``event_runner``),
the same loop its fixtures open and close stores in (a PostgreSQL pool belongs to its loop).

The PostgreSQL runs use a fresh database per test on the server ``OPENLEASH_TEST_POSTGRES_URL``
names (default ``postgresql://postgres@127.0.0.1:5432/test``), dropped afterwards; they skip
when that server cannot be reached.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from openleash.service.ports import Store
from openleash.store import MEMORY_URL, is_memory_url, is_postgres_url
from openleash.store.memory import MemoryDatabase, MemoryStore
from openleash.store.sql.postgres import PostgresStore
from openleash.store.sql.sqlite import AuditCheckpointRule, SqliteStore
from tests.support.event_loop import event_runner, pytest_pyfunc_call

from . import _postgres

__all__ = ["ADAPTERS", "StoreFactory", "event_runner", "pytest_pyfunc_call"]


class StoreFactory(Protocol):
    """Opens one more store over the test's database (as another process would)."""

    def __call__(
        self, *, audit_checkpoints: AuditCheckpointRule | None = None
    ) -> Coroutine[Any, Any, Store]: ...


#: Adapters under test.
ADAPTERS = ["sqlite", "postgres", "memory"]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (dropped after the test); skips without a server."""
    reason = _postgres.unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    url = _postgres.create_database()
    try:
        yield url
    finally:
        _postgres.drop_database(url)


@pytest.fixture(params=ADAPTERS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the test's database lives: a SQLite file path, a PostgreSQL URL, or ``memory:``."""
    if request.param == "memory":
        marker = request.node.get_closest_marker("sql_only")
        if marker is not None:
            if not marker.args:
                raise TypeError("sql_only needs the reason the test is about SQL only")
            pytest.skip(f"SQL adapters only: {marker.args[0]}")
        return MEMORY_URL
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return str(tmp_path / "openleash.db")


@pytest.fixture
def store_factory(store_url: str, event_runner: asyncio.Runner) -> Iterator[StoreFactory]:
    """Opens stores over one shared database (as separate processes would)."""
    opened: list[Store] = []
    memory = MemoryDatabase()

    async def open_one(*, audit_checkpoints: AuditCheckpointRule | None = None) -> Store:
        store: Store
        if is_postgres_url(store_url):
            store = await PostgresStore.open(store_url, audit_checkpoints=audit_checkpoints)
        elif is_memory_url(store_url):
            store = MemoryStore(memory, audit_checkpoints=audit_checkpoints)
        else:
            store = SqliteStore.open(Path(store_url), audit_checkpoints=audit_checkpoints)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        event_runner.run(store.close())


@pytest.fixture
def store(store_factory: StoreFactory, event_runner: asyncio.Runner) -> Store:
    return event_runner.run(store_factory())
