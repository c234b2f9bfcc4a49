"""Frozen records of the domain. Field names are the wire names."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypedDict

from openleash.domain.action import ActionDoc
from openleash.domain.jsonvalue import JsonObject


class Result(enum.StrEnum):
    ALLOW = "ALLOW"
    DENY = "DENY"
    REQUIRE_APPROVAL = "REQUIRE_APPROVAL"
    REQUIRE_STEP_UP = "REQUIRE_STEP_UP"
    REQUIRE_DEPOSIT = "REQUIRE_DEPOSIT"


class Status(enum.StrEnum):
    """The status of an agent (and, ACTIVE only, of an owner)."""

    ACTIVE = "ACTIVE"
    #: An agent enrolled by challenge without an invite, until its owner activates it.
    PENDING = "PENDING"
    REVOKED = "REVOKED"


class ApprovalStatus(enum.StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    DENIED = "DENIED"
    #: Never stored: a PENDING request past its expiry reads as EXPIRED.
    EXPIRED = "EXPIRED"


class DraftStatus(enum.StrEnum):
    """The status of a policy draft an agent proposed to its owner."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    DENIED = "DENIED"


class AssuranceLevel(enum.StrEnum):
    """How sure the server is that the owner answered; declared weakest first."""

    LOW = "LOW"
    SUBSTANTIAL = "SUBSTANTIAL"
    HIGH = "HIGH"


_ASSURANCE_RANK = {level.value: rank for rank, level in enumerate(AssuranceLevel)}


def assurance_rank(level: str | None) -> int:
    """The strength of ``level`` (LOW 0, SUBSTANTIAL 1, HIGH 2). None or an unknown name ranks
    as LOW: an assurance nobody can name proves no more than none."""
    return _ASSURANCE_RANK.get(level or "", 0)


def strongest_assurance(levels: Iterable[object]) -> AssuranceLevel | None:
    """The strongest known level among ``levels``; None when none of them is a level."""
    known = [AssuranceLevel(x) for x in levels if isinstance(x, str) and x in _ASSURANCE_RANK]
    return max(known, key=assurance_rank, default=None)


@dataclass(frozen=True, slots=True)
class Owner:
    user_principal_id: str
    display_name: str
    status: str
    created_at: str
    owner_type: str = "user"


@dataclass(frozen=True, slots=True)
class Agent:
    agent_principal_id: str
    agent_id: str
    owner_type: str
    owner_id: str
    public_key_b64: str
    status: str
    created_at: str
    #: What the agent said of itself at enrolment (its shape is the agent's to choose).
    attributes: JsonObject = field(default_factory=dict)
    revoked_at: str | None = None
    webhook_url: str = ""
    # Secrets: stored, never rendered (api/views/agents.py shows what an API may).
    webhook_secret: str = field(default="", repr=False)
    webhook_auth_token: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    policy_id: str
    owner_type: str
    owner_id: str
    applies_to_agent_principal_id: str | None
    name: str | None
    description: str | None
    policy_yaml: str
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Binding:
    binding_id: str
    owner_type: str
    owner_id: str
    policy_id: str
    applies_to_agent_principal_id: str | None
    applies_to_group_id: str | None = None
    rank: int | None = None
    #: ``enforce`` (decides) or ``observe`` (shadow mode: evaluated and recorded, never enforced)
    mode: str = "enforce"


class PublicKeyView(TypedDict):
    """A server key as ``/v1/public-keys`` lists it (:meth:`ServerKey.public_view`)."""

    kid: str
    kty: str
    alg: str
    public_key_b64: str
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True, slots=True)
class ServerKey:
    kid: str
    public_key_b64: str
    private_key_b64: str = field(repr=False)
    created_at: str
    revoked_at: str | None = None
    active: bool = False

    def public_view(self) -> PublicKeyView:
        return {
            "kid": self.kid,
            "kty": "OKP",
            "alg": "EdDSA",
            "public_key_b64": self.public_key_b64,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True, slots=True)
class Invite:
    """A single-use invite: ``kind`` is ``agent`` (enrol an agent) or ``setup`` (owner login)."""

    invite_id: str
    kind: str
    owner_type: str
    owner_id: str
    token_hash: str = field(repr=False)
    token_salt: str = field(repr=False)
    expires_at: str
    created_at: str
    used_at: str | None = None


@dataclass(frozen=True, slots=True)
class Challenge:
    challenge_id: str
    agent_id: str
    agent_pubkey_b64: str
    owner_type: str | None
    owner_id: str | None
    challenge_b64: str
    expires_at: str
    created_at: str
    agent_attributes: JsonObject = field(default_factory=dict)


class AuditEventWire(TypedDict):
    """An audit event as the API and the CLI write it (:meth:`AuditEvent.to_wire`)."""

    event_id: str
    timestamp: str
    event_type: str
    principal_id: str | None
    action_id: str | None
    decision_id: str | None
    metadata_json: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    event_id: str
    timestamp: str
    event_type: str
    principal_id: str | None
    action_id: str | None
    decision_id: str | None
    #: The event's details, by event type: written from the records of the use case, read
    #: back as parsed JSON (narrow each value with ``isinstance``).
    metadata_json: Mapping[str, object]

    def to_wire(self) -> AuditEventWire:
        return {
            "event_id": self.event_id,
            "timestamp": self.timestamp,
            "event_type": self.event_type,
            "principal_id": self.principal_id,
            "action_id": self.action_id,
            "decision_id": self.decision_id,
            "metadata_json": self.metadata_json,
        }


@dataclass(frozen=True, slots=True)
class AllowedAction:
    """One allowed action, as limits count it."""

    decision_id: str
    owner_id: str
    agent_principal_id: str
    action_type: str
    currency: str | None
    counterparty: str | None
    amount_minor: float | None
    at_ms: int


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """Which earlier allowed actions a limit counts: an owner's (or one agent's) since
    ``since_ms``, of an action type (exact, or a dotted prefix and everything under it), with
    the same values as this action for the ``by`` fields (None matches a missing value)."""

    owner_id: str
    since_ms: int
    agent_principal_id: str | None = None
    action_exact: str | None = None
    action_prefix: str | None = None
    by: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """An agent's request that its owner approve one action, identified by its action hash."""

    approval_request_id: str
    owner_type: str
    owner_id: str
    agent_principal_id: str
    agent_id: str
    decision_id: str
    action: ActionDoc
    action_hash: str
    action_type: str
    justification: str | None
    status: str  # PENDING | APPROVED | DENIED
    created_at: str
    expires_at: str
    resolved_at: str | None = None
    resolved_by: str | None = None
    denial_reason: str | None = None
    consumed_at: str | None = None
    #: ``approval`` (REQUIRE_APPROVAL) or ``step_up`` (REQUIRE_STEP_UP to min_assurance_level)
    kind: str = "approval"
    min_assurance_level: str | None = None
    #: The rule that asked, and why, as the decision said it.
    matched_rule_id: str | None = None
    reason: str | None = None
    explanation: str | None = None
    #: What the agent added for its owner to read (its shape is the agent's to choose).
    context: JsonObject | None = None
    #: The assurance the owner's answer achieved (LOW, SUBSTANTIAL, HIGH).
    assurance_level: str | None = None
    approval_token_expires_at: str | None = None


@dataclass(frozen=True, slots=True)
class HeldDecision:
    """A decision that asked for a human; approval requests must refer to one."""

    decision_id: str
    owner_id: str
    agent_principal_id: str
    action_hash: str
    result: str  # REQUIRE_APPROVAL | REQUIRE_STEP_UP
    matched_rule_id: str | None
    min_assurance_level: str | None
    reason: str
    explanation: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class OwnerCredentials:
    """An owner's secrets. Never rendered by any API."""

    user_principal_id: str
    updated_at: str
    passphrase_hash: str | None = field(default=None, repr=False)
    totp_secret: str | None = field(default=None, repr=False)
    totp_enabled: bool = False
    totp_pending: str | None = field(default=None, repr=False)
    totp_last_counter: int | None = None
    failed_logins: int = 0
    locked_until_ms: int = 0
    #: Wrong second factors (or passphrases) given inside signed-in sessions, counted apart
    #: from failed logins so that strangers failing to log in never block a signed-in owner.
    factor_failures: int = 0
    factor_locked_until_ms: int = 0


@dataclass(frozen=True, slots=True)
class OwnerSession:
    session_id: str
    user_principal_id: str
    csrf_token: str = field(repr=False)
    created_at: str
    expires_at: str
    revoked_at: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyDraft:
    """A policy an agent proposes; the owner approves (it becomes a bound policy) or denies."""

    policy_draft_id: str
    owner_type: str
    owner_id: str
    agent_principal_id: str
    agent_id: str
    applies_to_agent_principal_id: str | None
    name: str | None
    description: str | None
    policy_yaml: str
    justification: str | None
    status: str  # PENDING | APPROVED | DENIED
    created_at: str
    resulting_policy_id: str | None = None
    resolved_at: str | None = None
    resolved_by: str | None = None
    denial_reason: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event for an agent's webhook, waiting in the outbox or sent."""

    delivery_id: str
    agent_principal_id: str
    event_type: str
    data: JsonObject
    created_at: str
    next_attempt_ms: int
    status: str = "PENDING"  # PENDING | DELIVERED | FAILED
    attempts: int = 0
    last_error: str | None = None
    last_status_code: int | None = None
