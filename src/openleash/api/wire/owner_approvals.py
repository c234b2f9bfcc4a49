"""Wire models of the approval requests the owner's agents file, and the owner's answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from openleash.api.wire.fields import (
    EXAMPLE_AGENT_PRINCIPAL_ID,
    EXAMPLE_OWNER_ID,
    EXAMPLE_TIME,
    AnyJsonObject,
    time_field,
    uuid_field,
)
from openleash.api.wire.owner import (
    AGENT_ID,
    APPROVAL_REQUEST_ID,
    DECISION_ID,
    LATER,
    SecondFactor,
    examples,
)
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import ApprovalStatus, AssuranceLevel

_ACTION: JsonObject = {
    "action_id": "3f2e1d0c-9b8a-4765-8432-10fedcba9876",
    "action_type": "purchase",
    "requested_at": EXAMPLE_TIME,
    "principal": {"agent_id": AGENT_ID},
    "subject": {"principal_id": EXAMPLE_OWNER_ID},
    "payload": {"amount_minor": 50000, "currency": "EUR", "merchant_domain": "shop.example"},
}
_REQUEST: JsonObject = {
    "approval_request_id": APPROVAL_REQUEST_ID,
    "decision_id": DECISION_ID,
    "owner_type": "user",
    "owner_id": EXAMPLE_OWNER_ID,
    "agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
    "agent_id": AGENT_ID,
    "kind": "approval",
    "min_assurance_level": None,
    "action_type": "purchase",
    "action_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "action": _ACTION,
    "justification": "The printer ran out of toner",
    "context": None,
    "matched_rule_id": "large_purchases",
    "reason": "Rule large_purchases requires REQUIRE_APPROVAL",
    "explanation": None,
    "status": "PENDING",
    "created_at": EXAMPLE_TIME,
    "expires_at": LATER,
    "resolved_at": None,
    "resolved_by": None,
    "denial_reason": None,
    "assurance_level": None,
    "approval_token_expires_at": None,
    "consumed_at": None,
}


class OwnerApprovalRequest(BaseModel):
    """Everything the owner needs to decide on a held action (never its approval token)."""

    model_config = examples(_REQUEST)

    approval_request_id: str = uuid_field("The request's id.")
    decision_id: str = uuid_field("The decision that held the action.")
    owner_type: Literal["user"] = Field(description="Always `user`.")
    owner_id: str = uuid_field("The owner's id.")
    agent_principal_id: str = uuid_field("The agent that asks.")
    agent_id: str = Field(description="Its agent id.")
    kind: Literal["approval", "step_up"] = Field(
        description="`approval` (the policy asks for a human) or `step_up` (it asks for an "
        "assurance level: approving needs the second factor, and for HIGH the passphrase)."
    )
    min_assurance_level: AssuranceLevel | None = Field(
        description="The assurance the answer must reach, when the policy asks for one."
    )
    action_type: str = Field(description="The action's type.")
    action_hash: str = Field(description="SHA-256 hex of the canonical action.")
    action: AnyJsonObject = Field(description="The action as the agent sent it.")
    justification: str | None = Field(description="Why the agent asks.")
    context: AnyJsonObject | None = Field(description="What else the agent sent for the owner.")
    matched_rule_id: str | None = Field(description="The rule that held the action.")
    reason: str | None = Field(description="Why, as the decision said.")
    explanation: str | None = Field(description="The decision's explanation, if any.")
    status: ApprovalStatus = Field(
        description="`PENDING`, `APPROVED`, `DENIED`, or `EXPIRED` (pending past `expires_at`)."
    )
    created_at: str = time_field("When the agent asked.")
    expires_at: str = time_field("When it expires unanswered.")
    resolved_at: str | None = time_field("When the owner answered.")
    resolved_by: str | None = Field(description="Who answered.")
    denial_reason: str | None = Field(description="Why it was denied, if the owner said.")
    assurance_level: AssuranceLevel | None = Field(
        description="The assurance the owner's approval reached."
    )
    approval_token_expires_at: str | None = time_field(
        "Until when the approval token may be used, once approved."
    )
    consumed_at: str | None = time_field("When the agent used the approval token (it works once).")


class OwnerApprovalRequestList(BaseModel):
    model_config = examples({"approval_requests": [_REQUEST]})

    approval_requests: list[OwnerApprovalRequest] = Field(description="The requests, newest first.")


class OwnerApproveBody(SecondFactor):
    model_config = examples(
        {},
        {"totp_code": "492039"},
        {"totp_code": "492039", "passphrase": "correct horse battery staple"},
    )

    passphrase: str | None = Field(
        default=None,
        description="The owner's passphrase again: with the second factor it reaches assurance "
        "HIGH, which some step-ups need (403 `STEP_UP_REQUIRED` without). A wrong one is "
        "401 `INVALID_CREDENTIALS`.",
    )


class OwnerApprovalApproved(BaseModel):
    model_config = examples(
        {
            "approval_request_id": APPROVAL_REQUEST_ID,
            "status": "APPROVED",
            "approval_token": "v4.public.eyJwdXJwb3NlIjoiYXBwcm92YWwi...",
            "approval_token_expires_at": LATER,
            "assurance_level": "SUBSTANTIAL",
        }
    )

    approval_request_id: str = uuid_field("The request approved.")
    status: Literal["APPROVED"] = Field(description="It is approved.")
    approval_token: str | None = Field(
        description="The approval token (PASETO v4.public) the agent sends with the same "
        "action to `/v1/authorize`; the agent can also fetch it."
    )
    approval_token_expires_at: str = time_field("Until when it may be used.")
    assurance_level: AssuranceLevel = Field(
        description="What the answer reached: `LOW` (the session alone), `SUBSTANTIAL` (a "
        "second factor), `HIGH` (a second factor and the passphrase)."
    )


class OwnerApprovalDenied(BaseModel):
    model_config = examples({"approval_request_id": APPROVAL_REQUEST_ID, "status": "DENIED"})

    approval_request_id: str = uuid_field("The request denied.")
    status: Literal["DENIED"] = Field(description="It is denied.")
