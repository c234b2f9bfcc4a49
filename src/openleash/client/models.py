"""Typed views of what the server answers.

Each result is a frozen dataclass with the fields an agent uses, plus ``raw``: the JSON object
as received (extensions included). Each also reads as a read-only mapping over ``raw``, so
``decision["result"]`` and ``decision.result`` are the same value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from openleash.domain.models import Result

__all__ = [
    "AgentInfo",
    "ApprovalRequest",
    "Decision",
    "LimitUsage",
    "Obligation",
    "PolicyDraft",
    "PublicKey",
    "Result",
    "Usage",
]


class _WireView(Mapping[str, Any]):
    """Read-only mapping access to the wire object a result was built from."""

    __slots__ = ()
    raw: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)


def _str(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    return value if isinstance(value, str) else ""


def _opt(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) else None


def _objects(body: Mapping[str, Any], key: str) -> tuple[dict[str, Any], ...]:
    value = body.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, dict))


@dataclass(frozen=True, slots=True)
class Obligation(_WireView):
    """Something the decision asks for before the action may go ahead (``HUMAN_APPROVAL``,
    ``STEP_UP_AUTH``, ...). ``details`` is the wire ``details_json``."""

    obligation_id: str
    type: str
    status: str
    details: Any
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> Obligation:
        return cls(
            obligation_id=_str(body, "obligation_id"),
            type=_str(body, "type"),
            status=_str(body, "status"),
            details=body.get("details_json"),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class Decision(_WireView):
    """The answer of ``POST /v1/authorize``. ``result`` is one of :class:`Result`'s values."""

    result: str
    decision_id: str
    action_id: str
    action_hash: str
    matched_rule_id: str | None
    reason: str | None
    proof_token: str | None
    proof_expires_at: str | None
    obligations: tuple[Obligation, ...]
    risk_level: str | None
    explanation: str | None
    #: Who approved, when and how surely, when an approval token was used.
    approval: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> Decision:
        approval = body.get("approval")
        return cls(
            result=_str(body, "result"),
            decision_id=_str(body, "decision_id"),
            action_id=_str(body, "action_id"),
            action_hash=_str(body, "action_hash"),
            matched_rule_id=_opt(body, "matched_rule_id"),
            reason=_opt(body, "reason"),
            proof_token=_opt(body, "proof_token"),
            proof_expires_at=_opt(body, "proof_expires_at"),
            obligations=tuple(Obligation.from_wire(o) for o in _objects(body, "obligations")),
            risk_level=_opt(body, "risk_level"),
            explanation=_opt(body, "explanation"),
            approval=approval if isinstance(approval, dict) else None,
            raw=body,
        )

    @property
    def allowed(self) -> bool:
        return self.result == Result.ALLOW

    @property
    def denied(self) -> bool:
        return self.result == Result.DENY

    @property
    def needs_approval(self) -> bool:
        """REQUIRE_APPROVAL or REQUIRE_STEP_UP: the owner must confirm, through an approval
        request (with a second factor for a step-up)."""
        return self.result in (Result.REQUIRE_APPROVAL, Result.REQUIRE_STEP_UP)


@dataclass(frozen=True, slots=True)
class ApprovalRequest(_WireView):
    """An approval request as the agent sees it. Right after it is filed only
    ``approval_request_id``, ``status`` and ``expires_at`` are known; reading it again fills
    the rest, and once APPROVED it carries the single-use ``approval_token``."""

    approval_request_id: str
    status: str
    expires_at: str | None
    action_type: str | None
    action_hash: str | None
    kind: str | None
    justification: str | None
    created_at: str | None
    resolved_at: str | None
    denial_reason: str | None
    assurance_level: str | None
    consumed_at: str | None
    approval_token: str | None
    approval_token_expires_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    DENIED = "DENIED"
    EXPIRED = "EXPIRED"

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> ApprovalRequest:
        return cls(
            approval_request_id=_str(body, "approval_request_id"),
            status=_str(body, "status"),
            expires_at=_opt(body, "expires_at"),
            action_type=_opt(body, "action_type"),
            action_hash=_opt(body, "action_hash"),
            kind=_opt(body, "kind"),
            justification=_opt(body, "justification"),
            created_at=_opt(body, "created_at"),
            resolved_at=_opt(body, "resolved_at"),
            denial_reason=_opt(body, "denial_reason"),
            assurance_level=_opt(body, "assurance_level"),
            consumed_at=_opt(body, "consumed_at"),
            approval_token=_opt(body, "approval_token"),
            approval_token_expires_at=_opt(body, "approval_token_expires_at"),
            raw=body,
        )

    @property
    def pending(self) -> bool:
        return self.status == self.PENDING

    @property
    def approved(self) -> bool:
        return self.status == self.APPROVED


@dataclass(frozen=True, slots=True)
class PolicyDraft(_WireView):
    """A policy the agent proposed to its owner. Listing gives summaries (no ``policy_yaml``);
    reading one draft gives it whole."""

    policy_draft_id: str
    status: str
    created_at: str | None
    name: str | None
    description: str | None
    justification: str | None
    resolved_at: str | None
    denial_reason: str | None
    resulting_policy_id: str | None
    policy_yaml: str | None
    applies_to_agent_principal_id: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> PolicyDraft:
        return cls(
            policy_draft_id=_str(body, "policy_draft_id"),
            status=_str(body, "status"),
            created_at=_opt(body, "created_at"),
            name=_opt(body, "name"),
            description=_opt(body, "description"),
            justification=_opt(body, "justification"),
            resolved_at=_opt(body, "resolved_at"),
            denial_reason=_opt(body, "denial_reason"),
            resulting_policy_id=_opt(body, "resulting_policy_id"),
            policy_yaml=_opt(body, "policy_yaml"),
            applies_to_agent_principal_id=_opt(body, "applies_to_agent_principal_id"),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class LimitUsage(_WireView):
    """One limit of the agent's effective policy and its use in the current window; ``usage``
    has one entry per value of the ``by`` fields (a single entry without them)."""

    rule_id: str
    action: str
    kind: str
    max: float
    window: str
    per: str
    by: tuple[str, ...]
    since: str
    usage: tuple[dict[str, Any], ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> LimitUsage:
        by = body.get("by")
        maximum = body.get("max")
        return cls(
            rule_id=_str(body, "rule_id"),
            action=_str(body, "action"),
            kind=_str(body, "kind"),
            max=maximum if isinstance(maximum, int | float) else 0,
            window=_str(body, "window"),
            per=_str(body, "per"),
            by=tuple(str(b) for b in by) if isinstance(by, list) else (),
            since=_str(body, "since"),
            usage=_objects(body, "usage"),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class Usage(_WireView):
    """``GET /v1/agent/usage``: every limit of the agent's policy with what is used."""

    agent_principal_id: str
    agent_id: str
    as_of: str
    policy_hash: str | None
    limits: tuple[LimitUsage, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> Usage:
        return cls(
            agent_principal_id=_str(body, "agent_principal_id"),
            agent_id=_str(body, "agent_id"),
            as_of=_str(body, "as_of"),
            policy_hash=_opt(body, "policy_hash"),
            limits=tuple(LimitUsage.from_wire(item) for item in _objects(body, "limits")),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class AgentInfo(_WireView):
    """``GET /v1/agent/self``: the calling agent's own record."""

    agent_principal_id: str
    agent_id: str
    owner_type: str
    owner_id: str
    status: str
    attributes: dict[str, Any] | None
    created_at: str | None
    webhook_url: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> AgentInfo:
        attributes = body.get("attributes")
        return cls(
            agent_principal_id=_str(body, "agent_principal_id"),
            agent_id=_str(body, "agent_id"),
            owner_type=_str(body, "owner_type"),
            owner_id=_str(body, "owner_id"),
            status=_str(body, "status"),
            attributes=attributes if isinstance(attributes, dict) else None,
            created_at=_opt(body, "created_at"),
            webhook_url=_opt(body, "webhook_url"),
            raw=body,
        )


@dataclass(frozen=True, slots=True)
class PublicKey(_WireView):
    """One of the server's proof-signing keys as ``/v1/public-keys`` publishes it."""

    kid: str
    public_key_b64: str
    created_at: str | None
    revoked_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> PublicKey:
        return cls(
            kid=_str(body, "kid"),
            public_key_b64=_str(body, "public_key_b64"),
            created_at=_opt(body, "created_at"),
            revoked_at=_opt(body, "revoked_at"),
            raw=body,
        )

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
