"""Records to SQL parameters and back. Column order follows :mod:`openleash.store.sql.queries`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from openleash.crypto.chain import record_hash
from openleash.domain.audit import AuditCheckpoint
from openleash.domain.models import (
    Agent,
    ApprovalRequest,
    AuditEvent,
    Binding,
    Challenge,
    Invite,
    Owner,
    PolicyRecord,
    ServerKey,
)

Row = Sequence[Any]


def dump_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def load_json(text: str) -> Any:
    return orjson.loads(text)


def owner_params(o: Owner) -> tuple[Any, ...]:
    return (o.user_principal_id, o.display_name, o.status, o.created_at, o.owner_type)


def owner_from(row: Row) -> Owner:
    return Owner(*row)


def agent_params(a: Agent) -> tuple[Any, ...]:
    return (
        a.agent_principal_id,
        a.agent_id,
        a.owner_type,
        a.owner_id,
        a.public_key_b64,
        a.status,
        a.created_at,
        dump_json(a.attributes),
        a.revoked_at,
        a.webhook_url,
        a.webhook_secret,
        a.webhook_auth_token,
    )


def agent_from(row: Row) -> Agent:
    return Agent(
        agent_principal_id=row[0],
        agent_id=row[1],
        owner_type=row[2],
        owner_id=row[3],
        public_key_b64=row[4],
        status=row[5],
        created_at=row[6],
        attributes=load_json(row[7]),
        revoked_at=row[8],
        webhook_url=row[9],
        webhook_secret=row[10],
        webhook_auth_token=row[11],
    )


def policy_params(p: PolicyRecord) -> tuple[Any, ...]:
    return (
        p.policy_id,
        p.owner_type,
        p.owner_id,
        p.applies_to_agent_principal_id,
        p.name,
        p.description,
        p.policy_yaml,
        p.created_at,
        p.updated_at,
    )


def policy_from(row: Row) -> PolicyRecord:
    return PolicyRecord(*row)


def binding_params(b: Binding) -> tuple[Any, ...]:
    return (
        b.binding_id,
        b.owner_type,
        b.owner_id,
        b.policy_id,
        b.applies_to_agent_principal_id,
        b.applies_to_group_id,
        b.rank,
        b.mode,
    )


def binding_from(row: Row) -> Binding:
    return Binding(*row)


def key_params(k: ServerKey, *, active: bool) -> tuple[Any, ...]:
    return (k.kid, k.public_key_b64, k.private_key_b64, k.created_at, k.revoked_at, active)


def key_from(row: Row) -> ServerKey:
    return ServerKey(
        kid=row[0],
        public_key_b64=row[1],
        private_key_b64=row[2],
        created_at=row[3],
        revoked_at=row[4],
        active=bool(row[5]),
    )


def challenge_params(c: Challenge) -> tuple[Any, ...]:
    return (
        c.challenge_id,
        c.agent_id,
        c.agent_pubkey_b64,
        c.owner_type,
        c.owner_id,
        c.challenge_b64,
        c.expires_at,
        c.created_at,
        dump_json(c.agent_attributes),
    )


def challenge_from(row: Row) -> Challenge:
    return Challenge(
        challenge_id=row[0],
        agent_id=row[1],
        agent_pubkey_b64=row[2],
        owner_type=row[3],
        owner_id=row[4],
        challenge_b64=row[5],
        expires_at=row[6],
        created_at=row[7],
        agent_attributes=load_json(row[8]),
    )


def invite_params(i: Invite) -> tuple[Any, ...]:
    return (
        i.invite_id,
        i.kind,
        i.owner_type,
        i.owner_id,
        i.token_hash,
        i.token_salt,
        i.expires_at,
        i.created_at,
        i.used_at,
    )


def invite_from(row: Row) -> Invite:
    return Invite(*row)


def event_params(e: AuditEvent) -> tuple[Any, ...]:
    """The event's own columns (``APPEND_EVENT``); the chained ones follow its ``seq``."""
    meta = e.metadata_json
    return (
        e.event_id,
        e.timestamp,
        e.event_type,
        e.principal_id,
        e.action_id,
        e.decision_id,
        _text(meta.get("owner_id")),
        _text(meta.get("agent_principal_id")),
        _text(meta.get("action_type")),
        _text(meta.get("result")),
        dump_json(meta),
    )


def chained_event_params(e: AuditEvent, seq: int, prev_hash: str) -> tuple[tuple[Any, ...], str]:
    """``(parameters of APPEND_CHAINED, the record's hash)`` for the record after ``prev_hash``.

    INVARIANT: the hash covers the values exactly as they are stored (``metadata_json`` as the
    text written here), in the order of ``openleash.crypto.chain.CHAINED_FIELDS``.
    """
    fields = (seq, *event_params(e))
    digest = record_hash(prev_hash, fields)
    return (*fields, prev_hash, digest), digest


def checkpoint_from(row: Row) -> AuditCheckpoint:
    return AuditCheckpoint(*row)


def event_from(row: Row) -> tuple[int, AuditEvent]:
    """``row`` is ``seq`` followed by the event's columns."""
    event = AuditEvent(
        event_id=row[1],
        timestamp=row[2],
        event_type=row[3],
        principal_id=row[4],
        action_id=row[5],
        decision_id=row[6],
        metadata_json=load_json(row[7]),
    )
    return row[0], event


def _text(value: Any) -> str | None:
    # Only text is indexed; anything else in those keys is still kept in metadata_json.
    return value if isinstance(value, str) else None


def approval_params(a: ApprovalRequest) -> tuple[Any, ...]:
    return (
        a.approval_request_id,
        a.owner_type,
        a.owner_id,
        a.agent_principal_id,
        a.agent_id,
        a.decision_id,
        dump_json(a.action),
        a.action_hash,
        a.action_type,
        a.justification,
        a.status,
        a.created_at,
        a.expires_at,
        a.resolved_at,
        a.resolved_by,
        a.denial_reason,
        a.consumed_at,
    )


def approval_from(row: Row) -> ApprovalRequest:
    values = list(row)
    values[6] = load_json(values[6])
    return ApprovalRequest(*values)
