"""The audit chain's writer on SQLite: the shared :class:`~openleash.store.chain.ChainState`,
read and written with the transaction's connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from openleash.domain.models import AuditEvent
from openleash.store.chain import ChainState, checkpoint_params
from openleash.store.sql import queries as q


class ChainWriter(ChainState):
    __slots__ = ()

    def append(self, db: sqlite3.Connection, events: Sequence[AuditEvent]) -> None:
        if not self._loaded:
            self.load(db.execute(q.CHAIN_HEAD).fetchone())
        prepared = self.prepare(events)
        db.executemany(q.APPEND_CHAINED, prepared.rows)
        self.advance(prepared)
        for seq, head, created_at in prepared.due:
            key = db.execute(q.ACTIVE_SIGNING_KEY).fetchone()
            row = checkpoint_params(key, seq, head, created_at)
            if row is not None:
                db.execute(q.ADD_CHECKPOINT, row)
                self.checkpointed(created_at)
