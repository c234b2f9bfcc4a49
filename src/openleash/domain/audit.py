"""Audit records as stored: with their place in the log and their hashes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from openleash.domain.jsonvalue import parse_json
from openleash.domain.models import AuditEvent, AuditEventWire


class AuditRowWire(AuditEventWire):
    """A stored audit record as the API and the CLI write it: ``seq`` first, hashes last."""

    seq: int
    prev_hash: str
    hash: str


class AuditRow(NamedTuple):
    """One stored audit record, exactly as the store holds it.

    A tuple on purpose: verification reads a million of these, and the first twelve values are,
    in order, the fields the record's hash covers (``openleash.crypto.chain.CHAINED_FIELDS``).
    ``metadata_json`` is the stored text, not parsed.
    """

    seq: int
    event_id: str
    timestamp: str
    event_type: str
    principal_id: str | None
    action_id: str | None
    decision_id: str | None
    owner_id: str | None
    agent_principal_id: str | None
    action_type: str | None
    result: str | None
    metadata_json: str
    prev_hash: str
    hash: str

    def event(self) -> AuditEvent:
        return AuditEvent(
            event_id=self.event_id,
            timestamp=self.timestamp,
            event_type=self.event_type,
            principal_id=self.principal_id,
            action_id=self.action_id,
            decision_id=self.decision_id,
            metadata_json=parse_json(self.metadata_json.encode("utf-8")),
        )

    def to_wire(self) -> AuditRowWire:
        """The event's wire shape, with its ``seq`` first and its hashes last."""
        return {
            "seq": self.seq,
            **self.event().to_wire(),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


#: How many leading values of an :class:`AuditRow` its hash covers.
CHAINED_WIDTH = 12


@dataclass(frozen=True, slots=True)
class AuditCheckpoint:
    """A server key's signature over the hash of the record ``seq`` (the head at that point)."""

    seq: int
    head_hash: str
    kid: str
    signature: str
    created_at: str
