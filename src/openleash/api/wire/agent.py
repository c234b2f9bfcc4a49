"""Wire models of the routes a signed agent calls, and the action and decision they share with
the playground and AuthZEN.

Agent bodies are read as the signed bytes and parsed by the services (their codes and
messages are part of the wire), so these request models document them; they do not read them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from openleash.api.wire.common import WireModel
from openleash.api.wire.fields import (
    EXAMPLE_AGENT_PRINCIPAL_ID,
    EXAMPLE_HASH,
    EXAMPLE_OWNER_ID,
    EXAMPLE_TIME,
    EXAMPLE_UUID,
    Omitted,
    omittable,
    time_field,
    uuid_field,
)
from openleash.domain.models import ApprovalStatus, AssuranceLevel, DraftStatus, Result, Status
from openleash.policy.model import LIMIT_BY
from openleash.service.bodies import MAX_TEXT

HASH_PATTERN = "^[0-9a-f]{64}$"
RiskLevel = Literal["low", "medium", "high", "critical"]
TrustProfile = Literal["LOW", "MEDIUM", "HIGH", "REGULATED"]
LimitKind = Literal["spend", "count"]
LimitPer = Literal["agent", "owner"]
# These spell what the engine defines (policy.model, domain.action); a test keeps them equal.

EXAMPLE_ACTION: dict[str, Any] = {
    "action_id": EXAMPLE_UUID,
    "action_type": "purchase",
    "requested_at": EXAMPLE_TIME,
    "principal": {"agent_id": "shopping-agent"},
    "subject": {"principal_id": EXAMPLE_OWNER_ID},
    "payload": {"amount_minor": 2500, "currency": "EUR", "merchant": "books.example"},
}


# -- the action ---------------------------------------------------------------------------------


class ActionPrincipal(WireModel):
    agent_id: str = Field(
        min_length=1,
        description="The acting agent's agent_id; must equal the signing agent (X-Agent-Id).",
        examples=["shopping-agent"],
    )


class ActionSubject(WireModel):
    principal_id: str = uuid_field(
        "The owner the agent acts for (their user_principal_id).", examples=[EXAMPLE_OWNER_ID]
    )


class RelyingParty(WireModel):
    rp_id: str | Omitted = omittable(
        "The counterparty's id, if it has one (a UUID).", examples=[EXAMPLE_UUID]
    )
    domain: str | Omitted = omittable(
        "The counterparty's domain (what `counterparties` and proofs name).",
        examples=["books.example"],
    )
    trust_profile: TrustProfile | Omitted = omittable(
        "How much the counterparty requires; HIGH and REGULATED always get a proof token.",
        examples=["HIGH"],
    )


class ActionRequest(WireModel):
    """One action an agent wants to take (inv §4.1). Unknown keys are accepted and removed
    before the action hash is computed; ``payload`` is kept verbatim."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_ACTION]})

    action_id: str = uuid_field(
        "A UUID the agent chooses for this action; send it unchanged to use an approval."
    )
    action_type: str = Field(
        min_length=1,
        description="What the agent wants to do, as the policy's `action` patterns name it.",
        examples=["purchase", "communication.email.send"],
    )
    requested_at: str = Field(
        description="When the agent asked (ISO 8601); part of the action hash.",
        examples=[EXAMPLE_TIME],
    )
    principal: ActionPrincipal = Field(description="Who acts.")
    subject: ActionSubject = Field(description="For whom.")
    relying_party: RelyingParty | Omitted = omittable(
        "The counterparty of the action, if there is one."
    )
    payload: dict[str, Any] = Field(
        description="The details the policy judges (amounts in minor units, recipients...).",
        examples=[{"amount_minor": 2500, "currency": "EUR"}],
    )


# -- the decision (the answer of /v1/authorize, also given by the playground and AuthZEN) -------


class Obligation(BaseModel):
    obligation_id: str = uuid_field("This obligation's id.")
    type: str = Field(
        description="What must happen before the action: HUMAN_APPROVAL, STEP_UP_AUTH, "
        "DEPOSIT, COUNTERPARTY_ATTESTATION, or a type the policy names.",
        examples=["HUMAN_APPROVAL"],
    )
    status: Literal["PENDING"] = Field(description="Always PENDING when decided.")
    details_json: dict[str, Any] = Field(
        description="The obligation's parameters from the policy (`{}` when none).",
        examples=[{"min_assurance_level": "HIGH"}],
    )


class GrantedLimit(BaseModel):
    kind: LimitKind = Field(description="`spend` counts minor units, `count` actions.")
    max: float = Field(description="The limit of the window.", examples=[15000])
    used: float = Field(description="Used in the window before this action.", examples=[2500])
    this: float = Field(description="What this action uses.", examples=[1200])
    remaining: float = Field(description="`max - used - this`.", examples=[11300])
    window: str = Field(description="The window, as the policy writes it.", examples=["24h"])
    per: LimitPer = Field(description="Counted per agent or for the owner's agents together.")
    by: dict[str, str] = Field(
        description=f"The values this budget is kept for (keys among {', '.join(LIMIT_BY)}).",
        examples=[{"currency": "EUR"}],
    )


class ApprovalProvenance(BaseModel):
    approval_request_id: str = uuid_field("The approval request the owner approved.")
    approved_by: str | None = Field(
        description="The owner who approved (user_principal_id).", examples=[EXAMPLE_OWNER_ID]
    )
    approved_at: str | None = time_field("When the owner approved.")
    assurance_level: AssuranceLevel | None = Field(
        description="How surely the owner answered (a step-up confirms more)."
    )


EXAMPLE_DECISION: dict[str, Any] = {
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


class AuthorizeResponse(BaseModel):
    """A decision on one action (inv §4.3): HTTP 200 whatever the result."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_DECISION]})

    decision_id: str = uuid_field("This decision's id (an approval request names it).")
    action_id: str = Field(description="The action's action_id.", examples=[EXAMPLE_UUID])
    action_hash: str = Field(
        pattern=HASH_PATTERN,
        description="SHA-256 hex of the canonical (RFC 8785) action.",
        examples=[EXAMPLE_HASH],
    )
    result: Result = Field(description="The decision; act only on ALLOW.")
    matched_rule_id: str | None = Field(
        description="The rule that decided; null for the policy's default or an approval.",
        examples=["small_purchases"],
    )
    reason: str = Field(
        description="Why, in fixed wording.",
        examples=['Allowed by rule "small_purchases"', "No rule matched; default policy: deny"],
    )
    proof_token: str | None = Field(
        description="A PASETO v4.public proof for the counterparty, when the rule (or the "
        "relying party's trust profile) asks for one and the result is ALLOW.",
        examples=["v4.public.eyJpc3MiOiJvcGVubGVhc2gi..."],
    )
    proof_expires_at: str | None = time_field("When the proof token expires.")
    obligations: list[Obligation] = Field(
        description="What must happen first (approval, step-up...), in the policy's order."
    )
    risk_level: RiskLevel | None = Field(
        description="The action's risk level by the policy; null only when evaluation failed "
        "closed.",
        examples=["low"],
    )
    limits: list[GrantedLimit] | Omitted = omittable(
        "For an ALLOW under limits: each limit with what this action used of it."
    )
    explanation: str | Omitted = omittable(
        "For any result but ALLOW: why, in the owner's terms.",
        examples=["Purchases above 100.00 need your approval"],
    )
    approval: ApprovalProvenance | Omitted = omittable(
        "When the action was allowed with an approval token: who approved it, and how."
    )


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
    attributes: dict[str, Any] = Field(
        description="Attributes given at enrolment.", examples=[{"model": "gpt"}]
    )
    created_at: str = time_field("When the agent was enrolled.")
    webhook_url: str = Field(
        description="Where events for the agent are delivered; empty when none.",
        examples=["https://agent.example/openleash/events", ""],
    )


class UsageRow(BaseModel):
    by: dict[str, Any] = Field(
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
    context: dict[str, Any] | None = Field(
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


EXAMPLE_DRAFT_SUMMARY: dict[str, Any] = {
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
