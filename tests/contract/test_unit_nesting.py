"""Units of work do not nest: a task holding one that asks for another fails at once.

Before, a read inside a read waited on itself forever on SQLite (its read guard is one lock per
process), and with it every request of the process that needed the store. Each case is bounded
by a timeout: a hang fails the test instead of the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from openleash.service.ports import Store, Transaction

#: Far more than raising takes; far less than a test run.
BOUND_SECONDS = 5.0


async def _read(store: Store) -> None:
    async with store.read() as tx:
        await tx.list_agents()


async def _transaction(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.list_agents()


async def _submit(store: Store) -> None:
    async def work(tx: Transaction) -> None:
        await tx.list_agents()

    await store.submit(work)


async def _revision(store: Store) -> None:
    await store.revision()


INNER: dict[str, Callable[[Store], Awaitable[Any]]] = {
    "read": _read,
    "transaction": _transaction,
    "submit": _submit,
    "revision": _revision,
}


@pytest.mark.parametrize("outer", ["read", "transaction"])
@pytest.mark.parametrize("inner", list(INNER))
async def test_a_nested_unit_raises_instead_of_hanging(
    store: Store, outer: str, inner: str
) -> None:
    async def nested() -> None:
        unit = store.read() if outer == "read" else store.transaction()
        async with unit:
            await INNER[inner](store)

    with pytest.raises(RuntimeError, match="do not nest"):
        await asyncio.wait_for(nested(), BOUND_SECONDS)
    # The store is usable afterwards: nothing was left held.
    await asyncio.wait_for(_read(store), BOUND_SECONDS)
    await asyncio.wait_for(_transaction(store), BOUND_SECONDS)


async def test_units_of_different_tasks_still_run_side_by_side(store: Store) -> None:
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with store.read():
            held.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await asyncio.wait_for(held.wait(), BOUND_SECONDS)
    # Another task waits for the read guard (SQLite) or takes another connection (PostgreSQL):
    # no error, it is not nesting.
    waiting = asyncio.create_task(_read(store))
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.wait_for(asyncio.gather(task, waiting), BOUND_SECONDS)
