"""Group commit: units of work submitted at about the same time share one write transaction.

Each unit is undone alone if it raises (its transaction's ``begin_unit`` / ``unit_failed``: a
savepoint on both databases), so the others commit. Callers are answered only after the shared
``COMMIT``, so nothing a caller reports can be lost. The write lock, ``BEGIN`` and ``COMMIT`` (the
costly part of a small transaction, and on PostgreSQL the round trips to the server) are paid
once per batch instead of once per request.

Batches form by themselves: the writer runs on the event loop's next turn, and takes the queue
once it holds the write transaction, so every unit queued while it waited for the lock joins.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")


class UnitTransaction(Protocol):
    """What a write transaction offers group commit."""

    async def begin_unit(self) -> None: ...
    def unit_succeeded(self) -> None: ...
    async def unit_failed(self) -> None:
        """Undo the unit, and forget what the transaction cached of it (the chain head)."""
        ...


Tx = TypeVar("Tx", bound=UnitTransaction)

#: Units in one transaction at most: bounds the time the write lock is held. On PostgreSQL it
#: also keeps a batch within the 64 subtransactions per session whose ids are cached; past
#: that, other sessions' snapshots get slower while the batch is open.
MAX_BATCH = 64


class BatchWriter(Generic[Tx]):
    def __init__(self, transaction: Callable[[], AbstractAsyncContextManager[Tx]]) -> None:
        self._transaction = transaction
        self._queue: list[tuple[Callable[[Tx], Awaitable[Any]], asyncio.Future[Any]]] = []
        self._draining = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((work, future))
        if not self._draining:
            self._draining = True
            task = loop.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self._run()
        finally:
            # INVARIANT: no await between the empty check above and this reset, so a unit
            # queued meanwhile always finds either a running drain or starts a new one.
            self._draining = False

    def _take(self) -> list[tuple[Callable[[Tx], Awaitable[Any]], asyncio.Future[Any]]]:
        batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        return batch

    async def _run(self) -> None:
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        batch: list[tuple[Callable[[Tx], Awaitable[Any]], asyncio.Future[Any]]] = []
        try:
            async with self._transaction() as tx:
                batch = self._take()  # once the lock is held: units queued meanwhile join too
                for work, future in batch:
                    await tx.begin_unit()
                    try:
                        result = await work(tx)
                    except Exception as exc:  # the unit's own failure, reported to its caller
                        await tx.unit_failed()
                        outcomes.append((future, False, exc))
                    else:
                        tx.unit_succeeded()
                        outcomes.append((future, True, result))
        except Exception as failure:  # the shared transaction failed: nobody's writes stand
            if not batch:  # it could not even begin: fail the units that were waiting for it
                batch = self._take()
            for _, future in batch:
                if not future.done():
                    future.set_exception(failure)
            return
        for future, ok, value in outcomes:
            if future.done():  # the caller went away (cancelled)
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
