"""The audit hash chain, extended inside one write transaction (format: docs/audit.md).

The head of the chain (last seq and hash) is read once per transaction, under the write lock
every process takes, and advanced in memory as records are appended: so the chain follows seq
order whichever process or worker writes, at the cost of one read per transaction however many
units of a batch append in it.

The same transaction signs a checkpoint of the head with the active server key when one is due
(:class:`AuditCheckpointRule`): signing inside the transaction means a key rotated by another
process signs the very next checkpoint, and every writer, the CLI included, checkpoints alike.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from openleash.crypto import GENESIS_HASH, sign_checkpoint
from openleash.domain.models import AuditEvent
from openleash.store.sql import queries as q
from openleash.store.sql import rows

#: Records of these types are checkpointed at once: after a rotation the new key pins the head,
#: and after a revocation the records the revoked key's checkpoints covered stay pinned by a
#: key that still verifies.
KEY_EVENTS = frozenset({"KEY_CREATED", "KEY_ROTATED", "KEY_REVOKED"})


@dataclass(frozen=True, slots=True)
class AuditCheckpointRule:
    """When a record's transaction also signs a checkpoint of the head at that record."""

    #: Every record whose seq is a multiple of this.
    every_records: int = 1000
    #: A record this much later (by record timestamps) than the last checkpoint.
    every_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.every_records <= 0 or self.every_seconds <= 0:
            raise ValueError("audit checkpoints need a positive record count and interval")

    def due(self, seq: int, event: AuditEvent, last: datetime | None) -> bool:
        if seq % self.every_records == 0 or event.event_type in KEY_EVENTS or last is None:
            return True
        moment = _parse(event.timestamp)
        return moment is not None and moment - last >= timedelta(seconds=self.every_seconds)


class ChainWriter:
    """The chain's state in one write transaction. :meth:`forget` after a partial rollback."""

    __slots__ = ("_checkpointed_at", "_hash", "_loaded", "_rule", "_seq")

    def __init__(self, rule: AuditCheckpointRule) -> None:
        self._rule = rule
        self._loaded = False
        self._seq = 0
        self._hash = GENESIS_HASH
        self._checkpointed_at: datetime | None = None

    def forget(self) -> None:
        """Read the head again on the next append: a ``ROLLBACK TO`` may have undone records
        or checkpoints this object counted."""
        self._loaded = False

    def append(self, db: sqlite3.Connection, events: Sequence[AuditEvent]) -> None:
        if not self._loaded:
            self._load(db)
        rule, last = self._rule, self._checkpointed_at
        seq, head = self._seq, self._hash
        params: list[tuple[Any, ...]] = []
        due: list[tuple[int, str, str]] = []
        for event in events:
            seq += 1
            values, head = rows.chained_event_params(event, seq, head)
            params.append(values)
            if rule.due(seq, event, last):
                due.append((seq, head, event.timestamp))
                last = _parse(event.timestamp) or last
        db.executemany(q.APPEND_CHAINED, params)
        # INVARIANT: advanced only once the rows are in; a failed insert leaves the head alone.
        self._seq, self._hash = seq, head
        for at_seq, at_hash, created_at in due:
            self._checkpoint(db, at_seq, at_hash, created_at)

    def _load(self, db: sqlite3.Connection) -> None:
        seq, head, checkpointed_at = db.execute(q.CHAIN_HEAD).fetchone()
        self._seq = seq or 0
        # Records of a store older than the chain have empty hashes: the chain goes on from
        # there (verification reports them as not chained).
        self._hash = GENESIS_HASH if seq is None else head
        self._checkpointed_at = None if checkpointed_at is None else _parse(checkpointed_at)
        self._loaded = True

    def _checkpoint(self, db: sqlite3.Connection, seq: int, head: str, created_at: str) -> None:
        # Looked up each time (rarely: once per checkpoint), never cached: a unit earlier in
        # this same transaction may have rotated the key.
        found = db.execute(q.ACTIVE_SIGNING_KEY).fetchone()
        if found is None:
            return  # no server key yet: the next record after one exists is checkpointed
        kid, private_key_b64 = found
        signature = sign_checkpoint(
            private_key_b64, seq=seq, head_hash=head, kid=kid, created_at=created_at
        )
        db.execute(q.ADD_CHECKPOINT, (seq, head, kid, signature, created_at))
        self._checkpointed_at = _parse(created_at) or self._checkpointed_at


def _parse(timestamp: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
