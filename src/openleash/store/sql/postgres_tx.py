"""The repositories of one PostgreSQL transaction: :class:`~.repositories.SqlRepositories` over
one pooled ``asyncpg`` connection, plus what is PostgreSQL's own (the audit chain's writer,
recording an allowed action in one round trip, and the savepoints of group commit).

The primitives run the shared statements of :mod:`openleash.store.sql.queries` with their
placeholders numbered (:func:`~.postgres_queries.pg`); statements that PostgreSQL spells
differently are in :mod:`openleash.store.sql.postgres_queries`.

Write transactions hold the write lock of every replica (see :mod:`.postgres`), so a read
followed by a write here sees no other writer in between, as on SQLite. Statements that must
decide alone under concurrency anyway (nonces, invites, approvals, challenges) are single
conditional statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from openleash.domain.errors import InvalidInputError
from openleash.domain.models import AllowedAction, AuditEvent, HeldDecision
from openleash.service.ports import NonceUse, nonce_replay
from openleash.store.chain import AuditCheckpointRule
from openleash.store.sql import postgres_queries as pq
from openleash.store.sql import queries as q
from openleash.store.sql import rows
from openleash.store.sql.availability import is_unavailable
from openleash.store.sql.postgres_chain import ChainWriter
from openleash.store.sql.postgres_queries import pg, refuse_nul
from openleash.store.sql.repositories import Row, SqlRepositories, next_purge_turn

#: A connection of the store's pool.
Conn: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"

#: Failures of the database or the way to it (rather than of a statement): reported as
#: ``STORE_UNAVAILABLE``, as the SQLite store reports a locked or unreadable file.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
)

#: The server's own time limits (``statement_timeout``, ``lock_timeout``) and the client's
#: (``TimeoutError``): reported as :class:`~.availability.StoreTimeoutError`.
TIMED_OUT: tuple[type[BaseException], ...] = (
    TimeoutError,
    asyncpg.QueryCanceledError,
    asyncpg.LockNotAvailableError,
)

#: What asyncpg raises for a statement on a connection that is gone: an interface error, or,
#: when the loss arrives while the statement is being sent, an error of its protocol state.
LOST_CONNECTION = (asyncpg.InterfaceError, asyncpg.InternalClientError)


def changed(status: str) -> int:
    """Rows a statement changed, from its command tag (``"UPDATE 1"``, ``"INSERT 0 1"``)."""
    _, _, count = status.rpartition(" ")
    return int(count) if count.isdigit() else 0


class PostgresTransaction(SqlRepositories):
    """Every repository of :class:`~openleash.service.ports.Transaction` over one open
    transaction on one pooled connection. Unusable once the transaction has ended."""

    __slots__ = ("_chain", "_conn", "_in_unit", "_unit_done", "_unit_savepoint")

    def __init__(self, conn: Conn, audit_checkpoints: AuditCheckpointRule | None = None) -> None:
        self._conn: Conn | None = conn
        self._chain = ChainWriter(audit_checkpoints or AuditCheckpointRule())
        #: In a group-commit unit; that unit has its savepoint; a savepoint is open (this
        #: unit's, or an earlier successful unit's, released with the next one opened).
        self._in_unit = False
        self._unit_savepoint = False
        self._unit_done = False

    def end(self) -> None:
        """Called by the store when the transaction commits or rolls back."""
        self._conn = None

    def broken(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the database's failure (or its time limit's) rather than the
        unit's: then the whole transaction is in doubt."""
        return is_unavailable(exc) or isinstance(exc, UNAVAILABLE + TIMED_OUT + LOST_CONNECTION)

    def poisoned(self, exc: BaseException) -> bool:
        """Whether the unit's failure aborted the transaction: PostgreSQL refused one of its
        statements (``exc`` or what it was raised from) and the unit has no savepoint to roll
        back to (it only recorded a decision, in one statement)."""
        return not self._unit_savepoint and _refused_by_database(exc)

    # -- units of a group-commit batch (:mod:`.batch`) --------------------------------------------

    async def begin_unit(self) -> None:
        """Start the next unit. Its savepoint is opened with its first statement (releasing the
        one before it, if that unit succeeded, in the same round trip); a unit that only
        records a decision needs none (see :meth:`record_decision`)."""
        self._in_unit = True
        self._unit_savepoint = False

    def unit_succeeded(self) -> None:
        """Keep the unit's work. Its savepoint is released by the next unit's, or by COMMIT
        (which releases every savepoint): no round trip of its own."""
        self._in_unit = False

    async def unit_failed(self) -> None:
        """Undo the unit (this also clears a failed statement's abort of the transaction)."""
        self._in_unit = False
        if not self._unit_savepoint:
            return  # it wrote nothing: its only statement was a refused, self-gated record
        await self._db().execute("ROLLBACK TO SAVEPOINT unit; RELEASE SAVEPOINT unit")
        self._unit_done = False  # no savepoint is open any more
        # INVARIANT: the unit's audit records are gone, so the chain head cached for this
        # transaction must be read again before the next unit appends.
        self._chain.forget()

    async def _statement_db(self) -> Conn:
        """The connection for a unit's next statement, its savepoint opened first if due."""
        db = self._db()
        if self._in_unit and not self._unit_savepoint:
            if self._unit_done:
                await db.execute("RELEASE SAVEPOINT unit; SAVEPOINT unit")
            else:
                await db.execute("SAVEPOINT unit")
            self._unit_savepoint = True
            self._unit_done = True  # a savepoint is open (this unit's)
        return db

    def _db(self) -> Conn:
        conn = self._conn
        if conn is None:
            # INVARIANT: nothing runs outside the transaction (and its lock) it was meant for.
            raise RuntimeError("the transaction has ended")
        return conn

    # -- the primitives -------------------------------------------------------------------------

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        refuse_nul(params)
        with _within_limits():
            return changed(await (await self._statement_db()).execute(pg(sql), *params))

    async def _run_many(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        rows = list(params)
        for row in rows:
            refuse_nul(row)
        with _within_limits():
            await (await self._statement_db()).executemany(pg(sql), rows)

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        refuse_nul(params)
        row = await (await self._statement_db()).fetchrow(pg(sql), *params)
        return None if row is None else tuple(row)

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        refuse_nul(params)
        return [tuple(row) for row in await (await self._statement_db()).fetch(pg(sql), *params)]

    async def _value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        refuse_nul(params)
        return await (await self._statement_db()).fetchval(pg(sql), *params)

    # -- PostgreSQL's own -----------------------------------------------------------------------

    async def append(self, events: Sequence[AuditEvent]) -> None:
        """Chained in seq order: see :mod:`openleash.store.sql.postgres_chain`."""
        if events:
            await self._chain.append(await self._statement_db(), events)

    async def record_decision(
        self,
        *,
        nonce: NonceUse | None,
        allowed: AllowedAction | None,
        held: HeldDecision | None,
        events: Sequence[AuditEvent],
    ) -> None:
        """Everything in one statement, one round trip: on PostgreSQL the write lock of every
        replica is held meanwhile, so round trips, not rows, bound the throughput. Every row
        of the statement is written only if the nonce was fresh, so when it is a unit's first
        statement the unit needs no savepoint (another round trip): refused, it wrote nothing."""
        if nonce is None:
            await super().record_decision(nonce=None, allowed=allowed, held=held, events=events)
            return
        db = self._db()
        prepared = await self._chain.prepared(db, events)
        params: list[Any] = [nonce.agent_id, nonce.nonce, nonce.expires_ms, nonce.now_ms]
        if allowed is not None:
            params += [*_stream_params(allowed), allowed.decision_id, allowed.amount_minor]
        if held is not None:
            params += rows.held_params(held)
        for row in prepared.rows:
            params += row
        statement = pq.decision_statement(allowed is not None, held is not None, len(events))
        # Before the statement: refused by PostgreSQL, it would abort the batch's transaction.
        refuse_nul(params)
        with _within_limits():  # refused, it aborts the batch's transaction: see poisoned()
            recorded = await db.fetchval(statement, *params)
        if not recorded:
            raise nonce_replay()  # nothing was written; raising abandons the unit
        await self._chain.appended(db, prepared)
        if next_purge_turn():
            await self._run(q.PURGE_SOME_NONCES, (nonce.now_ms, q.PURGE_PER_TURN))

    async def record_allowed(self, action: AllowedAction) -> None:
        """The stream's upsert and the action's row in one statement (one round trip)."""
        params = (*_stream_params(action), action.decision_id, action.amount_minor)
        refuse_nul(params)
        await (await self._statement_db()).execute(pq.RECORD_ALLOWED, *params)


def _refused_by_database(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was raised while handling, an error PostgreSQL answered."""
    seen: BaseException | None = exc
    for _ in range(8):  # a chain of causes is short; the bound guards against a cycle
        if seen is None:
            return False
        if isinstance(seen, asyncpg.PostgresError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextmanager
def _within_limits() -> Iterator[None]:
    """Around a write: a value past one of PostgreSQL's limits (an index entry over about
    2.7 kB: a long webhook URL in a multi-byte script) is the sender's input to refuse (400),
    not a fault of the server. The statement failed, so the unit ends here and rolls back."""
    try:
        yield
    except asyncpg.ProgramLimitExceededError:
        raise InvalidInputError(
            "INVALID_REQUEST", "A value of the request is too long to be stored; shorten it"
        ) from None


#: The most bytes the text of a usage stream's unique key may hold. PostgreSQL's B-tree refuses
#: an entry past about 2.7 kB, and the key holds the action type and the counterparty an agent
#: wrote (an ``action: "*"`` rule, a long host name); refused before the statement, whose failure
#: would abort the transaction of every decision in its group-commit batch.
MAX_STREAM_KEY_BYTES = 2400


def _stream_params(action: AllowedAction) -> tuple[Any, ...]:
    """The parameters of ``ADD_TO_STREAM`` for an allowed action; ``INVALID_REQUEST`` when its
    key is too long to index."""
    key = (
        action.owner_id,
        action.agent_principal_id,
        action.action_type,
        action.currency or "",
        action.counterparty or "",
    )
    if sum(len(text.encode()) for text in key) > MAX_STREAM_KEY_BYTES:
        raise InvalidInputError(
            "INVALID_REQUEST",
            "The action's action_type and counterparty are too long to be counted by the "
            f"limits (at most about {MAX_STREAM_KEY_BYTES} bytes together); shorten them",
        )
    return (*key, action.amount_minor or 0, action.at_ms)
