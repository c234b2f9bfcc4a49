"""Wire models of the owner's agents (activation and revocation) and of the live event
stream. The owner's agent list, usage, invites and audit page have the shapes the admin and
agent routes answer with, and are documented with their models
(:mod:`openleash.api.wire.admin`, :mod:`openleash.api.wire.agent`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, RootModel

from openleash.api.wire.fields import EXAMPLE_AGENT_PRINCIPAL_ID, uuid_field
from openleash.api.wire.owner import AGENT_ID, APPROVAL_REQUEST_ID, SecondFactor, examples


class OwnerAgentStatusBody(SecondFactor):
    model_config = examples({"status": "ACTIVE"}, {"status": "REVOKED", "totp_code": "492039"})

    status: Literal["ACTIVE", "REVOKED"] = Field(
        description="`ACTIVE` activates an agent awaiting activation (400 `INVALID_STATUS` for "
        "any other); `REVOKED` revokes an active or pending one (400 `INVALID_STATUS` when it "
        "already is). A revoked agent enrols again with a new invite."
    )


class OwnerAgentStatusResult(BaseModel):
    model_config = examples(
        {
            "agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
            "agent_id": AGENT_ID,
            "status": "REVOKED",
        }
    )

    agent_principal_id: str = uuid_field("The agent changed.")
    agent_id: str = Field(description="Its agent id.")
    status: Literal["ACTIVE", "REVOKED"] = Field(description="Its status now.")


# -- live events (text/event-stream) --------------------------------------------------------------


class OwnerStreamAudit(BaseModel):
    """An audit record of the owner was appended."""

    model_config = examples(
        {
            "type": "audit",
            "seq": 1042,
            "agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
            "event_type": "DECISION_CREATED",
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
            "agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
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
            "agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
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
            "agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
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
    f'data: {{"type":"audit","seq":1042,"agent_principal_id":"{EXAMPLE_AGENT_PRINCIPAL_ID}",'
    '"event_type":"APPROVAL_REQUEST_CREATED","result":null}\n\n'
    f'data: {{"type":"approval_created","agent_principal_id":"{EXAMPLE_AGENT_PRINCIPAL_ID}",'
    f'"approval_request_id":"{APPROVAL_REQUEST_ID}"}}\n\n'
)
