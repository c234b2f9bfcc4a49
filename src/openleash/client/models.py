"""Typed views of what the server answers.

Each result is a frozen dataclass with the fields an agent uses, plus ``raw``: the JSON object
as received (extensions included). Each also reads as a read-only mapping over ``raw``, so
``decision["result"]`` and ``decision.result`` are the same value.

A field typed ``str`` is the wire key of its name (``""`` when absent or not a string), a field
typed ``str | None`` the same or ``None``; a class reads its other fields in ``_read``. The
objects the server shapes (the approval a decision used, the rows of a limit's usage) are
TypedDicts, read field by field as the results are; what others shape (an obligation's
details, an agent's attributes, ``raw``) is :data:`~openleash.domain.jsonvalue.JsonValue`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Self, TypedDict, cast

from openleash.domain.jsonvalue import JsonObject, JsonValue
from openleash.domain.models import ApprovalStatus, Result

__all__ = [
    "AgentInfo",
    "ApprovalRequest",
    "Decision",
    "DecisionApproval",
    "LimitUsage",
    "Obligation",
    "PolicyDraft",
    "PublicKey",
    "Result",
    "Usage",
    "UsageRow",
]


class _WireView(Mapping[str, JsonValue]):
    """Read-only mapping access to the wire object a result was built from."""

    __slots__ = ()
    raw: JsonObject

    @classmethod
    def from_wire(cls, body: JsonObject) -> Self:
        values: dict[str, object] = {name: read(body, name) for name, read in _text_fields(cls)}
        values.update(cls._read(body), raw=body)
        # Each field is filled by name: the text fields above, the others by ``_read``.
        build = cast(Callable[..., Self], cls)
        return build(**values)

    @classmethod
    def _read(cls, body: JsonObject) -> dict[str, object]:
        """The fields that are not text, by name."""
        return {}

    def __getitem__(self, key: str) -> JsonValue:
        return self.raw[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)


def _str(body: JsonObject, key: str) -> str:
    value = body.get(key)
    return value if isinstance(value, str) else ""


def _opt(body: JsonObject, key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) else None


def _number(body: JsonObject, key: str) -> float:
    """A number (``0`` when absent or not a number)."""
    value = body.get(key)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _objects(body: JsonObject, key: str) -> tuple[JsonObject, ...]:
    value = body.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, dict))


def _object(body: JsonObject, key: str) -> JsonObject | None:
    value = body.get(key)
    return value if isinstance(value, dict) else None


_Reader = Callable[[JsonObject, str], str | None]
#: Annotations as written (this module postpones their evaluation), with their readers.
_TEXT_READERS: dict[object, _Reader] = {"str": _str, "str | None": _opt}


@cache
def _text_fields(cls: type) -> tuple[tuple[str, _Reader], ...]:
    """The fields of ``cls`` typed ``str`` or ``str | None``, each with its reader."""
    return tuple((f.name, _TEXT_READERS[f.type]) for f in fields(cls) if f.type in _TEXT_READERS)


class DecisionApproval(TypedDict):
    """The owner's approval a decision used up (:attr:`Decision.approval`)."""

    approval_request_id: str
    #: The owner who approved.
    approved_by: str | None
    #: When, ISO-8601 in UTC.
    approved_at: str | None
    #: How surely the owner confirmed (a step-up's level), if stated.
    assurance_level: str | None


def _approval(body: JsonObject) -> DecisionApproval | None:
    approval = _object(body, "approval")
    if approval is None:
        return None
    return DecisionApproval(
        approval_request_id=_str(approval, "approval_request_id"),
        approved_by=_opt(approval, "approved_by"),
        approved_at=_opt(approval, "approved_at"),
        assurance_level=_opt(approval, "assurance_level"),
    )


class UsageRow(TypedDict):
    """One row of :attr:`LimitUsage.usage`: what is used for one value of the ``by`` fields."""

    #: The values of the limit's ``by`` fields this row counts (``{}`` without).
    by: JsonObject
    #: Used in the window (minor units or actions).
    used: float
    #: Actions allowed in the window.
    count: int
    #: What is left (never below 0).
    remaining: float


def _usage_row(row: JsonObject) -> UsageRow:
    count = row.get("count")
    return UsageRow(
        by=_object(row, "by") or {},
        used=_number(row, "used"),
        count=count if isinstance(count, int) and not isinstance(count, bool) else 0,
        remaining=_number(row, "remaining"),
    )


@dataclass(frozen=True, slots=True)
class Obligation(_WireView):
    """Something the decision asks for before the action may go ahead (``HUMAN_APPROVAL``,
    ``STEP_UP_AUTH``, ...). ``details`` is the wire ``details_json``: the rule's parameters."""

    obligation_id: str
    type: str
    status: str
    details: JsonValue
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def _read(cls, body: JsonObject) -> dict[str, object]:
        return {"details": body.get("details_json")}


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
    approval: DecisionApproval | None
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def _read(cls, body: JsonObject) -> dict[str, object]:
        return {
            "obligations": tuple(Obligation.from_wire(o) for o in _objects(body, "obligations")),
            "approval": _approval(body),
        }

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
    raw: JsonObject = field(repr=False, compare=False)

    PENDING = ApprovalStatus.PENDING
    APPROVED = ApprovalStatus.APPROVED
    DENIED = ApprovalStatus.DENIED
    EXPIRED = ApprovalStatus.EXPIRED

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
    raw: JsonObject = field(repr=False, compare=False)


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
    usage: tuple[UsageRow, ...]
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def _read(cls, body: JsonObject) -> dict[str, object]:
        by = body.get("by")
        return {
            "max": _number(body, "max"),
            "by": tuple(str(b) for b in by) if isinstance(by, list) else (),
            "usage": tuple(_usage_row(row) for row in _objects(body, "usage")),
        }


@dataclass(frozen=True, slots=True)
class Usage(_WireView):
    """``GET /v1/agent/usage``: every limit of the agent's policy with what is used."""

    agent_principal_id: str
    agent_id: str
    as_of: str
    policy_hash: str | None
    limits: tuple[LimitUsage, ...]
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def _read(cls, body: JsonObject) -> dict[str, object]:
        return {"limits": tuple(LimitUsage.from_wire(item) for item in _objects(body, "limits"))}


@dataclass(frozen=True, slots=True)
class AgentInfo(_WireView):
    """``GET /v1/agent/self``: the calling agent's own record."""

    agent_principal_id: str
    agent_id: str
    owner_type: str
    owner_id: str
    status: str
    attributes: JsonObject | None
    created_at: str | None
    webhook_url: str | None
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def _read(cls, body: JsonObject) -> dict[str, object]:
        return {"attributes": _object(body, "attributes")}


@dataclass(frozen=True, slots=True)
class PublicKey(_WireView):
    """One of the server's proof-signing keys as ``/v1/public-keys`` publishes it."""

    kid: str
    public_key_b64: str
    created_at: str | None
    revoked_at: str | None
    raw: JsonObject = field(repr=False, compare=False)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
