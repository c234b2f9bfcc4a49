"""The store contract runs against every adapter; ``store`` and ``store_factory`` pick one.

Tests here may be ``async def``: they run in the test's own event loop (``event_runner``),
the same loop its fixtures open and close stores in (a PostgreSQL pool belongs to its loop).

The PostgreSQL runs use a fresh database per test on the server ``OPENLEASH_TEST_POSTGRES_URL``
names (default ``postgresql://postgres@127.0.0.1:5432/test``), dropped afterwards; they skip
when that server cannot be reached.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from openleash.service.ports import Store
from openleash.store import is_postgres_url
from openleash.store.sql.postgres import PostgresStore
from openleash.store.sql.sqlite import AuditCheckpointRule, SqliteStore

from . import _postgres


class StoreFactory(Protocol):
    """Opens one more store over the test's database (as another process would)."""

    def __call__(
        self, *, audit_checkpoints: AuditCheckpointRule | None = None
    ) -> Coroutine[Any, Any, Store]: ...


#: Adapters under test.
ADAPTERS = ["sqlite", "postgres"]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    runner: asyncio.Runner = pyfuncitem.funcargs["event_runner"]
    runner.run(pyfuncitem.obj(**kwargs))
    return True


@pytest.fixture(autouse=True)
def event_runner() -> Iterator[asyncio.Runner]:
    """The test's event loop, shared by its fixtures."""
    with asyncio.Runner() as runner:
        yield runner


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
    """Where the test's database lives: a SQLite file path or a PostgreSQL URL."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return str(tmp_path / "openleash.db")


@pytest.fixture
def store_factory(store_url: str, event_runner: asyncio.Runner) -> Iterator[StoreFactory]:
    """Opens stores over one shared database (as separate processes would)."""
    opened: list[Store] = []

    async def open_one(*, audit_checkpoints: AuditCheckpointRule | None = None) -> Store:
        store: Store
        if is_postgres_url(store_url):
            store = await PostgresStore.open(store_url, audit_checkpoints=audit_checkpoints)
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
