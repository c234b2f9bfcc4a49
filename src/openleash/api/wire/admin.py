"""Wire models of the admin routes (``/v1/admin/...``): owners, invites, agents, policies,
signing keys and the audit log. No response carries a secret but the invite tokens, shown once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from openleash.api.wire.agent import AgentSelf
from openleash.api.wire.common import WireModel
from openleash.api.wire.fields import (
    EXAMPLE_AGENT_PRINCIPAL_ID,
    EXAMPLE_OWNER_ID,
    EXAMPLE_PUBLIC_KEY,
    EXAMPLE_TIME,
    EXAMPLE_UUID,
    AnyJsonObject,
    Omitted,
    time_field,
    uuid_field,
)
from openleash.api.wire.public import BASE, PublicKey
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import Status

# -- owners and invites -------------------------------------------------------------------------


class CreateUserRequest(WireModel):
    """A new owner; other fields are ignored."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"display_name": "Ada Lovelace"}]})

    display_name: str = Field(
        min_length=1,
        description="The owner's name (trimmed; must not be blank).",
        examples=["Ada Lovelace"],
    )


class UserCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_principal_id": EXAMPLE_OWNER_ID,
                    "display_name": "Ada Lovelace",
                    "status": "ACTIVE",
                    "identity_assurance_level": "NONE",
                    "created_at": EXAMPLE_TIME,
                }
            ]
        }
    )

    user_principal_id: str = uuid_field("The owner's id.", examples=[EXAMPLE_OWNER_ID])
    display_name: str = Field(description="The owner's name.", examples=["Ada Lovelace"])
    status: Status = Field(description="ACTIVE.")
    identity_assurance_level: Literal["NONE"] = Field(
        description="How the owner's identity was checked: not at all."
    )
    created_at: str = time_field("When the owner was created.")


class User(UserCreated):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_principal_id": EXAMPLE_OWNER_ID,
                    "display_name": "Ada Lovelace",
                    "status": "ACTIVE",
                    "identity_assurance_level": "NONE",
                    "created_at": EXAMPLE_TIME,
                    "system_roles": [],
                }
            ]
        }
    )

    system_roles: list[str] = Field(description="System roles (none).", examples=[[]])


class UserList(BaseModel):
    """Every owner (no secrets)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "users": [
                        {
                            "user_principal_id": EXAMPLE_OWNER_ID,
                            "display_name": "Ada Lovelace",
                            "status": "ACTIVE",
                            "identity_assurance_level": "NONE",
                            "created_at": EXAMPLE_TIME,
                            "system_roles": [],
                        }
                    ]
                }
            ]
        }
    )

    users: list[User] = Field(description="The owners.")


class _Invite(BaseModel):
    invite_id: str = uuid_field("The invite's id.")
    invite_token: str = Field(
        description="The invite's secret: shown once, stored only as a hash.",
        examples=["AbCdEf0123456789abcdef0123456789"],
    )
    expires_at: str = time_field("When the invite expires unused.")


class SetupInvite(_Invite):
    """A single-use invite for an owner to set a passphrase."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "invite_id": EXAMPLE_UUID,
                    "invite_token": "AbCdEf0123456789abcdef0123456789",
                    "expires_at": EXAMPLE_TIME,
                    "setup_url": f"{BASE}/gui/login/setup?invite_id={EXAMPLE_UUID}"
                    "&invite_token=AbCdEf0123456789abcdef0123456789",
                }
            ]
        }
    )

    setup_url: str = Field(description="The link to give the owner.")


class AgentInvite(_Invite):
    """A single-use invite for an agent to enrol for an owner (ACTIVE at once)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "invite_id": EXAMPLE_UUID,
                    "invite_token": "AbCdEf0123456789abcdef0123456789",
                    "expires_at": EXAMPLE_TIME,
                    "invite_url": f"{BASE}/v1/agents/register-with-invite?invite_id="
                    f"{EXAMPLE_UUID}&invite_token=AbCdEf0123456789abcdef0123456789",
                }
            ]
        }
    )

    invite_url: str = Field(description="The link to give the agent (GET explains, POST enrols).")


# -- agents -------------------------------------------------------------------------------------


EXAMPLE_AGENT: JsonObject = {
    "agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
    "agent_id": "shopping-agent",
    "owner_type": "user",
    "owner_id": EXAMPLE_OWNER_ID,
    "status": "ACTIVE",
    "attributes": {},
    "created_at": EXAMPLE_TIME,
    "revoked_at": None,
    "webhook_url": "",
}


class AgentRecord(AgentSelf):
    """An agent (no secrets, no key)."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_AGENT]})

    revoked_at: str | None = time_field("When it was revoked.")


class AgentList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"agents": [EXAMPLE_AGENT]}]})

    agents: list[AgentRecord] = Field(description="The agents.")


class AgentRevoked(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID, "status": "REVOKED"}]
        }
    )

    agent_principal_id: str = Field(
        description="The revoked agent.", examples=[EXAMPLE_AGENT_PRINCIPAL_ID]
    )
    status: Literal["REVOKED"] = Field(description="Its signatures no longer verify.")


# -- policies -----------------------------------------------------------------------------------


EXAMPLE_POLICY: JsonObject = {
    "policy_id": EXAMPLE_UUID,
    "owner_type": "user",
    "owner_id": EXAMPLE_OWNER_ID,
    "applies_to_agent_principal_id": None,
    "name": "Small purchases",
    "description": None,
    "created_at": EXAMPLE_TIME,
    "updated_at": EXAMPLE_TIME,
    "policy_yaml": "version: 1\ndefault: deny\nrules: []\n",
}


class StoredPolicy(BaseModel):
    """A policy and its text."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_POLICY]})

    policy_id: str = uuid_field("The policy's id.")
    owner_type: str = Field(description="`user`.", examples=["user"])
    owner_id: str = Field(description="Its owner.", examples=[EXAMPLE_OWNER_ID])
    applies_to_agent_principal_id: str | None = Field(
        description="The agent it was made for; null for the owner's agents.",
        examples=[EXAMPLE_AGENT_PRINCIPAL_ID],
    )
    name: str | None = Field(description="Its name.", examples=["Small purchases"])
    description: str | None = Field(description="Its description.")
    created_at: str = time_field("When it was created.")
    updated_at: str = time_field("When it last changed.")
    policy_yaml: str = Field(description="The policy.")


class PolicyList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"policies": [EXAMPLE_POLICY]}]})

    policies: list[StoredPolicy] = Field(description="The policies.")


# -- signing keys -------------------------------------------------------------------------------


EXAMPLE_SERVER_KEY: JsonObject = {
    "kid": "key-2026-12-03",
    "kty": "OKP",
    "alg": "EdDSA",
    "public_key_b64": EXAMPLE_PUBLIC_KEY,
    "created_at": EXAMPLE_TIME,
    "revoked_at": None,
    "active": True,
}


class ServerKey(PublicKey):
    """A signing key as the admin sees it (never the private key)."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_SERVER_KEY]})

    active: bool = Field(description="Whether it signs new tokens (exactly one key does).")


class ServerKeyList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"keys": [EXAMPLE_SERVER_KEY]}]})

    keys: list[ServerKey] = Field(description="Every key, revoked ones included.")


class KeyRevoked(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"kid": "key-2026-12-01", "revoked": True}]}
    )

    kid: str = Field(description="The revoked key.", examples=["key-2026-12-01"])
    revoked: Literal[True] = Field(description="Nothing it signed verifies any more.")


# -- the audit log ------------------------------------------------------------------------------


class AuditEvent(BaseModel):
    event_id: str = uuid_field("The event's id.")
    timestamp: str = time_field("When it happened.")
    event_type: str = Field(
        description="What happened.", examples=["DECISION_CREATED", "AGENT_REGISTERED"]
    )
    principal_id: str | None = Field(
        description="Who did it (an agent or owner principal id), when known.",
        examples=[EXAMPLE_AGENT_PRINCIPAL_ID],
    )
    action_id: str | None = Field(description="The action, for decisions.")
    decision_id: str | None = Field(description="The decision, for decisions.")
    metadata_json: AnyJsonObject = Field(description="The event's details, by event type.")


class AuditPage(BaseModel):
    """Audit events, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "event_id": EXAMPLE_UUID,
                            "timestamp": EXAMPLE_TIME,
                            "event_type": "USER_CREATED",
                            "principal_id": EXAMPLE_OWNER_ID,
                            "action_id": None,
                            "decision_id": None,
                            "metadata_json": {"owner_id": EXAMPLE_OWNER_ID},
                        }
                    ],
                    "total": 1,
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[AuditEvent] = Field(description="The page.")
    total: int = Field(description="Events matching the filters, in all.", examples=[1])
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last.", examples=["42"]
    )


# -- query parameters ---------------------------------------------------------------------------


def _filter(description: str, *examples: str) -> Any:
    return Query(description=description, examples=list(examples) or None)


OwnerFilter = Annotated[
    str | Omitted, _filter("Only those of this owner (user_principal_id).", EXAMPLE_OWNER_ID)
]
AuditLimit = Annotated[
    str | Omitted,
    Query(description="How many events, from 1 to 500 (default 50)."),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
]
AuditCursor = Annotated[
    str | Omitted,
    Query(description="The `next_cursor` of the previous page."),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{1,18}$", "examples": ["42"]}),
]
AgentPrincipalFilter = Annotated[
    str | Omitted, _filter("Only events of this agent.", EXAMPLE_AGENT_PRINCIPAL_ID)
]
EventTypeFilter = Annotated[str | Omitted, _filter("Only events of this type.", "DECISION_CREATED")]
PrincipalFilter = Annotated[str | Omitted, _filter("Only events done by this principal.")]
ActionTypeFilter = Annotated[
    str | Omitted, _filter("Only decisions of this action type.", "purchase")
]
ResultFilter = Annotated[str | Omitted, _filter("Only decisions with this result.", "DENY")]
SinceFilter = Annotated[str | Omitted, _filter("Only events at or after this time.", EXAMPLE_TIME)]
UntilFilter = Annotated[str | Omitted, _filter("Only events before this time.", EXAMPLE_TIME)]
