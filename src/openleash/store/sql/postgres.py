"""The PostgreSQL store: one database shared by any number of processes and replicas.

How replicas share the database:

- A pool of ``asyncpg`` connections per process, made in the event loop that uses the store
  (open the store in that loop, and after forking, never before).
- A write transaction runs ``BEGIN ISOLATION LEVEL READ COMMITTED`` and takes the transaction
  advisory lock :data:`~.postgres_queries.WRITE_LOCK_KEY` as its first statement: writers of
  every replica take turns, as SQLite's writers do with its file lock, so the audit chain
  follows seq order and a limit's check-and-record is exact. The lock goes at commit or
  rollback.
- Every write transaction takes it, first, rather than only those that go on to append audit
  records or count usage (nearly all of them do anyway). Taken later, it could deadlock: a
  writer holding a row (a nonce, the revision counter) waiting for the lock, while the holder
  of the lock waits for that row. Taken first, by all, no writer holds anything while waiting.
- Read committed is what makes the lock enough: each statement after it sees everything the
  previous holders committed (a repeatable-read snapshot would be taken before the wait).
- Inside one process an :class:`asyncio.Lock` queues write transactions, so waiting writers do
  not hold pool connections; reads (``REPEATABLE READ, READ ONLY``: one snapshot, taking no
  lock) run side by side on other connections of the pool.
- Every wait has a bound, the store's ``timeout``: taking a connection from the pool and
  connecting (``timeout=``), each statement (asyncpg's ``command_timeout``, and the server's
  ``statement_timeout`` should the cancel request not get through), and the write lock
  (``lock_timeout``). A unit that overruns fails with ``STORE_UNAVAILABLE``; its connection is
  dropped rather than rolled back over a link that may not answer, which makes the server roll
  it back, so nothing of it is written.
- The pool is sized by the store URL: ``?pool_size=N`` (most connections per process, at least
  2; default :data:`POOL_SIZE`) and ``?pool_min=N`` (kept open when idle; default 1), as in
  ``postgresql://openleash@db/openleash?pool_size=16``. Both are taken out of the URL before
  connecting (see :func:`pool_options`); every other parameter goes to asyncpg as written.

Differences from SQLite that callers may notice: a statement that fails (a constraint violation
raised to the caller) aborts the PostgreSQL transaction, so the unit of work must end with the
error; leaving it normally anyway raises rather than commit what is left. ``submit`` batches are
in :mod:`.batch`.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

import asyncpg

from openleash.domain.errors import InvalidInputError, OpenLeashError
from openleash.store.chain import AuditCheckpointRule
from openleash.store.sql import postgres_queries as pq
from openleash.store.sql import queries as q
from openleash.store.sql.availability import (
    DEFAULT_TIMEOUT_SECONDS,
    StoreTimeoutError,
    unavailable,
)
from openleash.store.sql.postgres_migrate import migrate
from openleash.store.sql.postgres_tx import (
    LOST_CONNECTION,
    TIMED_OUT,
    UNAVAILABLE,
    Conn,
    PostgresTransaction,
)
from openleash.store.sql.store_base import StoreBase, UnitBase, take_turn

__all__ = [
    "AuditCheckpointRule",
    "PostgresStore",
    "PostgresTransaction",
    "pool_options",
    "unavailable",
]

#: Connections per process. One serves write transactions (they take turns); the others serve
#: reads and :meth:`PostgresStore.revision`.
POOL_SIZE = 8
#: Connections kept open per process when idle.
POOL_MIN = 1
#: Seconds to wait when connecting to open the store before it is reported unavailable.
CONNECT_TIMEOUT_SECONDS = 10.0
#: How long the server lets a session of the store sit idle inside a transaction before ending
#: it, in store timeouts (at least a second). Use cases keep outside I/O out of transactions, so
#: only a stuck process, or one cut off from the server, waits this long; meanwhile it holds the
#: write lock of every replica.
IDLE_IN_TRANSACTION_TIMEOUTS = 2
#: PostgreSQL 13 brought what the schema relies on at the oldest (identity columns, partial
#: indexes and ``ON CONFLICT`` are older); older servers are out of support anyway.
MIN_SERVER_VERSION = 13

BEGIN_WRITE = f"BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE; {pq.LOCK_WRITERS}"
BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"


async def _create_pool(url: str, min_size: int, size: int, timeout: float) -> asyncpg.Pool:
    """The store's pool: every session bounds its own statements, lock waits and idle
    transactions, so a stalled client cannot hold up the writers of every replica."""
    return await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=size,
        timeout=min(timeout, CONNECT_TIMEOUT_SECONDS),
        command_timeout=timeout,
        reset=_keep_session,
        server_settings={
            "application_name": "openleash",
            # A process that stalls inside a transaction would hold up the writers of
            # every replica: the server ends such a session, and so frees the lock.
            "idle_in_transaction_session_timeout": _ms(
                max(1.0, IDLE_IN_TRANSACTION_TIMEOUTS * timeout)
            ),
            # Bounds the server keeps by itself, should the client's cancel request
            # not reach it; the lock's covers the wait for the writers' advisory lock.
            "statement_timeout": _ms(timeout),
            "lock_timeout": _ms(timeout),
        },
    )


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


class PostgresStore(StoreBase[PostgresTransaction]):
    """The :class:`~openleash.service.ports.Store` over one PostgreSQL database. Open with
    :meth:`open`."""

    def __init__(
        self,
        pool: asyncpg.Pool[asyncpg.Record],
        audit_checkpoints: AuditCheckpointRule | None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        # INVARIANT: a task holding a unit (a pooled connection) never asks for another: with
        # every connection held by such tasks, they would all wait for each other.
        super().__init__(audit_checkpoints=audit_checkpoints, timeout=timeout)
        self._pool = pool
        self._guard = asyncio.Lock()

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        pool_size: int | None = None,
        audit_checkpoints: AuditCheckpointRule | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> PostgresStore:
        """Connect to the database named by ``url`` (``postgresql://user@host:port/db``, as
        libpq reads it) and bring its schema up to date.

        The pool holds up to ``pool_size`` connections: the argument if given, else the URL's
        ``pool_size`` parameter, else :data:`POOL_SIZE`; the URL's ``pool_min`` (default
        :data:`POOL_MIN`) are kept open. ``audit_checkpoints`` says when appends sign a
        checkpoint of the audit chain. ``timeout`` bounds every wait of a unit of work, in
        seconds.
        """
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        url, size, min_size = pool_options(url)
        if pool_size is not None:
            size = pool_size
        if size < 2:
            raise ValueError("pool_size must be at least 2 (writes and reads have their own)")
        min_size = min(min_size, size)
        try:
            conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_SECONDS)
            try:
                await check_server(conn)
                await migrate(conn)
            finally:
                await conn.close()
            pool = await _create_pool(url, min_size, size, timeout)
        except UNAVAILABLE as exc:
            raise unavailable(exc) from exc
        return cls(pool, audit_checkpoints, timeout=timeout)

    def _unit(self, *, record: bool) -> _Unit:
        return _Unit(self, record=record)

    def read(self) -> _ReadUnit:
        return _ReadUnit(self)

    async def revision(self) -> int:
        self._holders.check("the revision")
        conn = await self._acquire(self._deadline())
        try:
            value = await conn.fetchval(pq.pg(q.REVISION))
        except BaseException as exc:
            await self._release(conn, exc)
            replacement = _failure(exc, conn, self.timeout)
            if replacement is not None:
                raise replacement from exc
            raise
        await self._release(conn)
        return int(value)

    async def close(self) -> None:
        try:
            # A graceful close waits for the server to answer; one that does not is cut off.
            await asyncio.wait_for(self._pool.close(), self.timeout)
        except TimeoutError:
            self._pool.terminate()

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.timeout

    @staticmethod
    def _left(deadline: float) -> float:
        return max(0.001, deadline - asyncio.get_running_loop().time())

    async def _acquire(self, deadline: float) -> Conn:
        """A pooled connection, within the deadline (connecting a new one included)."""
        try:
            return await self._pool.acquire(timeout=self._left(deadline))
        except UNAVAILABLE as exc:
            raise _failure(exc, None, self.timeout) or unavailable(exc) from exc

    async def _begin(self, begin: str, deadline: float) -> Conn:
        """A pooled connection in a new transaction (``begin`` is the statement that opens it).

        A pooled connection the server ended while it sat idle (a restart, a failover, an
        administrator) is only found out by using it; nothing was done on it yet, so the next
        one is tried, up to one more than the pool holds.
        """
        dead_ones = 0
        while True:
            conn = await self._acquire(deadline)
            try:
                await conn.execute(begin, timeout=self._left(deadline))
            except BaseException as exc:
                replacement = _failure(exc, conn, self.timeout)
                dead = replacement is not None and _lost(conn)
                await self._release(conn, exc)
                if dead and dead_ones < self._pool.get_max_size():
                    dead_ones += 1
                    continue
                if replacement is not None:
                    raise replacement from exc
                raise
            return conn

    async def _end(self, conn: Conn, commit: bool, failure: BaseException | None) -> None:
        """Commit or roll back, then give the connection back to the pool."""
        try:
            if commit:
                status = await _commit(conn)
                if status != "COMMIT":
                    # A statement failed earlier and the caller went on: PostgreSQL answers
                    # the COMMIT of an aborted transaction with ROLLBACK. Never report that
                    # as done.
                    raise RuntimeError(
                        "the transaction was rolled back: a statement in it had failed "
                        "(on PostgreSQL a failed statement ends the unit of work)"
                    )
        except UNAVAILABLE as exc:
            failure = exc
            raise _failure(exc, conn, self.timeout) or unavailable(exc) from exc
        finally:
            await self._release(conn, failure)

    async def _release(self, conn: Conn, failure: BaseException | None = None) -> None:
        """Roll back what is still open and give the connection back to the pool.

        After a timeout (or a cancellation) the connection is dropped instead: the server, or
        the way to it, did not answer in time, so a ``ROLLBACK`` would only wait as long again.
        Dropping it makes the server roll back."""
        try:
            if isinstance(failure, TimeoutError | asyncio.CancelledError):
                _drop(conn)
            elif conn.is_in_transaction():
                await conn.execute("ROLLBACK")
        except Exception:
            # The connection is lost or in an unknown state: dropping it makes the server roll
            # back, and the next transaction gets a fresh one. The error that ended the unit of
            # work, if any, is the one worth reporting.
            _drop(conn)
        except BaseException:
            _drop(conn)  # cancelled while rolling back: the same, then let it through
            raise
        finally:
            await self._pool.release(conn, timeout=self.timeout)


def pool_options(url: str) -> tuple[str, int, int]:
    """``(url without the pool parameters, pool_size, pool_min)``.

    ``pool_size`` must be at least 2 and ``pool_min`` at least 1 and at most ``pool_size``.
    The rest of the query string is kept as written (asyncpg would send parameters it does not
    know to the server as settings, which refuses these).
    """
    base, sep, query = url.partition("?")
    found: dict[str, str] = {}
    kept: list[str] = []
    for item in query.split("&") if sep else []:
        name, _, value = item.partition("=")
        if name in _POOL_PARAMETERS:
            found[name] = value
        elif item:
            kept.append(item)
    size = _pool_number(found, "pool_size", POOL_SIZE, 2)
    min_size = _pool_number(found, "pool_min", POOL_MIN, 1)
    if min_size > size:
        raise InvalidInputError(
            "VALIDATION_ERROR",
            f"store URL: pool_min ({min_size}) must not be more than pool_size ({size})",
        )
    return (f"{base}?{'&'.join(kept)}" if kept else base), size, min_size


_POOL_PARAMETERS = ("pool_size", "pool_min")


def _pool_number(found: dict[str, str], name: str, default: int, least: int) -> int:
    if name not in found:
        return default
    text = found[name]
    if not (text.isascii() and text.isdigit()) or int(text) < least:
        raise InvalidInputError(
            "VALIDATION_ERROR",
            f"store URL: {name} must be a whole number of at least {least}, got {text!r}",
        )
    return int(text)


def _drop(conn: Conn) -> None:
    # A connection that the server or the network closed is already back in the pool (which
    # replaces it): there is nothing left to drop.
    with contextlib.suppress(asyncpg.InterfaceError):
        conn.terminate()


async def _keep_session(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """Pool reset: nothing to undo. The store never changes session state (settings, session
    locks, listeners), and asyncpg rolls back any open transaction itself."""


async def check_server(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    version = conn.get_server_version()
    if version.major < MIN_SERVER_VERSION:
        raise RuntimeError(
            f"PostgreSQL {version.major}.{version.minor} is too old; "
            f"{MIN_SERVER_VERSION} or newer needed"
        )
    encoding = await conn.fetchval(pq.SERVER_ENCODING)
    if str(encoding).upper() not in ("UTF8", "UTF-8"):
        raise RuntimeError(
            f"the database's encoding is {encoding}; OpenLeash needs a UTF8 database "
            "(CREATE DATABASE ... ENCODING 'UTF8')"
        )


async def _commit(conn: Conn) -> str:
    try:
        return await conn.execute("COMMIT")
    except asyncpg.InterfaceError as exc:
        if _lost(conn):
            raise unavailable(exc) from exc
        raise
    # A COMMIT that times out may or may not have happened: the caller is told the store did
    # not answer, never that the unit was recorded.


def _lost(conn: Conn) -> bool:
    """Whether the connection of an open unit of work is gone. asyncpg hands a connection that
    the server or the network closed back to the pool by itself, and the unit's handle then
    refuses every call; the store never releases a connection before its unit ends."""
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:
        return True


def _failure(exc: BaseException | None, conn: Conn | None, seconds: float) -> OpenLeashError | None:
    """The exception to raise for one that ended a unit of work, if it is to be replaced."""
    if exc is None:
        return None
    if isinstance(exc, TIMED_OUT):
        return StoreTimeoutError(seconds)
    if isinstance(exc, UNAVAILABLE) or (
        isinstance(exc, LOST_CONNECTION) and conn is not None and _lost(conn)
    ):
        return unavailable(exc)
    return None


class _PooledUnit(UnitBase["PostgresStore", PostgresTransaction]):
    """A unit of work on a connection of the pool (once begun)."""

    __slots__ = ("_conn",)

    def __init__(self, store: PostgresStore, *, record: bool = True) -> None:
        super().__init__(store, record=record)
        self._conn: Conn | None = None


class _Unit(_PooledUnit):
    """``async with store.transaction() as tx``: commit on normal exit, roll back on an error.

    Entering waits at most the store's ``timeout`` for this process's turn, a connection and
    the writers' lock; then :class:`~.availability.StoreTimeoutError`, and nothing was begun."""

    __slots__ = ()

    async def __aenter__(self) -> PostgresTransaction:
        store = self._store
        # Waiting would never end if this task holds the guard or a connection already.
        store._holders.check("a transaction")
        deadline = store._deadline()
        await take_turn(store._guard, deadline, store.timeout)
        try:
            self._conn = await store._begin(BEGIN_WRITE, deadline)
        except BaseException:
            store._guard.release()
            raise
        self._task = store._holders.enter("transaction")
        self._tx = PostgresTransaction(self._conn, store.audit_checkpoints)
        return self._tx

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        store, conn = self._store, self._conn
        bumped = self._tx is not None and self._tx.bumped
        if self._tx is not None:
            self._tx.end()
        replacement = _failure(exc, conn, store.timeout)
        try:
            if conn is not None:
                await store._end(conn, exc is None, exc)
                if exc is None:
                    store._committed(bumped)
        except BaseException as failure:
            store._outcome(self._record, failure)
            raise
        finally:
            store._holders.leave(self._task)
            store._guard.release()
        store._outcome(self._record, replacement or exc)
        if replacement is not None:
            raise replacement from exc


class _ReadUnit(_PooledUnit):
    """``async with store.read() as tx``: one consistent snapshot on a pooled connection.

    It takes no lock, so reads never hold up writers in any replica; a write attempted through
    it fails (the transaction is ``READ ONLY``)."""

    __slots__ = ()

    async def __aenter__(self) -> PostgresTransaction:
        store = self._store
        store._holders.check("a read")
        self._conn = await store._begin(BEGIN_READ, store._deadline())
        self._task = store._holders.enter("read")
        self._tx = PostgresTransaction(self._conn)
        return self._tx

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tx is not None:
            self._tx.end()
        replacement = _failure(exc, self._conn, self._store.timeout)
        self._store._holders.leave(self._task)
        if self._conn is not None:
            # Nothing to keep: ending a read-only transaction either way is the same.
            await self._store._release(self._conn, exc)
        if replacement is not None:
            raise replacement from exc
