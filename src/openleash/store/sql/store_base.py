"""What every store does alike, whatever it keeps its data in: SQLite, PostgreSQL, memory.

:class:`StoreBase` holds the store's part that does not depend on where the data is: group
commit (:meth:`~StoreBase.submit`), the count of this process's revision bumps
(:meth:`~StoreBase.local_revision`), readiness and its heartbeat, and the outcome of each write
unit that readiness counts. An adapter provides its units of work (``_unit``, ``read``), its
``revision`` and the few statements behind them. :func:`take_turn` bounds the wait for a lock
of the store's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, Protocol, TypeVar

from openleash.store.chain import AuditCheckpointRule
from openleash.store.sql.availability import Readiness, StoreTimeoutError, WriteHealth
from openleash.store.sql.batch import BatchWriter, UnitTransaction
from openleash.store.sql.nesting import UnitHolders

T = TypeVar("T")


class StoreTransaction(UnitTransaction, Protocol):
    """A write transaction as the store drives it: group commit, and the heartbeat."""

    async def heartbeat(self) -> None:
        """The least write there is (none, where there is no storage to fail)."""
        ...


TxT = TypeVar("TxT", bound=StoreTransaction)
StoreT = TypeVar("StoreT")


class StoreBase(Generic[TxT]):
    """The :class:`~openleash.service.ports.Store` methods every adapter shares."""

    def __init__(self, *, audit_checkpoints: AuditCheckpointRule | None, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = timeout
        self.audit_checkpoints = audit_checkpoints or AuditCheckpointRule()
        self._local_revision = 0
        # INVARIANT: a task holding a unit never asks for another (see .nesting).
        self._holders = UnitHolders()
        self._batch: BatchWriter[TxT] = BatchWriter(self.transaction, timeout=timeout)
        # Looked up at each check, so that the probe is the store's revision() as it is then.
        self.writes = WriteHealth(lambda: self.revision(), self._heartbeat, timeout=timeout)

    # -- the adapter's own ----------------------------------------------------------------------

    def _unit(self, *, record: bool) -> AbstractAsyncContextManager[TxT]:
        """A write unit of work; ``record``: whether its outcome counts towards readiness."""
        raise NotImplementedError

    async def revision(self) -> int:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------

    def transaction(self) -> AbstractAsyncContextManager[TxT]:
        return self._unit(record=True)

    async def submit(self, work: Callable[[TxT], Awaitable[T]]) -> T:
        self._holders.check("a group-commit unit")
        return await self._batch.submit(work)

    def local_revision(self) -> int:
        return self._local_revision

    async def readiness(self) -> Readiness:
        return await self.writes.readiness()

    async def _heartbeat(self) -> None:
        """A write unit with the least write in it, committed: whether a writer gets its turn
        in time and the storage takes writes. Its outcome does not count towards readiness."""
        async with self._unit(record=False) as tx:
            await tx.heartbeat()

    def _committed(self, bumped: bool) -> None:
        """A write unit committed; ``bumped``: it bumped the revision."""
        if bumped:
            self._local_revision += 1

    def _outcome(self, record: bool, failure: BaseException | None) -> None:
        """A write unit ended: committed (``failure`` None) or failed with ``failure``."""
        if not record:
            return
        if failure is None:
            self.writes.succeeded()
        else:
            self.writes.failed(failure)


class UnitBase(Generic[StoreT, TxT]):
    """What each unit of work holds: its store, its transaction once begun, and the task that
    holds it (for :class:`~.nesting.UnitHolders`). ``record``: whether the outcome of a write
    unit counts towards readiness (the heartbeat's own does not)."""

    __slots__ = ("_record", "_store", "_task", "_tx")

    def __init__(self, store: StoreT, *, record: bool = True) -> None:
        self._store = store
        self._tx: TxT | None = None
        self._task: asyncio.Task[Any] | None = None
        self._record = record


async def take_turn(lock: asyncio.Lock, deadline: float, seconds: float) -> None:
    """Acquire ``lock`` by ``deadline`` (the loop's clock), or raise
    :class:`~.availability.StoreTimeoutError` for a store whose timeout is ``seconds``."""
    if lock.locked():
        try:
            async with asyncio.timeout_at(deadline):
                await lock.acquire()
        except TimeoutError:
            raise StoreTimeoutError(seconds) from None
    else:
        await lock.acquire()
