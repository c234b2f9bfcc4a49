"""The store contract runs against every adapter; ``store`` and ``store_factory`` pick one.

Tests here may be ``async def``: they run under :func:`asyncio.run`, one event loop per test.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from openleash.service.ports import Store
from openleash.store.sql.sqlite import SqliteStore

StoreFactory = Callable[[], Coroutine[Any, Any, Store]]

#: Adapters under test. A PostgreSQL adapter joins with its own factory.
ADAPTERS = ["sqlite"]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    asyncio.run(pyfuncitem.obj(**kwargs))
    return True


@pytest.fixture(params=ADAPTERS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens stores over one shared database (as separate processes would)."""
    opened: list[Store] = []

    async def open_sqlite() -> Store:
        store = SqliteStore.open(tmp_path / "openleash.db")
        opened.append(store)
        return store

    factories: dict[str, StoreFactory] = {"sqlite": open_sqlite}
    yield factories[request.param]
    for store in opened:
        asyncio.run(store.close())


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    return asyncio.run(store_factory())
