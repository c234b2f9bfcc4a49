"""The audit hash chain, extended inside one write transaction (format: docs/audit.md).

Every adapter extends it alike (the SQL ones and the in-memory one), so records and checkpoints
are the same value for value whichever store wrote them. The adapters' writers
(``sql/sqlite_chain``, ``sql/postgres_chain``, ``memory``) read the head and write the records
and checkpoints this module prepares.

The head of the chain (last seq and hash) is read once per transaction, under the write lock
every process takes, and advanced in memory as records are appended: so the chain follows seq
order whichever process or worker writes, at the cost of one read per transaction however many
units of a batch append in it.

The same transaction signs a checkpoint of the head with the active server key when one is due
(:class:`AuditCheckpointRule`): signing inside the transaction means a key rotated by another
process signs the very next checkpoint, and every writer, the CLI included, checkpoints alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from openleash.crypto import GENESIS_HASH, iso_ms, record_hash, sign_checkpoint
from openleash.domain.audit import AuditRow
from openleash.domain.models import AuditEvent
from openleash.store.records import event_columns

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

    def due(self, seq: int, event: AuditEvent, next_at: str | None) -> bool:
        """``next_at``: when the time rule asks for the next one (None: no checkpoint yet)."""
        if seq % self.every_records == 0 or event.event_type in KEY_EVENTS or next_at is None:
            return True
        return _not_before(event.timestamp, next_at)

    def next_at(self, created_at: str) -> str | None:
        """The ``next_at`` after a checkpoint made at ``created_at`` (None if unreadable)."""
        moment = _parse(created_at)
        return None if moment is None else iso_ms(moment + timedelta(seconds=self.every_seconds))


def chained_row(e: AuditEvent, seq: int, prev_hash: str) -> AuditRow:
    """The stored record of ``e`` at ``seq``, after the record whose hash is ``prev_hash``.

    INVARIANT: the hash covers the values exactly as they are stored (``metadata_json`` as the
    text written here), in the order of ``openleash.crypto.chain.CHAINED_FIELDS``.
    """
    fields = (seq, *event_columns(e))
    return AuditRow._make((*fields, prev_hash, record_hash(prev_hash, fields)))


@dataclass(frozen=True, slots=True)
class Prepared:
    """Audit records chained and ready to store (an :class:`AuditRow` is also the parameters
    of ``queries.APPEND_CHAINED``), the head after them, and the checkpoints
    ``(seq, hash, created_at)`` they make due."""

    rows: list[AuditRow]
    seq: int
    head: str
    due: list[tuple[int, str, str]]


class ChainState:
    """The chain's head in one write transaction, advanced in memory as records go in; the
    adapters' writers read and write the rows.
    :meth:`forget` after a partial rollback."""

    __slots__ = ("_hash", "_loaded", "_next_at", "_rule", "_seq")

    def __init__(self, rule: AuditCheckpointRule) -> None:
        self._rule = rule
        self._loaded = False
        self._seq = 0
        self._hash = GENESIS_HASH
        self._next_at: str | None = None

    def forget(self) -> None:
        """Read the head again on the next append: a rollback to a savepoint may have undone
        records or checkpoints this object counted."""
        self._loaded = False

    def load(self, head: Sequence[Any] | None) -> None:
        """The head as ``queries.CHAIN_HEAD`` reads it: ``(seq, hash, last checkpoint time)``."""
        seq, last_hash, checkpointed_at = (None, None, None) if head is None else head
        self._seq = seq or 0
        # Records of a store older than the chain have empty hashes: the chain goes on from
        # there (verification reports them as not chained).
        self._hash = GENESIS_HASH if seq is None else str(last_hash)
        self._next_at = None if checkpointed_at is None else self._rule.next_at(checkpointed_at)
        self._loaded = True

    def prepare(self, events: Sequence[AuditEvent]) -> Prepared:
        """The rows of ``events`` chained after the (loaded) head; nothing is advanced."""
        rule, next_at = self._rule, self._next_at
        seq, head = self._seq, self._hash
        chained: list[AuditRow] = []
        due: list[tuple[int, str, str]] = []
        for event in events:
            seq += 1
            row = chained_row(event, seq, head)
            head = row.hash
            chained.append(row)
            if rule.due(seq, event, next_at):
                due.append((seq, head, event.timestamp))
                next_at = rule.next_at(event.timestamp) or next_at
        return Prepared(chained, seq, head, due)

    def advance(self, prepared: Prepared) -> None:
        # INVARIANT: called only once the rows are in; a failed insert leaves the head alone.
        self._seq, self._hash = prepared.seq, prepared.head

    def checkpointed(self, created_at: str) -> None:
        self._next_at = self._rule.next_at(created_at) or self._next_at


def checkpoint_params(
    active_key: Sequence[Any] | None, seq: int, head: str, created_at: str
) -> tuple[Any, ...] | None:
    """The ``queries.ADD_CHECKPOINT`` row signing the head at ``seq`` with the active key
    (``queries.ACTIVE_SIGNING_KEY``: looked up each time, a unit earlier in the same transaction
    may have rotated it); None when there is no key yet (the next record after one exists is
    checkpointed)."""
    if active_key is None:
        return None
    kid, private_key_b64 = active_key
    signature = sign_checkpoint(
        private_key_b64, seq=seq, head_hash=head, kid=kid, created_at=created_at
    )
    return (seq, head, kid, signature, created_at)


def _not_before(timestamp: str, threshold: str) -> bool:
    # Timestamps the service writes (``YYYY-MM-DDTHH:MM:SS.sssZ``) compare as text, which
    # costs nothing per record; any other spelling is parsed (and ignored if unreadable).
    if len(timestamp) == len(threshold) == _ISO_LENGTH and timestamp[-1] == threshold[-1] == "Z":
        return timestamp >= threshold
    moment, limit = _parse(timestamp), _parse(threshold)
    return moment is not None and limit is not None and moment >= limit


_ISO_LENGTH = len("2026-01-01T00:00:00.000Z")


def _parse(timestamp: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
