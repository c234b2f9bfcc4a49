"""Group commit on PostgreSQL: units submitted at about the same time share one transaction.

The same scheme as the SQLite store's: each unit runs under its own savepoint, so a unit that
raises (or whose statement fails, which aborts the transaction up to that savepoint) leaves no
trace while the others commit; callers are answered only after the shared ``COMMIT``. The write
lock, ``BEGIN`` and ``COMMIT`` are paid once per batch instead of once per request, and, on this
store, so are the round trips to the server that they cost.

Batches form by themselves: the writer runs on the event loop's next turn, and takes the queue
once it holds the write transaction, so every unit queued while it waited joins.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from openleash.store.sql.postgres import PostgresStore
    from openleash.store.sql.postgres_tx import PostgresTransaction

T = TypeVar("T")
Work = Callable[["PostgresTransaction"], Awaitable[Any]]

#: Units in one transaction at most: bounds the time the write lock is held. Also keeps a batch
#: within the 64 subtransactions (one per unit that writes) whose ids PostgreSQL caches per
#: session; past that, other sessions' snapshots get slower while the batch is open.
MAX_BATCH = 64


class BatchWriter:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._queue: list[tuple[Work, asyncio.Future[Any]]] = []
        self._draining = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, work: Callable[[PostgresTransaction], Awaitable[T]]) -> T:
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

    def _take(self) -> list[tuple[Work, asyncio.Future[Any]]]:
        batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        return batch

    async def _run(self) -> None:
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        batch: list[tuple[Work, asyncio.Future[Any]]] = []
        try:
            async with self._store.transaction() as tx:
                batch = self._take()
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
