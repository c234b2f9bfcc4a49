"""Wire models of the routes a signed agent calls, and the action and decision they share with
the playground and AuthZEN.

Agent bodies are read as the signed bytes and parsed by the services (their codes and
messages are part of the wire), so these request models document them; they do not read them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from openleash.api.wire.authorize import ActionRequest
from openleash.api.wire.common import WireModel
from openleash.api.wire.fields import (
    EXAMPLE_AGENT_PRINCIPAL_ID,
    EXAMPLE_HASH,
    EXAMPLE_OWNER_ID,
    EXAMPLE_TIME,
    EXAMPLE_UUID,
    AnyJsonObject,
    Omitted,
    omittable,
    time_field,
    uuid_field,
)
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import ApprovalStatus, AssuranceLevel, DraftStatus, Status
from openleash.service.bodies import MAX_TEXT

HASH_PATTERN = "^[0-9a-f]{64}$"
RiskLevel = Literal["low", "medium", "high", "critical"]
TrustProfile = Literal["LOW", "MEDIUM", "HIGH", "REGULATED"]
LimitKind = Literal["spend", "count"]
LimitPer = Literal["agent", "owner"]
# These spell what the engine defines (policy.model, domain.action); a test keeps them equal.

EXAMPLE_ACTION: JsonObject = {
    "action_id": EXAMPLE_UUID,
    "action_type": "purchase",
    "requested_at": EXAMPLE_TIME,
    "principal": {"agent_id": "shopping-agent"},
    "subject": {"principal_id": EXAMPLE_OWNER_ID},
    "payload": {"amount_minor": 2500, "currency": "EUR", "merchant": "books.example"},
}


# -- the action and the decision: their models are /v1/authorize's (wire/authorize.py) ------

EXAMPLE_DECISION: JsonObject = {
    "decision_id": "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "action_id": EXAMPLE_UUID,
    "action_hash": EXAMPLE_HASH,
    "result": "ALLOW",
    "matched_rule_id": "small_purchases",
    "reason": 'Allowed by rule "small_purchases"',
    "proof_token": "v4.public.eyJpc3MiOiJvcGVubGVhc2gi...",
    "proof_expires_at": "2026-12-03T15:05:05.123Z",
    "obligations": [],
    "risk_level": "low",
}


# -- the agent's own record and usage -----------------------------------------------------------


class AgentSelf(BaseModel):
    """The calling agent's record (no secrets)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
                    "agent_id": "shopping-agent",
                    "owner_type": "user",
                    "owner_id": EXAMPLE_OWNER_ID,
                    "status": "ACTIVE",
                    "attributes": {},
                    "created_at": EXAMPLE_TIME,
                    "webhook_url": "",
                }
            ]
        }
    )

    agent_principal_id: str = uuid_field(
        "The server's id of this enrolment.", examples=[EXAMPLE_AGENT_PRINCIPAL_ID]
    )
    agent_id: str = Field(description="The agent's chosen id.", examples=["shopping-agent"])
    owner_type: str = Field(description="The kind of owner; `user`.", examples=["user"])
    owner_id: str = Field(description="The owner's user_principal_id.", examples=[EXAMPLE_OWNER_ID])
    status: Status = Field(
        description="PENDING until an owner activates an agent enrolled "
        "by challenge; REVOKED for good."
    )
    attributes: AnyJsonObject = Field(
        description="Attributes given at enrolment.", examples=[{"model": "gpt"}]
    )
    created_at: str = time_field("When the agent was enrolled.")
    webhook_url: str = Field(
        description="Where events for the agent are delivered; empty when none.",
        examples=["https://agent.example/openleash/events", ""],
    )


class UsageRow(BaseModel):
    by: AnyJsonObject = Field(
        description="The values of the limit's `by` fields this row counts (`{}` without).",
        examples=[{"currency": "EUR"}],
    )
    used: float = Field(description="Used in the window (minor units or actions).")
    count: int = Field(description="Actions allowed in the window.", examples=[3])
    remaining: float = Field(description="What is left (never below 0).", examples=[11300])


class LimitUsage(BaseModel):
    rule_id: str = Field(description="The rule that sets the limit.", examples=["small_purchases"])
    action: str = Field(description="The rule's action pattern.", examples=["purchase"])
    kind: LimitKind = Field(description="`spend` counts minor units, `count` actions.")
    max: float = Field(description="The limit of one window.", examples=[15000])
    window: str = Field(description="The window, as the policy writes it.", examples=["24h"])
    per: LimitPer = Field(description="Counted per agent, or for all the owner's agents.")
    by: list[str] = Field(description="Fields a budget is kept for separately.", examples=[[]])
    since: str = time_field("Start of the current window.")
    usage: list[UsageRow] = Field(description="One row per `by` value seen (one without `by`).")


class AgentUsage(BaseModel):
    """How much of each limit of the agent's effective policy is used in its current window."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
                    "agent_id": "shopping-agent",
                    "as_of": EXAMPLE_TIME,
                    "policy_hash": EXAMPLE_HASH,
                    "limits": [
                        {
                            "rule_id": "small_purchases",
                            "action": "purchase",
                            "kind": "spend",
                            "max": 15000,
                            "window": "24h",
                            "per": "agent",
                            "by": [],
                            "since": "2026-12-02T15:04:05.123Z",
                            "usage": [{"by": {}, "used": 3700, "count": 2, "remaining": 11300}],
                        }
                    ],
                }
            ]
        }
    )

    agent_principal_id: str = uuid_field(
        "The agent's enrolment id.", examples=[EXAMPLE_AGENT_PRINCIPAL_ID]
    )
    agent_id: str = Field(description="The agent's id.", examples=["shopping-agent"])
    as_of: str = time_field("When this was counted.")
    policy_hash: str | None = Field(
        description="SHA-256 of the effective policy; null when no policy applies.",
        examples=[EXAMPLE_HASH],
    )
    limits: list[LimitUsage] = Field(description="Every limit of the effective policy.")


# -- approval requests --------------------------------------------------------------------------


class ApprovalRequestCreate(WireModel):
    """Ask the owner to approve an action that was decided REQUIRE_APPROVAL or
    REQUIRE_STEP_UP. Filing the same decision again answers with the request already filed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decision_id": "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                    "action": EXAMPLE_ACTION,
                    "justification": "The owner asked for this book",
                }
            ]
        }
    )

    decision_id: str = Field(
        min_length=1,
        description="The decision_id of the /v1/authorize answer that required approval.",
        examples=["9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"],
    )
    action: ActionRequest = Field(description="The identical action that was decided.")
    justification: str | None = Field(
        default=None,
        max_length=MAX_TEXT,
        description="Why the agent needs it, shown to the owner (trimmed).",
        examples=["The owner asked for this book"],
    )
    context: AnyJsonObject | None = Field(
        default=None,
        description="Anything else the owner should see (an object).",
        examples=[{"ticket": "HELP-42"}],
    )


class ApprovalRequestCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "approval_request_id": EXAMPLE_UUID,
                    "status": "PENDING",
                    "expires_at": EXAMPLE_TIME,
                }
            ]
        }
    )

    approval_request_id: str = uuid_field("The request's id; poll it for the answer.")
    status: ApprovalStatus = Field(description="PENDING when new; a repeat shows the current one.")
    expires_at: str = time_field("When an unanswered request expires.")


class AgentApprovalRequest(BaseModel):
    """An approval request as its agent sees it; the approval token once approved."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "approval_request_id": EXAMPLE_UUID,
                    "status": "APPROVED",
                    "action_type": "purchase",
                    "action_hash": EXAMPLE_HASH,
                    "justification": "The owner asked for this book",
                    "created_at": EXAMPLE_TIME,
                    "expires_at": "2026-12-04T15:04:05.123Z",
                    "resolved_at": "2026-12-03T15:10:00.000Z",
                    "denial_reason": None,
                    "kind": "approval",
                    "assurance_level": "LOW",
                    "consumed_at": None,
                    "approval_token": "v4.public.eyJwdXJwb3NlIjoiYXBwcm92YWwi...",
                    "approval_token_expires_at": "2026-12-03T15:15:00.000Z",
                }
            ]
        }
    )

    approval_request_id: str = uuid_field("The request's id.")
    status: ApprovalStatus = Field(description="EXPIRED is a PENDING request past expires_at.")
    action_type: str = Field(description="The action's type.", examples=["purchase"])
    action_hash: str = Field(
        pattern=HASH_PATTERN, description="The action's hash.", examples=[EXAMPLE_HASH]
    )
    justification: str | None = Field(description="The agent's justification.")
    created_at: str = time_field("When it was filed.")
    expires_at: str = time_field("When it expires unanswered.")
    resolved_at: str | None = time_field("When the owner answered.")
    denial_reason: str | None = Field(
        description="The owner's reason for a denial.", examples=["Not this month"]
    )
    kind: Literal["approval", "step_up"] = Field(
        description="`step_up` when the decision was REQUIRE_STEP_UP."
    )
    assurance_level: AssuranceLevel | None = Field(
        description="How surely the owner answered, once approved."
    )
    consumed_at: str | None = time_field("When the approval token was used.")
    approval_token: str | Omitted = omittable(
        "Once APPROVED: send it as `approval_token` with the identical action to "
        "/v1/authorize (usable once).",
        examples=["v4.public.eyJwdXJwb3NlIjoiYXBwcm92YWwi..."],
    )
    approval_token_expires_at: str | Omitted = omittable(
        "When the approval token expires.", examples=[EXAMPLE_TIME]
    )


# -- policy drafts ------------------------------------------------------------------------------


class PolicyDraftCreate(WireModel):
    """Propose a policy; the owner approves (it is stored and bound) or denies it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "policy_yaml": "version: 1\ndefault: deny\nrules:\n  - id: read_docs\n"
                    "    effect: allow\n    action: docs.read\n",
                    "name": "Read documents",
                    "justification": "I need to read the shared documents",
                }
            ]
        }
    )

    policy_yaml: str = Field(
        description="The policy (YAML 1.2, policy language v1); refused if it does not validate.",
        examples=["version: 1\ndefault: deny\nrules: []\n"],
    )
    applies_to_agent_principal_id: str | None = Field(
        default=None,
        description="Whom it binds: left out, the proposing agent; null, every agent of the "
        "owner; or another agent of the same owner.",
        examples=[EXAMPLE_AGENT_PRINCIPAL_ID],
    )
    name: str | None = Field(
        default=None, max_length=200, description="A short name (trimmed).", examples=["Docs"]
    )
    description: str | None = Field(
        default=None, max_length=MAX_TEXT, description="What the policy is for (trimmed)."
    )
    justification: str | None = Field(
        default=None, max_length=MAX_TEXT, description="Why the agent proposes it (trimmed)."
    )


class PolicyDraftCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"policy_draft_id": EXAMPLE_UUID, "status": "PENDING", "created_at": EXAMPLE_TIME}
            ]
        }
    )

    policy_draft_id: str = uuid_field("The draft's id.")
    status: DraftStatus = Field(description="PENDING: awaiting the owner.")
    created_at: str = time_field("When it was proposed.")


class PolicyDraftSummary(BaseModel):
    policy_draft_id: str = uuid_field("The draft's id.")
    status: DraftStatus = Field(description="PENDING, APPROVED or DENIED.")
    name: str | None = Field(description="Its name.", examples=["Docs"])
    description: str | None = Field(description="Its description.")
    justification: str | None = Field(description="The agent's justification.")
    created_at: str = time_field("When it was proposed.")
    resolved_at: str | None = time_field("When the owner answered.")
    denial_reason: str | None = Field(description="The owner's reason for a denial.")
    resulting_policy_id: str | None = Field(
        description="The policy made from it, once approved.", examples=[EXAMPLE_UUID]
    )


EXAMPLE_DRAFT_SUMMARY: JsonObject = {
    "policy_draft_id": EXAMPLE_UUID,
    "status": "PENDING",
    "name": "Docs",
    "description": None,
    "justification": "I need to read the shared documents",
    "created_at": EXAMPLE_TIME,
    "resolved_at": None,
    "denial_reason": None,
    "resulting_policy_id": None,
}


class PolicyDraftList(BaseModel):
    """The calling agent's own drafts, newest first (500 at most)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"policy_drafts": [EXAMPLE_DRAFT_SUMMARY]}]}
    )

    policy_drafts: list[PolicyDraftSummary] = Field(description="The drafts.")


class AgentPolicyDraft(PolicyDraftSummary):
    """One of the calling agent's drafts, with its policy."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **EXAMPLE_DRAFT_SUMMARY,
                    "policy_yaml": "version: 1\ndefault: deny\nrules: []\n",
                    "applies_to_agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
                }
            ]
        }
    )

    policy_yaml: str = Field(description="The proposed policy.")
    applies_to_agent_principal_id: str | None = Field(
        description="The agent it would bind; null for every agent of the owner.",
        examples=[EXAMPLE_AGENT_PRINCIPAL_ID],
    )


DraftStatusQuery = Annotated[
    str | None,
    Query(description="Only drafts with this status (400 for another value)."),
    WithJsonSchema({"type": "string", "enum": [s.value for s in DraftStatus]}),
]
