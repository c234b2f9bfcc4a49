"""Group commit: units of work submitted at about the same time share one write transaction.

Each unit is undone alone if it raises (its transaction's ``begin_unit`` / ``unit_failed``: a
savepoint on both databases), so the others commit. Callers are answered only after the shared
``COMMIT``, so nothing a caller reports can be lost. The write lock, ``BEGIN`` and ``COMMIT`` (the
costly part of a small transaction, and on PostgreSQL the round trips to the server) are paid
once per batch instead of once per request.

Batches form by themselves: the writer runs on the event loop's next turn, and takes the queue
once it holds the write transaction, so every unit queued while it waited for the lock joins.

Every wait is bounded. A caller whose unit has not started within the store's timeout is answered
:class:`~.availability.StoreTimeoutError` and its unit never runs; once a unit has started, its
transaction's own bounds (lock, statements, commit) end the wait. A unit that fails for want of
the store (``STORE_UNAVAILABLE``) fails the whole batch: the shared transaction is in doubt, so
nobody's writes stand. A unit whose failure leaves the transaction unusable although the store
is well (PostgreSQL aborts a transaction on any refused statement; a unit that records a
decision in one statement has no savepoint) is answered its own error, and the others run again
in a new transaction: one bad unit never fails its neighbours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, Protocol, TypeVar

from openleash.store.sql.availability import StoreTimeoutError

T = TypeVar("T")


class UnitTransaction(Protocol):
    """What a write transaction offers group commit."""

    async def begin_unit(self) -> None: ...
    def unit_succeeded(self) -> None: ...
    async def unit_failed(self) -> None:
        """Undo the unit, and forget what the transaction cached of it (the chain head)."""
        ...

    def broken(self, exc: BaseException) -> bool:
        """Whether a unit's ``exc`` is the database's failure, which ends the whole batch."""
        ...

    def poisoned(self, exc: BaseException) -> bool:
        """Whether the unit's own failure ``exc`` left the shared transaction unusable (a
        statement the database refused, with no savepoint of the unit to roll back to): the
        other units must run again in a new transaction."""
        ...


Tx = TypeVar("Tx", bound=UnitTransaction)

#: Units in one transaction at most: bounds the time the write lock is held. On PostgreSQL it
#: also keeps a batch within the 64 subtransactions per session whose ids are cached; past
#: that, other sessions' snapshots get slower while the batch is open.
MAX_BATCH = 64


class _PoisonedError(Exception):
    """A unit's failure left the batch's transaction unusable (raised out of it to roll it
    back)."""

    def __init__(self, entry: _Entry, error: Exception) -> None:
        super().__init__("a unit's failure aborted its batch's transaction")
        self.entry = entry
        self.error = error


class _Entry:
    """A submitted unit: its work, its caller's future, and whether its batch has taken it."""

    __slots__ = ("future", "started", "work")

    def __init__(self, work: Callable[[Any], Awaitable[Any]], future: asyncio.Future[Any]) -> None:
        self.work = work
        self.future = future
        self.started = False


class BatchWriter(Generic[Tx]):
    def __init__(
        self, transaction: Callable[[], AbstractAsyncContextManager[Tx]], *, timeout: float
    ) -> None:
        self._transaction = transaction
        self._timeout = timeout
        self._queue: list[_Entry] = []
        self._draining = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        entry = _Entry(work, future)
        self._queue.append(entry)
        if not self._draining:
            self._draining = True
            task = loop.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # A timer rather than a timeout scope: one heap entry and no task cancellation, on the
        # hot path.
        expiry = loop.call_later(self._timeout, self._expire, entry)
        try:
            return await future
        finally:
            expiry.cancel()

    def _expire(self, entry: _Entry) -> None:
        """The caller's wait is over, unless its batch has taken the unit: then the transaction
        is under way and ends within its own bounds, and the caller learns whether it committed
        rather than guessing. A unit answered here is skipped by the batch: it never runs."""
        if not entry.started and not entry.future.done():
            entry.future.set_exception(StoreTimeoutError(self._timeout))

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self._run()
        finally:
            # INVARIANT: no await between the empty check above and this reset, so a unit
            # queued meanwhile always finds either a running drain or starts a new one.
            self._draining = False

    def _take(self) -> list[_Entry]:
        batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        return [entry for entry in batch if not entry.future.done()]  # callers gone: skipped

    async def _run(self) -> None:  # noqa: C901 - group commit reads best whole
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        batch: list[_Entry] = []
        taken = False
        try:
            async with self._transaction() as tx:
                # Taken once the lock is held: units queued meanwhile join too.
                batch, taken = self._take(), True
                for entry in batch:
                    entry.started = True
                for entry in batch:
                    await tx.begin_unit()
                    try:
                        result = await entry.work(tx)
                    except Exception as exc:  # the unit's own failure, reported to its caller
                        if tx.broken(exc):
                            raise  # the store failed, not the unit: the batch ends here
                        if tx.poisoned(exc):
                            raise _PoisonedError(entry, exc) from exc
                        await tx.unit_failed()
                        outcomes.append((entry.future, False, exc))
                    else:
                        tx.unit_succeeded()
                        outcomes.append((entry.future, True, result))
        except _PoisonedError as poisoned:  # rolled back: the others run again without it
            self._retry_without(batch, poisoned)
            return
        except Exception as failure:  # the shared transaction failed: nobody's writes stand
            if not taken:  # it could not even begin: fail the units that were waiting for it
                batch = self._take()
            for entry in batch:
                if not entry.future.done():
                    entry.future.set_exception(failure)
            return
        self._answer(outcomes)

    def _retry_without(self, batch: list[_Entry], poisoned: _PoisonedError) -> None:
        """Answer the unit that aborted the transaction its error, and queue the rest of its
        batch first, to run again (nothing of theirs was committed; each retry drops one unit,
        so a batch runs at most once per unit)."""
        if not poisoned.entry.future.done():
            poisoned.entry.future.set_exception(poisoned.error)
        again = [entry for entry in batch if entry is not poisoned.entry]
        self._queue[:0] = again

    @staticmethod
    def _answer(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
        for future, ok, value in outcomes:
            if future.done():  # the caller went away (cancelled)
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
