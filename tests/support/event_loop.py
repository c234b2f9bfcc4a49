"""``async def`` tests, each run in its own event loop (``event_runner``), the loop its fixtures
use too. A conftest imports both names to use them for the tests under it."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator

import pytest


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
