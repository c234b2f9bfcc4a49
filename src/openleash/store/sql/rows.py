"""Records to SQL parameters and back. Column order follows :mod:`openleash.store.sql.queries`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openleash.domain.audit import AuditCheckpoint
from openleash.domain.models import (
    Agent,
    ApprovalRequest,
    AuditEvent,
    Binding,
    Challenge,
    HeldDecision,
    Invite,
    Owner,
    OwnerCredentials,
    OwnerSession,
    PolicyDraft,
    PolicyRecord,
    ServerKey,
    WebhookDelivery,
)
from openleash.store.records import dump_json, event_columns, load_json

Row = Sequence[Any]


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
    """The event's own columns (``APPEND_EVENT``); the chained ones follow its ``seq``
    (``openleash.store.chain.chained_row``)."""
    return event_columns(e)


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
        a.kind,
        a.min_assurance_level,
        a.matched_rule_id,
        a.reason,
        a.explanation,
        None if a.context is None else dump_json(a.context),
        a.assurance_level,
        a.approval_token_expires_at,
    )


def approval_from(row: Row) -> ApprovalRequest:
    values = list(row)
    values[6] = load_json(values[6])
    if values[22] is not None:
        values[22] = load_json(values[22])
    return ApprovalRequest(*values)


def credentials_params(c: OwnerCredentials) -> tuple[Any, ...]:
    return (
        c.user_principal_id,
        c.updated_at,
        c.passphrase_hash,
        c.totp_secret,
        c.totp_enabled,
        c.totp_pending,
        c.totp_last_counter,
        c.failed_logins,
        c.locked_until_ms,
        c.factor_failures,
        c.factor_locked_until_ms,
    )


def credentials_from(row: Row) -> OwnerCredentials:
    values = list(row)
    values[4] = bool(values[4])
    return OwnerCredentials(*values)


def session_params(s: OwnerSession) -> tuple[Any, ...]:
    return (
        s.session_id,
        s.user_principal_id,
        s.csrf_token,
        s.created_at,
        s.expires_at,
        s.revoked_at,
    )


def session_from(row: Row) -> OwnerSession:
    return OwnerSession(*row)


def held_params(d: HeldDecision) -> tuple[Any, ...]:
    return (
        d.decision_id,
        d.owner_id,
        d.agent_principal_id,
        d.action_hash,
        d.result,
        d.matched_rule_id,
        d.min_assurance_level,
        d.reason,
        d.explanation,
        d.created_at,
    )


def held_from(row: Row) -> HeldDecision:
    return HeldDecision(*row)


def draft_params(d: PolicyDraft) -> tuple[Any, ...]:
    return (
        d.policy_draft_id,
        d.owner_type,
        d.owner_id,
        d.agent_principal_id,
        d.agent_id,
        d.applies_to_agent_principal_id,
        d.name,
        d.description,
        d.policy_yaml,
        d.justification,
        d.status,
        d.created_at,
        d.resulting_policy_id,
        d.resolved_at,
        d.resolved_by,
        d.denial_reason,
    )


def draft_from(row: Row) -> PolicyDraft:
    return PolicyDraft(*row)


def webhook_params(w: WebhookDelivery) -> tuple[Any, ...]:
    return (
        w.delivery_id,
        w.agent_principal_id,
        w.event_type,
        dump_json(w.data),
        w.created_at,
        w.next_attempt_ms,
        w.status,
        w.attempts,
        w.last_error,
        w.last_status_code,
    )


def webhook_from(row: Row) -> WebhookDelivery:
    values = list(row)
    values[3] = load_json(values[3])
    return WebhookDelivery(*values)
