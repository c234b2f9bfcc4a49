"""The in-memory store: the ports of :mod:`openleash.service.ports` over plain Python structures.

For tests and demos: use cases run against it without a database file or server, and it keeps
the promises the SQL adapters keep (the contract suite, ``tests/contract``, runs against all
three). Nothing is persistent: the data lives in a :class:`MemoryDatabase` object, gone with the
process. Each process has its own, so it cannot serve several workers or replicas.

How it keeps the promises:

- A write transaction works on a copy of the tables it writes and commits by installing them at
  once (:mod:`.tables`); an exception or a cancellation inside it drops the copy: nothing of it
  is left behind.
- Writers take turns: each database has one :class:`asyncio.Lock`, held from a transaction's
  start to its end. A wait for it ends within the store's ``timeout``, then
  ``STORE_UNAVAILABLE``, as on SQL.
- A read unit sees the version committed when it began, holds up no writer, and refuses writes.
- :meth:`MemoryStore.submit` is the SQL adapters' group commit (:mod:`openleash.store.sql.batch`):
  units submitted together share one transaction, and a unit that raises is undone alone.
- Units do not nest (:mod:`openleash.store.sql.nesting`).
- Readiness is worked out as on SQL (:class:`~openleash.store.sql.store_base.StoreBase`): a
  read and a write unit within a second. It is never ``failing`` (there is no storage to fail);
  it is ``unavailable`` while a transaction holds the writers up for longer than that.

Several :class:`MemoryStore` objects opened over one :class:`MemoryDatabase` behave as processes
sharing one database: the same data, revision and writers' turn; each has its own
:meth:`~MemoryStore.local_revision` and its own check that units do not nest.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from openleash.store.chain import AuditCheckpointRule
from openleash.store.memory.tables import Tables, Version
from openleash.store.memory.transaction import MemoryTransaction
from openleash.store.sql.availability import DEFAULT_TIMEOUT_SECONDS
from openleash.store.sql.store_base import StoreBase, UnitBase, take_turn

__all__ = ["MemoryDatabase", "MemoryStore", "MemoryTransaction"]


class MemoryDatabase:
    """The data of in-memory stores: every :class:`MemoryStore` opened over the same object
    shares it, as processes share a database file."""

    def __init__(self) -> None:
        #: The last committed version; a commit replaces it (no await in between).
        self.version = Version.empty()
        #: Held by the write transaction under way, of any store over this database.
        self.writer = asyncio.Lock()


class MemoryStore(StoreBase[MemoryTransaction]):
    """The :class:`~openleash.service.ports.Store` over a :class:`MemoryDatabase` (a new, empty
    one unless given)."""

    def __init__(
        self,
        database: MemoryDatabase | None = None,
        *,
        audit_checkpoints: AuditCheckpointRule | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(audit_checkpoints=audit_checkpoints, timeout=timeout)
        self.database = MemoryDatabase() if database is None else database
        self._closed = False

    def _unit(self, *, record: bool) -> _Unit:
        return _Unit(self, record=record)

    def read(self) -> _ReadUnit:
        return _ReadUnit(self)

    async def revision(self) -> int:
        # Asked inside an open unit, it would answer differently from the SQL adapters.
        self._holders.check("the revision")
        self._check_open()
        return self.database.version.revision

    async def close(self) -> None:
        """Later units fail. The database, and the other stores over it, are left as they are."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")


class _Unit(UnitBase[MemoryStore, MemoryTransaction]):
    """``async with store.transaction() as tx``: commit on normal exit, roll back on an error.

    Entering waits at most the store's ``timeout`` for the writers' turn; then
    :class:`~openleash.store.sql.availability.StoreTimeoutError`, and nothing was begun."""

    __slots__ = ()

    async def __aenter__(self) -> MemoryTransaction:
        store = self._store
        store._check_open()
        # Waiting would never end if this task holds the turn it would wait for.
        store._holders.check("a transaction")
        writer = store.database.writer
        deadline = asyncio.get_running_loop().time() + store.timeout
        await take_turn(writer, deadline, store.timeout)
        try:
            self._task = store._holders.enter("transaction")
            tables = Tables(store.database.version, writable=True)
        except BaseException:
            writer.release()
            raise
        self._tx = MemoryTransaction(tables, store.audit_checkpoints)
        return self._tx

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        store = self._store
        try:
            if self._tx is not None:
                tables = self._tx.end()
                if exc is None:
                    store.database.version = tables.version()
                    store._committed(tables.bumped)
        finally:
            store._holders.leave(self._task)
            store.database.writer.release()
        store._outcome(self._record, exc)


class _ReadUnit(UnitBase[MemoryStore, MemoryTransaction]):
    """``async with store.read() as tx``: the version committed when it began; every write
    through it raises :class:`~.tables.ReadOnlyError`."""

    __slots__ = ()

    async def __aenter__(self) -> MemoryTransaction:
        store = self._store
        store._check_open()
        self._task = store._holders.enter("read")
        self._tx = MemoryTransaction(Tables(store.database.version, writable=False))
        return self._tx

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tx is not None:
            self._tx.end()
        self._store._holders.leave(self._task)
