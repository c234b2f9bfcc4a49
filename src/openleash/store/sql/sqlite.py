"""The SQLite store: one file, any number of processes writing at once.

How processes share the file:

- WAL journal: readers never wait for writers and see the last committed state.
- Each process keeps one connection for transactions and one for :meth:`SqliteStore.revision`,
  both in autocommit mode (``isolation_level=None``), so transactions are opened by hand.
- A write transaction takes the cross-process :class:`~.sqlite_wal.WriteLock`, then runs
  ``BEGIN IMMEDIATE`` ... ``COMMIT``. Writers that do not take the lock (the ``sqlite3`` shell,
  for one) may still hold SQLite's own: ``BEGIN IMMEDIATE`` is then tried again after short
  sleeps of the event loop, never by SQLite's busy handler, which would sleep on the loop.
- Every wait (the lock, ``BEGIN``, a busy reader) ends within the store's ``timeout``: the unit
  then fails with ``STORE_UNAVAILABLE`` and nothing of it is written.
- Inside one process an :class:`asyncio.Lock` keeps coroutines from interleaving transactions on
  the shared connection.
- A background :class:`~.sqlite_wal.Checkpointer` keeps WAL checkpoints off the write path.

A transaction holds the write lock of every process until it ends, so use cases keep outside I/O
(webhooks, HTTP calls) out of their transactions. Open the store after forking, never before.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from openleash.store.chain import AuditCheckpointRule
from openleash.store.migrate import migrate
from openleash.store.sql import queries as q
from openleash.store.sql.availability import (
    DEFAULT_TIMEOUT_SECONDS,
    StoreTimeoutError,
    unavailable,
)
from openleash.store.sql.sqlite_tx import SqliteTransaction
from openleash.store.sql.sqlite_wal import OPEN_FLAGS, Checkpointer, WriteLock, lock_path
from openleash.store.sql.store_base import StoreBase, UnitBase, take_turn

__all__ = ["AuditCheckpointRule", "SqliteStore", "SqliteTransaction"]

T = TypeVar("T")

#: ``RETURNING`` arrived in 3.35 (upserts in 3.24).
MIN_SQLITE_VERSION = (3, 35, 0)
#: Seconds SQLite itself waits for a lock while the store opens (migrations, before serving).
OPEN_BUSY_TIMEOUT_SECONDS = 5.0
#: Sleeps between attempts at a lock that SQLite reports busy: the first, and the longest.
BUSY_FIRST_SLEEP_SECONDS = 0.001
BUSY_MAX_SLEEP_SECONDS = 0.05
#: SQLite's primary result codes for a lock held by another connection.
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
#: Seconds between background checkpoints.
CHECKPOINT_INTERVAL_SECONDS = 0.1
#: WAL pages (of 4 KiB) after which the background checkpoint takes the write lock to catch up,
#: so that the WAL starts over from its beginning.
REWIND_PAGES = 16_000
#: WAL pages after which a commit checkpoints by itself, should the background checkpoints fall
#: behind. SQLite's default is 1000.
AUTOCHECKPOINT_PAGES = 50_000


def _writer(path: Path, lock: WriteLock) -> sqlite3.Connection:
    """The writing connection, the database in WAL mode and its schema up to date (under the
    write lock: another process may be opening the same file)."""
    conn = _connect(path)
    try:
        lock.acquire()
        try:
            _enable_wal(conn)
            migrate(conn)
        finally:
            lock.release()
        # INVARIANT: from here on SQLite never waits for a lock by itself: it would wait on
        # the event loop. The store retries busy locks with sleeps of the loop instead.
        conn.execute("PRAGMA busy_timeout = 0")
    except BaseException:
        conn.close()
        raise
    return conn


class SqliteStore(StoreBase[SqliteTransaction]):
    """The :class:`~openleash.service.ports.Store` over one SQLite file. Open with :meth:`open`."""

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        reader: sqlite3.Connection,
        lock: WriteLock,
        checkpointer: Checkpointer | None,
        audit_checkpoints: AuditCheckpointRule | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(audit_checkpoints=audit_checkpoints, timeout=timeout)
        self.path = path
        self._conn = conn
        self._reader = reader
        self._lock = lock
        self._checkpointer = checkpointer
        # INVARIANT: neither guard is re-entrant; a task holding one never asks for either.
        self._guard = asyncio.Lock()
        self._read_guard = asyncio.Lock()

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        checkpoint_interval: float | None = CHECKPOINT_INTERVAL_SECONDS,
        audit_checkpoints: AuditCheckpointRule | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> SqliteStore:
        """Open (creating the file and its folder if needed) and bring the schema up to date.

        ``checkpoint_interval=None`` leaves WAL checkpoints to SQLite (inside commits).
        ``audit_checkpoints`` says when appends sign a checkpoint of the audit chain.
        ``timeout`` bounds every wait of a unit of work, in seconds.
        """
        if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
            raise RuntimeError(f"SQLite {sqlite3.sqlite_version} is too old; 3.35 or newer needed")
        if checkpoint_interval is not None and checkpoint_interval <= 0:
            raise ValueError("checkpoint_interval must be positive (or None)")
        path = Path(path).expanduser()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The store holds private keys and webhook secrets, so the file is private from the
        # start (SQLite gives the -wal and -shm files the same permissions).
        os.close(os.open(path, OPEN_FLAGS, 0o600))
        lock = WriteLock(lock_path(path))
        opened: list[sqlite3.Connection] = []
        try:
            opened.append(conn := _writer(path, lock))
            opened.append(reader := _connect(path))
            reader.execute("PRAGMA query_only = ON")
            reader.execute("PRAGMA busy_timeout = 0")
            checkpointer = None
            if checkpoint_interval is not None:
                conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES:d}")
                checkpointer = Checkpointer(
                    path,
                    WriteLock(lock_path(path)),
                    interval=checkpoint_interval,
                    rewind_pages=REWIND_PAGES,
                )
        except BaseException:
            for c in opened:
                c.close()
            lock.close()
            raise
        return cls(path, conn, reader, lock, checkpointer, audit_checkpoints, timeout=timeout)

    def _unit(self, *, record: bool) -> _Unit:
        return _Unit(self, record=record)

    def read(self) -> _ReadUnit:
        return _ReadUnit(self)

    async def revision(self) -> int:
        # Read inside an open read unit, it would answer that unit's old snapshot.
        self._holders.check("the revision")
        deadline = asyncio.get_running_loop().time() + self.timeout
        row = await _retry_busy(lambda: self._reader.execute(q.REVISION).fetchone(), self, deadline)
        return int(row[0])

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        self._reader.close()
        self._conn.close()
        self._lock.close()


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, timeout=OPEN_BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    # NORMAL in WAL mode: a commit survives a crash of the process; a power cut may lose the
    # last transactions but never corrupts the file.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    # Persistent in the file; switching needs exclusive access, hence under the write lock.
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise RuntimeError(
            f"SQLite refused WAL mode (journal_mode is {mode!r}); is it a local disk?"
        )


def _busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)


async def _retry_busy(attempt: Callable[[], T], store: SqliteStore, deadline: float) -> T:
    """``attempt()``, tried again after short sleeps of the event loop while another connection
    holds the lock it needs, until ``deadline`` (the loop's clock). Never blocks the loop."""
    loop = asyncio.get_running_loop()
    pause = BUSY_FIRST_SLEEP_SECONDS
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise unavailable(exc) from exc
            if loop.time() + pause > deadline:
                raise StoreTimeoutError(store.timeout) from exc
        await asyncio.sleep(pause)
        pause = min(pause * 2, BUSY_MAX_SLEEP_SECONDS)


class _Unit(UnitBase[SqliteStore, SqliteTransaction]):
    """``async with store.transaction() as tx``: commit on normal exit, roll back on an error.

    Entering waits at most the store's ``timeout`` for this process's turn, the cross-process
    lock and SQLite's own; then :class:`~.availability.StoreTimeoutError`, and nothing was begun."""

    __slots__ = ()

    async def __aenter__(self) -> SqliteTransaction:
        store = self._store
        # Waiting would never end if this task holds the guard it would wait for.
        store._holders.check("a transaction")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + store.timeout
        await take_turn(store._guard, deadline, store.timeout)
        try:
            try:
                await store._lock.acquire_async(deadline - loop.time())
            except TimeoutError:
                raise StoreTimeoutError(store.timeout) from None
            try:
                await _retry_busy(_begin_immediate(store._conn), store, deadline)
            except BaseException:
                store._lock.release()
                raise
        except BaseException:
            store._guard.release()
            raise
        self._task = store._holders.enter("transaction")
        self._tx = SqliteTransaction(store._conn, store.audit_checkpoints)
        return self._tx

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        store = self._store
        conn = store._conn
        bumped = self._tx is not None and self._tx.bumped
        if self._tx is not None:
            self._tx.end()
        try:
            if exc is None:
                conn.execute("COMMIT")
                store._committed(bumped)
        except sqlite3.OperationalError as failure:
            exc = failure
        finally:
            try:
                # Some errors (disk full, I/O) end the transaction by themselves.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            finally:
                store._holders.leave(self._task)
                store._lock.release()
                store._guard.release()
        if isinstance(exc, sqlite3.OperationalError):
            error = unavailable(exc)
            store._outcome(self._record, error)
            raise error from exc
        store._outcome(self._record, exc)


def _begin_immediate(conn: sqlite3.Connection) -> Callable[[], object]:
    return lambda: conn.execute("BEGIN IMMEDIATE")


class _ReadUnit(UnitBase[SqliteStore, SqliteTransaction]):
    """``async with store.read() as tx``: one consistent snapshot on the read-only connection.

    It takes no write lock, so reads never hold up writers in any process; a write attempted
    through it fails (the connection is ``query_only``)."""

    __slots__ = ()

    async def __aenter__(self) -> SqliteTransaction:
        store = self._store
        store._holders.check("a read")
        reader = store._reader
        deadline = asyncio.get_running_loop().time() + store.timeout
        await take_turn(store._read_guard, deadline, store.timeout)
        try:
            reader.execute("BEGIN")
            # The snapshot starts with the first read: taken here, where a busy lock (another
            # connection recovering the WAL, one in exclusive mode) can be waited for off the
            # loop's back, rather than in whichever statement comes first.
            await _retry_busy(lambda: reader.execute(q.REVISION).fetchone(), store, deadline)
        except BaseException as exc:
            if reader.in_transaction:
                reader.execute("ROLLBACK")
            store._read_guard.release()
            if isinstance(exc, sqlite3.OperationalError):
                raise unavailable(exc) from exc
            raise
        self._task = store._holders.enter("read")
        self._tx = SqliteTransaction(reader)
        return self._tx

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        store = self._store
        if self._tx is not None:
            self._tx.end()
        try:
            if store._reader.in_transaction:
                store._reader.execute("COMMIT")
        finally:
            store._holders.leave(self._task)
            store._read_guard.release()
