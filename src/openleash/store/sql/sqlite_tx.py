"""The repositories of one SQLite transaction: :class:`~.repositories.SqlRepositories` over the
open ``sqlite3`` connection, plus what is SQLite's own (the audit chain's writer, recording an
allowed action in two statements)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from openleash.domain.models import AllowedAction, AuditEvent
from openleash.store.chain import AuditCheckpointRule
from openleash.store.sql import queries as q
from openleash.store.sql.availability import is_unavailable, unavailable
from openleash.store.sql.repositories import Row, SqlRepositories
from openleash.store.sql.sqlite_chain import ChainWriter


class SqliteTransaction(SqlRepositories):
    """Every repository of :class:`~openleash.service.ports.Transaction` over one open
    ``BEGIN IMMEDIATE`` transaction. Unusable once the transaction has ended.

    The primitives run each statement at once: ``sqlite3`` blocks, and a statement on the local
    file takes microseconds, less than handing it to a thread would. (No statement here waits
    for a lock: the transaction holds the write lock, or reads a snapshot it already has.)
    A failure of the file itself (disk full, I/O error, read-only) is ``STORE_UNAVAILABLE``;
    constraint violations stay ``sqlite3.IntegrityError`` for the repositories to judge."""

    __slots__ = ("_chain", "_conn")

    def __init__(
        self, conn: sqlite3.Connection, audit_checkpoints: AuditCheckpointRule | None = None
    ) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._chain = ChainWriter(audit_checkpoints or AuditCheckpointRule())

    def end(self) -> None:
        """Called by the store when the transaction commits or rolls back."""
        self._conn = None

    def poisoned(self, exc: BaseException) -> bool:
        """Never: every unit has its savepoint, and SQLite keeps a transaction usable after a
        refused statement (the failures that end it are :meth:`broken`)."""
        return False

    def broken(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the file's failure rather than the unit's: then the whole
        transaction is in doubt (SQLite ends some of them by itself: disk full, I/O)."""
        return is_unavailable(exc) or isinstance(exc, sqlite3.OperationalError)

    # -- units of a group-commit batch (:mod:`.batch`) ----------------------------------------

    async def begin_unit(self) -> None:
        self._db().execute("SAVEPOINT unit")

    def unit_succeeded(self) -> None:
        self._db().execute("RELEASE unit")

    async def unit_failed(self) -> None:
        db = self._db()
        db.execute("ROLLBACK TO unit")
        db.execute("RELEASE unit")
        # INVARIANT: the unit's audit records are gone, so the chain head this transaction
        # cached must be read again before the next unit appends.
        self._chain.forget()

    def _db(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            # INVARIANT: nothing runs outside the transaction (and its lock) it was meant for.
            raise RuntimeError("the transaction has ended")
        return conn

    # -- the primitives -------------------------------------------------------------------------

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            return self._db().execute(sql, params).rowcount
        except sqlite3.OperationalError as exc:
            raise unavailable(exc) from exc

    async def _run_many(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        try:
            self._db().executemany(sql, params)
        except sqlite3.OperationalError as exc:
            raise unavailable(exc) from exc

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        try:
            row: Row | None = self._db().execute(sql, params).fetchone()
        except sqlite3.OperationalError as exc:
            raise unavailable(exc) from exc
        return row

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return self._db().execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise unavailable(exc) from exc

    async def _value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self._db().execute(sql, params).fetchone()[0]
        except sqlite3.OperationalError as exc:
            raise unavailable(exc) from exc

    # -- SQLite's own ---------------------------------------------------------------------------

    async def append(self, events: Sequence[AuditEvent]) -> None:
        """Chained in seq order: see :mod:`openleash.store.sql.sqlite_chain`."""
        if events:
            try:
                self._chain.append(self._db(), events)
            except sqlite3.OperationalError as exc:
                raise unavailable(exc) from exc

    async def record_allowed(self, action: AllowedAction) -> None:
        try:
            self._record_allowed(self._db(), action)
        except sqlite3.OperationalError as exc:
            raise unavailable(exc) from exc

    @staticmethod
    def _record_allowed(db: sqlite3.Connection, action: AllowedAction) -> None:
        amount = action.amount_minor or 0
        stream_id, total_amount, total_count, at_ms = db.execute(
            q.ADD_TO_STREAM,
            (
                action.owner_id,
                action.agent_principal_id,
                action.action_type,
                action.currency or "",
                action.counterparty or "",
                amount,
                action.at_ms,
            ),
        ).fetchone()
        db.execute(
            q.RECORD_ALLOWED,
            (stream_id, action.decision_id, action.amount_minor, at_ms, total_amount, total_count),
        )
