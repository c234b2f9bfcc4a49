"""Wire models of the owner's policies and of the policy drafts their agents propose."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from openleash.api.wire.fields import (
    EXAMPLE_AGENT_PRINCIPAL_ID,
    EXAMPLE_OWNER_ID,
    EXAMPLE_TIME,
    time_field,
    uuid_field,
)
from openleash.api.wire.owner import (
    AGENT_ID,
    POLICY_DRAFT_ID,
    POLICY_ID,
    POLICY_YAML,
    SecondFactor,
    examples,
)
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import DraftStatus

Tier = Literal["agent", "owner_wide"]
Mode = Literal["enforce", "observe"]

_POLICY: JsonObject = {
    "policy_id": POLICY_ID,
    "owner_type": "user",
    "owner_id": EXAMPLE_OWNER_ID,
    "applies_to_agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
    "name": "Small purchases",
    "description": "Up to 100 EUR without asking",
    "created_at": EXAMPLE_TIME,
    "updated_at": EXAMPLE_TIME,
    "policy_yaml": POLICY_YAML,
    "tier": "agent",
    "rank": 100,
    "mode": "enforce",
}


class OwnerPolicy(BaseModel):
    """One of the owner's policies with its YAML and where it is bound."""

    model_config = examples(_POLICY)

    policy_id: str = uuid_field("The policy's id.")
    owner_type: Literal["user"] = Field(description="Always `user`.")
    owner_id: str = uuid_field("The owner's id.")
    applies_to_agent_principal_id: str | None = Field(
        description="The agent it is bound to; null when bound to every agent of the owner."
    )
    name: str | None = Field(description="A name for people.")
    description: str | None = Field(description="What it is for.")
    created_at: str = time_field("When it was created.")
    updated_at: str = time_field("When it last changed.")
    policy_yaml: str = Field(description="The policy (the policy language, POLICY.md).")
    tier: Tier | None = Field(
        description="`agent` (bound to one agent, decides first) or `owner_wide`; null when "
        "it is not bound."
    )
    rank: int | None = Field(
        description="Its place in its tier, lowest first; null when it is not bound."
    )
    mode: Mode | None = Field(
        description="`enforce` (decides) or `observe` (shadow mode: evaluated and recorded, "
        "never enforced); null when it is not bound."
    )


class OwnerPolicyList(BaseModel):
    model_config = examples({"policies": [_POLICY]})

    policies: list[OwnerPolicy] = Field(
        description="The owner's policies: the agent tier (by agent, then rank), then the "
        "owner-wide tier (by rank)."
    )


class OwnerPolicyCreateBody(SecondFactor):
    model_config = examples(
        {
            "policy_yaml": POLICY_YAML,
            "applies_to_agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
            "name": "Small purchases",
        },
        {"policy_yaml": POLICY_YAML, "mode": "observe"},
    )

    policy_yaml: str = Field(
        description="The policy. 400 `INVALID_POLICY` (with `details.issues`) when it is "
        "missing or does not validate."
    )
    applies_to_agent_principal_id: str | None = Field(
        default=None,
        description="Bind it to this agent of the owner (400 `INVALID_AGENT` otherwise); "
        "absent or null: to every agent of the owner.",
    )
    name: str | None = Field(default=None, description="A name for people.")
    description: str | None = Field(default=None, description="What it is for.")
    mode: Mode = Field(
        default="enforce",
        description="`enforce`, or `observe` to try it in shadow mode first.",
    )


class OwnerPolicyCreated(BaseModel):
    model_config = examples(
        {
            "policy_id": POLICY_ID,
            "user_principal_id": EXAMPLE_OWNER_ID,
            "applies_to_agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
        }
    )

    policy_id: str = uuid_field("The new policy's id.")
    user_principal_id: str = uuid_field("The owner.")
    applies_to_agent_principal_id: str | None = Field(
        description="The agent it is bound to; null for every agent of the owner."
    )


class OwnerPolicyUpdateBody(SecondFactor):
    """Only the fields present change."""

    model_config = examples(
        {"policy_yaml": POLICY_YAML, "name": "Small purchases"},
        {"applies_to_agent_principal_id": None},
    )

    policy_yaml: Annotated[str, Field(min_length=1)] | None = Field(
        default=None,
        description="The new policy (400 `INVALID_POLICY` when it does not validate); absent "
        "or null keeps it.",
    )
    name: str | None = Field(default=None, description="The new name; null removes it.")
    description: str | None = Field(
        default=None, description="The new description; null removes it."
    )
    applies_to_agent_principal_id: str | None = Field(
        default=None,
        description="When present, binds the policy anew (keeping rank and mode): to this agent "
        "of the owner, or with null to every agent of the owner. Absent: the binding stays.",
    )


class OwnerPolicyUpdated(BaseModel):
    model_config = examples({"policy_id": POLICY_ID, "status": "updated"})

    policy_id: str = uuid_field("The policy changed.")
    status: Literal["updated"] = Field(description="It changed.")


class OwnerPolicyReorderBody(SecondFactor):
    model_config = examples(
        {
            "tier": "owner_wide",
            "ordered_policy_ids": [POLICY_ID, "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5f6e"],
        }
    )

    tier: Tier = Field(description="The tier to reorder.")
    ordered_policy_ids: list[str] = Field(
        description="Every policy of the tier, each once, first decides first (400 "
        "`INVALID_BODY` for a missing, extra or repeated id).",
        json_schema_extra={"uniqueItems": True},
    )


class OwnerPoliciesReordered(BaseModel):
    model_config = examples({"reordered": 2})

    reordered: int = Field(description="How many policies were ranked (100, 200, ...).", ge=0)


class OwnerPolicyDeleteBody(SecondFactor):
    model_config = examples({}, {"totp_code": "492039"})


class OwnerPolicyDeleted(BaseModel):
    model_config = examples({"policy_id": POLICY_ID, "status": "deleted"})

    policy_id: str = uuid_field("The policy deleted, with its bindings.")
    status: Literal["deleted"] = Field(description="It is gone.")


# -- policy drafts --------------------------------------------------------------------------------

_DRAFT: JsonObject = {
    "policy_draft_id": POLICY_DRAFT_ID,
    "agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
    "agent_id": AGENT_ID,
    "owner_type": "user",
    "owner_id": EXAMPLE_OWNER_ID,
    "status": "PENDING",
    "name": "Groceries",
    "description": None,
    "policy_yaml": POLICY_YAML,
    "applies_to_agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
    "justification": "I buy groceries every week",
    "created_at": EXAMPLE_TIME,
    "resolved_at": None,
    "resolved_by": None,
    "denial_reason": None,
    "resulting_policy_id": None,
}


class OwnerPolicyDraft(BaseModel):
    """A policy one of the owner's agents proposed."""

    model_config = examples(_DRAFT)

    policy_draft_id: str = uuid_field("The draft's id.")
    agent_principal_id: str = uuid_field("The agent that proposed it.")
    agent_id: str = Field(description="Its agent id.")
    owner_type: Literal["user"] = Field(description="Always `user`.")
    owner_id: str = uuid_field("The owner's id.")
    status: DraftStatus = Field(description="`PENDING` until the owner approves or denies it.")
    name: str | None = Field(description="A name for people.")
    description: str | None = Field(description="What it is for.")
    policy_yaml: str = Field(description="The proposed policy.")
    applies_to_agent_principal_id: str | None = Field(
        description="The agent it would be bound to; null for every agent of the owner."
    )
    justification: str | None = Field(description="Why the agent asks.")
    created_at: str = time_field("When it was proposed.")
    resolved_at: str | None = time_field("When it was approved or denied.")
    resolved_by: str | None = Field(description="Who approved or denied it.")
    denial_reason: str | None = Field(description="Why it was denied, if the owner said.")
    resulting_policy_id: str | None = Field(description="The policy made of it, once approved.")


class OwnerPolicyDraftList(BaseModel):
    model_config = examples({"policy_drafts": [_DRAFT]})

    policy_drafts: list[OwnerPolicyDraft] = Field(description="The drafts, newest first.")


class OwnerDraftApproveBody(SecondFactor):
    model_config = examples({}, {"totp_code": "492039"})


class OwnerDraftApproved(BaseModel):
    model_config = examples(
        {
            "policy_draft_id": POLICY_DRAFT_ID,
            "status": "APPROVED",
            "policy_id": POLICY_ID,
            "applies_to_agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
        }
    )

    policy_draft_id: str = uuid_field("The draft approved.")
    status: Literal["APPROVED"] = Field(description="It is approved.")
    policy_id: str = uuid_field("The policy made of it, now bound and in force.")
    applies_to_agent_principal_id: str | None = Field(
        description="The agent it is bound to; null for every agent of the owner."
    )


class OwnerDraftDenied(BaseModel):
    model_config = examples({"policy_draft_id": POLICY_DRAFT_ID, "status": "DENIED"})

    policy_draft_id: str = uuid_field("The draft denied.")
    status: Literal["DENIED"] = Field(description="It is denied.")
