"""The SQLite store: one file, any number of processes writing at once.

How processes share the file:

- WAL journal: readers never wait for writers and see the last committed state.
- Each process keeps one connection for transactions and one for :meth:`SqliteStore.revision`,
  both in autocommit mode (``isolation_level=None``), so transactions are opened by hand.
- A write transaction takes the cross-process :class:`~.sqlite_wal.WriteLock`, then runs
  ``BEGIN IMMEDIATE`` ... ``COMMIT``. ``busy_timeout`` stays as a safety net for writers that
  do not take the lock (the ``sqlite3`` shell, for one).
- Inside one process an :class:`asyncio.Lock` keeps coroutines from interleaving transactions on
  the shared connection.
- A background :class:`~.sqlite_wal.Checkpointer` keeps WAL checkpoints off the write path.

A transaction holds the write lock of every process until it ends, so use cases keep outside I/O
(webhooks, HTTP calls) out of their transactions. Open the store after forking, never before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from openleash.domain.errors import OpenLeashError
from openleash.store.migrate import migrate
from openleash.store.sql import queries as q
from openleash.store.sql.batch import BatchWriter
from openleash.store.sql.chain import AuditCheckpointRule
from openleash.store.sql.nesting import UnitHolders
from openleash.store.sql.sqlite_tx import SqliteTransaction
from openleash.store.sql.sqlite_wal import OPEN_FLAGS, Checkpointer, WriteLock, lock_path

__all__ = ["AuditCheckpointRule", "SqliteStore", "SqliteTransaction"]

T = TypeVar("T")

#: ``RETURNING`` arrived in 3.35 (upserts in 3.24).
MIN_SQLITE_VERSION = (3, 35, 0)
#: Seconds SQLite itself waits for a lock before reporting "database is locked".
BUSY_TIMEOUT_SECONDS = 5.0
#: Seconds between background checkpoints.
CHECKPOINT_INTERVAL_SECONDS = 0.1
#: WAL pages (of 4 KiB) after which the background checkpoint takes the write lock to catch up,
#: so that the WAL starts over from its beginning.
REWIND_PAGES = 16_000
#: WAL pages after which a commit checkpoints by itself, should the background checkpoints fall
#: behind. SQLite's default is 1000.
AUTOCHECKPOINT_PAGES = 50_000

log = logging.getLogger("openleash")


class SqliteStore:
    """The :class:`~openleash.service.ports.Store` over one SQLite file. Open with :meth:`open`."""

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        reader: sqlite3.Connection,
        lock: WriteLock,
        checkpointer: Checkpointer | None,
        audit_checkpoints: AuditCheckpointRule | None = None,
    ) -> None:
        self.path = path
        self.audit_checkpoints = audit_checkpoints or AuditCheckpointRule()
        self._conn = conn
        self._reader = reader
        self._lock = lock
        self._checkpointer = checkpointer
        self._guard = asyncio.Lock()
        self._read_guard = asyncio.Lock()
        self._local_revision = 0
        # INVARIANT: neither guard is re-entrant; a task holding one never asks for either.
        self._holders = UnitHolders()
        self._batch: BatchWriter[SqliteTransaction] = BatchWriter(self.transaction)

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        checkpoint_interval: float | None = CHECKPOINT_INTERVAL_SECONDS,
        audit_checkpoints: AuditCheckpointRule | None = None,
    ) -> SqliteStore:
        """Open (creating the file and its folder if needed) and bring the schema up to date.

        ``checkpoint_interval=None`` leaves WAL checkpoints to SQLite (inside commits).
        ``audit_checkpoints`` says when appends sign a checkpoint of the audit chain.
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
            opened.append(conn := _connect(path))
            lock.acquire()
            try:
                _enable_wal(conn)
                migrate(conn)
            finally:
                lock.release()
            opened.append(reader := _connect(path))
            reader.execute("PRAGMA query_only = ON")
            if checkpoint_interval is not None:
                conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES:d}")
                checkpointer = Checkpointer(
                    path,
                    WriteLock(lock_path(path)),
                    interval=checkpoint_interval,
                    rewind_pages=REWIND_PAGES,
                )
            else:
                checkpointer = None
        except BaseException:
            for c in opened:
                c.close()
            lock.close()
            raise
        return cls(path, conn, reader, lock, checkpointer, audit_checkpoints)

    def transaction(self) -> _Unit:
        return _Unit(self)

    def read(self) -> _ReadUnit:
        return _ReadUnit(self)

    async def submit(self, work: Callable[[SqliteTransaction], Awaitable[T]]) -> T:
        self._holders.check("a group-commit unit")
        return await self._batch.submit(work)

    async def revision(self) -> int:
        # Read inside an open read unit, it would answer that unit's old snapshot.
        self._holders.check("the revision")
        try:
            row = self._reader.execute(q.REVISION).fetchone()
        except sqlite3.OperationalError as exc:
            raise _unavailable(exc) from exc
        return int(row[0])

    def local_revision(self) -> int:
        return self._local_revision

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        self._reader.close()
        self._conn.close()
        self._lock.close()


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
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


def _unavailable(exc: sqlite3.OperationalError) -> OpenLeashError:
    # The database's text goes to the log, not to clients (it may name files and tables).
    log.warning("database unavailable: %.300s", exc)
    return OpenLeashError("STORE_UNAVAILABLE", "The database is unavailable; try again shortly")


class _Unit:
    """``async with store.transaction() as tx``: commit on normal exit, roll back on an error."""

    __slots__ = ("_store", "_task", "_tx")

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._tx: SqliteTransaction | None = None
        self._task: asyncio.Task[Any] | None = None

    async def __aenter__(self) -> SqliteTransaction:
        store = self._store
        # Waiting would never end if this task holds the guard it would wait for.
        store._holders.check("a transaction")
        await store._guard.acquire()
        try:
            await store._lock.acquire_async()
            try:
                store._conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                store._lock.release()
                raise
        except sqlite3.OperationalError as exc:
            store._guard.release()
            raise _unavailable(exc) from exc
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
                if bumped:
                    store._local_revision += 1
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
            raise _unavailable(exc) from exc


class _ReadUnit:
    """``async with store.read() as tx``: one consistent snapshot on the read-only connection.

    It takes no write lock, so reads never hold up writers in any process; a write attempted
    through it fails (the connection is ``query_only``)."""

    __slots__ = ("_store", "_task", "_tx")

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._tx: SqliteTransaction | None = None
        self._task: asyncio.Task[Any] | None = None

    async def __aenter__(self) -> SqliteTransaction:
        store = self._store
        store._holders.check("a read")
        await store._read_guard.acquire()
        try:
            store._reader.execute("BEGIN")
        except sqlite3.OperationalError as exc:
            store._read_guard.release()
            raise _unavailable(exc) from exc
        self._task = store._holders.enter("read")
        self._tx = SqliteTransaction(store._reader)
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
