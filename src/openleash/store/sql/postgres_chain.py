"""The audit hash chain on PostgreSQL, extended inside one write transaction (docs/audit.md).

The records and checkpoints are those of the SQLite store, value for value: the same
``openleash.store.chain.chained_row`` computes each hash, the same :class:`AuditCheckpointRule` says
when a checkpoint is due, and the same key signs it. ``openleash audit verify`` therefore reads
either store alike.

INVARIANT: every write transaction holds the write lock of all replicas from its start (see
:mod:`openleash.store.sql.postgres`), so the head read once here cannot move until the
transaction ends, and seq follows the chain with no gaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from openleash.domain.models import AuditEvent
from openleash.store.chain import ChainState, Prepared, checkpoint_params
from openleash.store.sql import queries as q
from openleash.store.sql.postgres_queries import pg, refuse_nul

if TYPE_CHECKING:
    from openleash.store.sql.postgres_tx import Conn


class ChainWriter(ChainState):
    """The shared :class:`~openleash.store.chain.ChainState`, read and written over the
    transaction's connection; :meth:`prepared` and :meth:`appended` let ``record_decision`` put
    the rows into its own statement."""

    __slots__ = ()

    async def append(self, db: Conn, events: Sequence[AuditEvent]) -> None:
        prepared = await self.prepared(db, events)
        for row in prepared.rows:
            refuse_nul(row)
        await db.executemany(pg(q.APPEND_CHAINED), prepared.rows)
        await self.appended(db, prepared)

    async def prepared(self, db: Conn, events: Sequence[AuditEvent]) -> Prepared:
        """The rows of ``events`` chained after the head (read first if needed)."""
        if not self._loaded:
            head = await db.fetchrow(pg(q.CHAIN_HEAD))
            self.load(None if head is None else tuple(head))
        return self.prepare(events)

    async def appended(self, db: Conn, prepared: Prepared) -> None:
        """Advance the head past rows of :meth:`prepared` that are in, and sign the
        checkpoints they made due."""
        self.advance(prepared)
        for seq, head, created_at in prepared.due:
            key = await db.fetchrow(pg(q.ACTIVE_SIGNING_KEY))
            row = checkpoint_params(None if key is None else tuple(key), seq, head, created_at)
            if row is not None:
                await db.execute(pg(q.ADD_CHECKPOINT), *row)
                self.checkpointed(created_at)
