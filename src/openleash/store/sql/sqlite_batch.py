"""Group commit: units of work submitted at about the same time share one write transaction.

Each unit runs under its own savepoint, so a unit that raises leaves no trace while the others
commit. Callers are answered only after the shared ``COMMIT``, so nothing a caller reports can be
lost. The write lock, ``BEGIN`` and ``COMMIT`` (the costly part of a small transaction) are paid
once per batch instead of once per request.

Batches form by themselves: the writer runs on the event loop's next turn, so every request that
reached its write step in the meantime joins the batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from openleash.store.sql.sqlite import SqliteStore
    from openleash.store.sql.sqlite_tx import SqliteTransaction

T = TypeVar("T")
Work = Callable[["SqliteTransaction"], Awaitable[Any]]

#: Units in one transaction at most: bounds the time the write lock is held.
MAX_BATCH = 64


class BatchWriter:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._queue: list[tuple[Work, asyncio.Future[Any]]] = []
        self._draining = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, work: Callable[[SqliteTransaction], Awaitable[T]]) -> T:
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

    async def _run(self) -> None:
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        batch: list[tuple[Work, asyncio.Future[Any]]] = []
        try:
            async with self._store.transaction() as tx:
                # Taken once the lock is held: units queued while waiting for it join too.
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                conn = self._store._conn
                for work, future in batch:
                    conn.execute("SAVEPOINT unit")
                    try:
                        result = await work(tx)
                    except Exception as exc:  # the unit's own failure, reported to its caller
                        conn.execute("ROLLBACK TO unit")
                        conn.execute("RELEASE unit")
                        # INVARIANT: the unit's audit records are gone, so the chain head the
                        # transaction cached must be read again before the next unit appends.
                        tx.rolled_back_to_savepoint()
                        outcomes.append((future, False, exc))
                    else:
                        conn.execute("RELEASE unit")
                        outcomes.append((future, True, result))
        except Exception as failure:  # the shared transaction failed: nobody's writes stand
            if not batch:  # it could not even begin: fail the units that were waiting for it
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
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
