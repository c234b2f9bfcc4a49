"""Wire models of the owner's agents, agent invites, usage, audit trail and live events."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, RootModel

from openleash.api.wire.owner import (
    AGENT_ID,
    AGENT_PRINCIPAL_ID,
    APPROVAL_REQUEST_ID,
    AT,
    LATER,
    OWNER_ID,
    SecondFactor,
    Timestamp,
    examples,
)
from openleash.domain.models import Status

_AGENT = {
    "agent_principal_id": AGENT_PRINCIPAL_ID,
    "agent_id": AGENT_ID,
    "owner_type": "user",
    "owner_id": OWNER_ID,
    "status": "ACTIVE",
    "attributes": {"team": "purchasing"},
    "created_at": AT,
    "revoked_at": None,
    "webhook_url": "https://agents.example.com/openleash/webhook",
}


class OwnerAgent(BaseModel):
    """One of the owner's agents (every enrolment, revoked ones too), without secrets."""

    model_config = examples(_AGENT)

    agent_principal_id: str = Field(description="The enrolment's id; routes name agents by it.")
    agent_id: str = Field(description="The id the agent signs with (`X-Agent-Id`).")
    owner_type: Literal["user"] = Field(description="Always `user`.")
    owner_id: str = Field(description="The owner's id.")
    status: Status = Field(
        description="`ACTIVE`; `PENDING` when it enrolled by challenge and awaits the owner's "
        "activation; `REVOKED`."
    )
    attributes: dict[str, Any] = Field(description="What the agent said about itself.")
    created_at: Timestamp = Field(description="When it enrolled.")
    revoked_at: Timestamp | None = Field(description="When it was revoked; null while not.")
    webhook_url: str = Field(description="Where its events are delivered; empty for none.")


class OwnerAgentList(BaseModel):
    model_config = examples({"agents": [_AGENT]})

    agents: list[OwnerAgent] = Field(description="The owner's agents, oldest first.")


class OwnerAgentStatusBody(SecondFactor):
    model_config = examples({"status": "ACTIVE"}, {"status": "REVOKED", "totp_code": "492039"})

    status: Literal["ACTIVE", "REVOKED"] = Field(
        description="`ACTIVE` activates an agent awaiting activation (400 `INVALID_STATUS` for "
        "any other); `REVOKED` revokes an active or pending one (400 `INVALID_STATUS` when it "
        "already is). A revoked agent enrols again with a new invite."
    )


class OwnerAgentStatusResult(BaseModel):
    model_config = examples(
        {"agent_principal_id": AGENT_PRINCIPAL_ID, "agent_id": AGENT_ID, "status": "REVOKED"}
    )

    agent_principal_id: str = Field(description="The agent changed.")
    agent_id: str = Field(description="Its agent id.")
    status: Literal["ACTIVE", "REVOKED"] = Field(description="Its status now.")


class OwnerLimitUsageEntry(BaseModel):
    model_config = examples(
        {"by": {"currency": "EUR"}, "used": 12500, "count": 3, "remaining": 37500}
    )

    by: dict[str, Any] = Field(
        description="The values of the limit's `by` fields this entry counts (empty without)."
    )
    used: float = Field(
        description="Spent (minor units) for a `spend` limit, actions for a `count` limit."
    )
    count: int = Field(description="Allowed actions counted.", ge=0)
    remaining: float = Field(description="What is left of `max` in this window.", ge=0)


class OwnerLimitUsage(BaseModel):
    model_config = examples(
        {
            "rule_id": "small_purchases",
            "action": "purchase",
            "kind": "spend",
            "max": 50000,
            "window": "30d",
            "per": "agent",
            "by": ["currency"],
            "since": AT,
            "usage": [{"by": {"currency": "EUR"}, "used": 12500, "count": 3, "remaining": 37500}],
        }
    )

    rule_id: str = Field(description="The rule the limit belongs to.")
    action: str = Field(description="The rule's action pattern.")
    kind: Literal["spend", "count"] = Field(
        description="`spend`: minor units spent; `count`: actions."
    )
    max: float = Field(description="The most the window allows.")
    window: str = Field(description="The window, as the policy writes it.", examples=["30d"])
    per: Literal["agent", "owner"] = Field(
        description="Counted for this agent, or for every agent of the owner."
    )
    by: list[str] = Field(description="Fields counted separately (e.g. `currency`).")
    since: Timestamp = Field(description="Where the current window starts.")
    usage: list[OwnerLimitUsageEntry] = Field(
        description="The use in the window: one entry, or one per value of the `by` fields "
        "seen (none yet: nothing used)."
    )


class OwnerAgentUsage(BaseModel):
    """How much of each limit of the agent's effective policy it has used."""

    model_config = examples(
        {
            "agent_principal_id": AGENT_PRINCIPAL_ID,
            "agent_id": AGENT_ID,
            "as_of": AT,
            "policy_hash": "sha256:4b1f0c...",
            "limits": [],
        }
    )

    agent_principal_id: str = Field(description="The agent.")
    agent_id: str = Field(description="Its agent id.")
    as_of: Timestamp = Field(description="When the use was counted.")
    policy_hash: str | None = Field(
        description="The hash of the agent's effective policy; null when it has none."
    )
    limits: list[OwnerLimitUsage] = Field(description="Every limit of that policy.")


class OwnerAgentInvite(BaseModel):
    """A single-use invite that enrols a new agent of this owner (active at once)."""

    model_config = examples(
        {
            "invite_id": "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a",
            "invite_token": "q0Vb1w7mYh3kR2tN8sXc4Lz6Pd9Jf5Ga1Ue0Ho7Ki3M",
            "expires_at": LATER,
            "invite_url": "https://openleash.example.com/v1/agents/register-with-invite"
            "?invite_id=0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"
            "&invite_token=q0Vb1w7mYh3kR2tN8sXc4Lz6Pd9Jf5Ga1Ue0Ho7Ki3M",
        }
    )

    invite_id: str = Field(description="The invite's id.")
    invite_token: str = Field(description="Its secret token (shown this once).")
    expires_at: Timestamp = Field(description="When it expires unused.")
    invite_url: str = Field(
        description="Where the agent learns how to redeem it (both values in the query)."
    )


# -- audit ----------------------------------------------------------------------------------------

_EVENT = {
    "event_id": "61c0e8d2-5b4a-4f3e-9d2c-1b0a9f8e7d6c",
    "timestamp": AT,
    "event_type": "APPROVAL_REQUEST_APPROVED",
    "principal_id": OWNER_ID,
    "action_id": None,
    "decision_id": None,
    "metadata_json": {"approval_request_id": APPROVAL_REQUEST_ID, "owner_id": OWNER_ID},
}


class OwnerAuditEvent(BaseModel):
    model_config = examples(_EVENT)

    event_id: str = Field(description="The record's id.")
    timestamp: Timestamp = Field(description="When it happened.")
    event_type: str = Field(
        description="What happened, e.g. `ACTION_DECIDED`, `POLICY_UPSERTED`, `USER_LOGIN`."
    )
    principal_id: str | None = Field(description="Who did it (an owner or agent principal).")
    action_id: str | None = Field(description="The action decided, for decisions.")
    decision_id: str | None = Field(description="The decision, for decisions.")
    metadata_json: dict[str, Any] = Field(description="The event's details.")


class OwnerAuditPage(BaseModel):
    model_config = examples({"items": [_EVENT], "total": 1, "next_cursor": None})

    items: list[OwnerAuditEvent] = Field(description="The events, newest first.")
    total: int = Field(description="How many events match the filters in all.", ge=0)
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page."
    )


# -- live events (text/event-stream) --------------------------------------------------------------


class OwnerStreamAudit(BaseModel):
    """An audit record of the owner was appended."""

    model_config = examples(
        {
            "type": "audit",
            "seq": 1042,
            "agent_principal_id": AGENT_PRINCIPAL_ID,
            "event_type": "ACTION_DECIDED",
            "result": "ALLOW",
        }
    )

    type: Literal["audit"] = Field(description="The kind of message.")
    seq: int = Field(description="The record's place in the audit log.")
    agent_principal_id: str | None = Field(description="The agent concerned, if any.")
    event_type: str = Field(description="The record's event type.")
    result: str | None = Field(description="The decision's result, for decisions.")


class OwnerStreamApprovalCreated(BaseModel):
    """An agent asked for an approval: the inbox has a new request."""

    model_config = examples(
        {
            "type": "approval_created",
            "agent_principal_id": AGENT_PRINCIPAL_ID,
            "approval_request_id": APPROVAL_REQUEST_ID,
        }
    )

    type: Literal["approval_created"] = Field(description="The kind of message.")
    agent_principal_id: str | None = Field(description="The agent that asked.")
    approval_request_id: str | None = Field(description="The new request.")


class OwnerStreamApprovalResolved(BaseModel):
    """A request of the inbox was approved or denied."""

    model_config = examples(
        {
            "type": "approval_resolved",
            "agent_principal_id": AGENT_PRINCIPAL_ID,
            "approval_request_id": APPROVAL_REQUEST_ID,
            "status": "DENIED",
        }
    )

    type: Literal["approval_resolved"] = Field(description="The kind of message.")
    agent_principal_id: str | None = Field(description="The agent that asked.")
    approval_request_id: str | None = Field(description="The request resolved.")
    status: Literal["APPROVED", "DENIED"] = Field(description="How it was resolved.")


class OwnerStreamMessage(
    RootModel[
        Annotated[
            OwnerStreamAudit | OwnerStreamApprovalCreated | OwnerStreamApprovalResolved,
            Field(discriminator="type"),
        ]
    ]
):
    """The JSON of one `data:` line of ``GET /v1/owner/events/stream``."""

    model_config = examples(
        {
            "type": "approval_created",
            "agent_principal_id": AGENT_PRINCIPAL_ID,
            "approval_request_id": APPROVAL_REQUEST_ID,
        }
    )


#: The stream as the document shows it: text, one message per event.
EVENT_STREAM_DESCRIPTION = (
    "Server-Sent Events. The stream opens with `retry: 3000` and the comment `: connected`, "
    "then sends one `data:` line per message, each the JSON of an `OwnerStreamMessage`, for the "
    "owner's audit records appended after it opened (by any process); a comment `: ping` keeps "
    "a quiet connection open. It ends with the session (expired, logged out, passphrase reset, "
    "owner deactivated): reconnect after logging in again."
)
EVENT_STREAM_EXAMPLE = (
    "retry: 3000\n: connected\n\n"
    f'data: {{"type":"audit","seq":1042,"agent_principal_id":"{AGENT_PRINCIPAL_ID}",'
    '"event_type":"APPROVAL_REQUEST_CREATED","result":null}\n\n'
    f'data: {{"type":"approval_created","agent_principal_id":"{AGENT_PRINCIPAL_ID}",'
    f'"approval_request_id":"{APPROVAL_REQUEST_ID}"}}\n\n'
)
