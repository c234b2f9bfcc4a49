"""The audit hash chain on PostgreSQL, extended inside one write transaction (docs/audit.md).

The records and checkpoints are those of the SQLite store, value for value: the same
``rows.chained_event_params`` computes each hash, the same :class:`AuditCheckpointRule` says
when a checkpoint is due, and the same key signs it. ``openleash audit verify`` therefore reads
either store alike.

INVARIANT: every write transaction holds the write lock of all replicas from its start (see
:mod:`openleash.store.sql.postgres`), so the head read once here cannot move until the
transaction ends, and seq follows the chain with no gaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openleash.crypto import GENESIS_HASH, sign_checkpoint
from openleash.domain.models import AuditEvent
from openleash.store.sql import queries as q
from openleash.store.sql import rows
from openleash.store.sql.postgres_queries import pg
from openleash.store.sql.sqlite_chain import AuditCheckpointRule

if TYPE_CHECKING:
    from openleash.store.sql.postgres_tx import Conn


@dataclass(frozen=True, slots=True)
class Prepared:
    """Audit rows chained and ready to insert: parameters of ``queries.APPEND_CHAINED``."""

    params: list[tuple[Any, ...]]
    seq: int
    head: str
    due: list[tuple[int, str, str]]


class ChainWriter:
    """The chain's state in one write transaction. :meth:`forget` after a partial rollback."""

    __slots__ = ("_hash", "_loaded", "_next_at", "_rule", "_seq")

    def __init__(self, rule: AuditCheckpointRule) -> None:
        self._rule = rule
        self._loaded = False
        self._seq = 0
        self._hash = GENESIS_HASH
        self._next_at: str | None = None

    def forget(self) -> None:
        """Read the head again on the next append: a ``ROLLBACK TO SAVEPOINT`` may have undone
        records or checkpoints this object counted."""
        self._loaded = False

    async def append(self, db: Conn, events: Sequence[AuditEvent]) -> None:
        prepared = await self.prepare(db, events)
        await db.executemany(pg(q.APPEND_CHAINED), prepared.params)
        await self.appended(db, prepared)

    async def prepare(self, db: Conn, events: Sequence[AuditEvent]) -> Prepared:
        """The rows of ``events`` chained after the head; nothing is written or advanced."""
        if not self._loaded:
            await self._load(db)
        rule, next_at = self._rule, self._next_at
        seq, head = self._seq, self._hash
        params: list[tuple[Any, ...]] = []
        due: list[tuple[int, str, str]] = []
        for event in events:
            seq += 1
            values, head = rows.chained_event_params(event, seq, head)
            params.append(values)
            if rule.due(seq, event, next_at):
                due.append((seq, head, event.timestamp))
                next_at = rule.next_at(event.timestamp) or next_at
        return Prepared(params, seq, head, due)

    async def appended(self, db: Conn, prepared: Prepared) -> None:
        """Advance the head past rows of :meth:`prepare` that are in, and sign the checkpoints
        they made due."""
        # INVARIANT: advanced only once the rows are in; a failed insert leaves the head alone.
        self._seq, self._hash = prepared.seq, prepared.head
        for at_seq, at_hash, created_at in prepared.due:
            if await self._checkpoint(db, at_seq, at_hash, created_at):
                self._next_at = self._rule.next_at(created_at) or self._next_at

    async def _load(self, db: Conn) -> None:
        head = await db.fetchrow(pg(q.CHAIN_HEAD))
        seq, last_hash, checkpointed_at = (None, None, None) if head is None else head
        self._seq = seq or 0
        # Records of a store older than the chain have empty hashes: the chain goes on from
        # there (verification reports them as not chained).
        self._hash = GENESIS_HASH if seq is None else str(last_hash)
        self._next_at = None if checkpointed_at is None else self._rule.next_at(checkpointed_at)
        self._loaded = True

    async def _checkpoint(self, db: Conn, seq: int, head: str, created_at: str) -> bool:
        # Looked up each time (rarely: once per checkpoint), never cached: a unit earlier in
        # this same transaction may have rotated the key.
        found = await db.fetchrow(pg(q.ACTIVE_SIGNING_KEY))
        if found is None:
            return False  # no server key yet: the next record after one exists is checkpointed
        kid, private_key_b64 = found
        signature = sign_checkpoint(
            private_key_b64, seq=seq, head_hash=head, kid=kid, created_at=created_at
        )
        await db.execute(pg(q.ADD_CHECKPOINT), seq, head, kid, signature, created_at)
        return True
