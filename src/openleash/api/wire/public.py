"""Wire models of the routes anyone may call: health, keys, proof verification, the playground,
the policy language, and enrolment by challenge or invite.

Enrolment bodies are checked by :mod:`openleash.service.registration` (its codes and messages
are part of the wire), so these request models document them; they do not read them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from openleash.api.wire.agent import EXAMPLE_ACTION, EXAMPLE_DECISION
from openleash.api.wire.authorize import ActionRequest, AuthorizeResponse
from openleash.api.wire.common import WireModel
from openleash.api.wire.fields import (
    EXAMPLE_AGENT_PRINCIPAL_ID,
    EXAMPLE_HASH,
    EXAMPLE_OWNER_ID,
    EXAMPLE_PUBLIC_KEY,
    EXAMPLE_TIME,
    EXAMPLE_UUID,
    AnyJsonObject,
    Omitted,
    omittable,
    time_field,
    uuid_field,
)
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import Status
from openleash.service.registration import MAX_ATTRIBUTES_BYTES, MAX_LENGTH, MIN_WEBHOOK_SECRET

BASE = "https://openleash.example"

# -- health and keys ----------------------------------------------------------------------------


class Health(BaseModel):
    """Liveness and readiness: 200 when the store takes writes, else 503 with this same body."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "time": EXAMPLE_TIME,
                    "version": "v0.1.0",
                    "store": "ok",
                    "api_reference": f"{BASE}/reference",
                    "openapi_spec": f"{BASE}/reference/openapi.json",
                }
            ]
        }
    )

    status: Literal["ok", "unavailable"] = Field(
        description="`ok` when the server can record decisions, else `unavailable` (HTTP 503)."
    )
    time: str = time_field("The server's time.")
    version: str = Field(description="The server's version.", examples=["v0.1.0"])
    store: Literal["ok", "failing", "unavailable"] = Field(
        description="The store: `ok`; `failing` (it answers, but writes fail: disk full, "
        "read-only); `unavailable` (it did not answer in time)."
    )
    api_reference: str = Field(
        description="The interactive API reference.", examples=[f"{BASE}/reference"]
    )
    openapi_spec: str = Field(
        description="This OpenAPI document.", examples=[f"{BASE}/reference/openapi.json"]
    )


class PublicKey(BaseModel):
    kid: str = Field(description="The key's id, the `kid` claim of tokens it signed.")
    kty: Literal["OKP"] = Field(description="Key type (Ed25519 is an OKP key).")
    alg: Literal["EdDSA"] = Field(description="Signature algorithm.")
    public_key_b64: str = Field(
        description="The Ed25519 public key, base64 SPKI DER.", examples=[EXAMPLE_PUBLIC_KEY]
    )
    created_at: str = time_field("When the key was made.")
    revoked_at: str | None = time_field("When it was revoked: tokens it signed no longer verify.")


class PublicKeys(BaseModel):
    """Every proof-signing key of the server, revoked ones marked."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "keys": [
                        {
                            "kid": "key-2026-12-03",
                            "kty": "OKP",
                            "alg": "EdDSA",
                            "public_key_b64": EXAMPLE_PUBLIC_KEY,
                            "created_at": EXAMPLE_TIME,
                            "revoked_at": None,
                        }
                    ]
                }
            ]
        }
    )

    keys: list[PublicKey] = Field(description="The keys.")


# -- proof verification -------------------------------------------------------------------------


class VerifyProofRequest(WireModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "v4.public.eyJ...",
                    "expected_action_hash": EXAMPLE_HASH,
                    "expected_agent_id": "shopping-agent",
                }
            ]
        }
    )

    token: str = Field(
        description="The proof token (PASETO v4.public) an agent presented; a missing or "
        "empty token is the verdict `Missing token`, not an error.",
        examples=["v4.public.eyJ..."],
    )
    expected_action_hash: str | None = Field(
        default=None,
        description="If given, the proof must be for this action (SHA-256 hex of the "
        "canonical action).",
        examples=[EXAMPLE_HASH],
    )
    expected_agent_id: str | None = Field(
        default=None,
        description="If given, the proof must be of this agent.",
        examples=["shopping-agent"],
    )


class VerifyProofResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"valid": False, "reason": "Token expired"},
                {"valid": True, "claims": {"iss": "openleash", "agent_id": "shopping-agent"}},
            ]
        }
    )

    valid: bool = Field(description="Whether the token is a valid, unexpired proof.")
    reason: str | Omitted = omittable(
        "Why it is not valid (absent when valid).",
        examples=["Token expired", "action_hash mismatch"],
    )
    claims: AnyJsonObject | Omitted = omittable(
        "The token's claims, whenever its signature verified (also with a mismatch)."
    )


# -- the playground -----------------------------------------------------------------------------


class PlaygroundRunRequest(WireModel):
    """Evaluate one action against one policy: no layering, no proof, nothing recorded."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "policy_yaml": "version: 1\ndefault: deny\nrules:\n  - id: small\n"
                    "    effect: allow\n    action: purchase\n"
                    "    constraints: { amount_max: 10000 }\n",
                    "action": EXAMPLE_ACTION,
                }
            ]
        }
    )

    policy_yaml: str = Field(
        min_length=1,
        description="The policy to try (YAML 1.2, policy language v1).",
        examples=["version: 1\ndefault: deny\nrules: []\n"],
    )
    action: ActionRequest = Field(description="The action to decide.")


class LimitCheck(BaseModel):
    kind: Literal["spend", "count"] = Field(description="`spend` or `count`.")
    used: float | None = Field(description="Used in the window; null when unknown.")
    this: float | None = Field(
        description="What this action would use; null when it names no amount."
    )
    max: float = Field(description="The limit.", examples=[15000])
    window: str = Field(description="The window.", examples=["24h"])
    per: Literal["agent", "owner"] = Field(description="Whose actions count.")
    by: dict[str, str | None] = Field(description="The budget's `by` values for this action.")
    holds: bool = Field(description="Whether the action fits.")


class RuleTrace(BaseModel):
    """How one rule judged the action; a later part is null when an earlier one failed."""

    rule_id: str = Field(description="The rule.", examples=["small_purchases"])
    pattern_match: bool = Field(description="The action type matches the rule's `action`.")
    when_match: bool | None = Field(description="Its `when` holds (true without one).")
    constraints_match: bool | None = Field(description="Its constraints hold.")
    schedule_match: bool | None = omittable(
        "Its schedule holds (only when some rule of the policy has a schedule or limits)."
    )
    limits_match: bool | None = omittable(
        "Its limits hold (only when some rule of the policy has a schedule or limits)."
    )
    limits: list[LimitCheck] | Omitted = omittable("What each of its limits counted.")
    final_match: bool = Field(description="The rule applies (the first that does decides).")


EXAMPLE_TRACE: JsonObject = {
    "rule_id": "small_purchases",
    "pattern_match": True,
    "when_match": True,
    "constraints_match": True,
    "final_match": True,
}


class PlaygroundDebug(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"trace": [EXAMPLE_TRACE]}]})

    trace: list[RuleTrace] = Field(description="Every rule, in order.")


class PlaygroundRunResponse(BaseModel):
    """The decision as /v1/authorize would give it (never with a proof), and the trace."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action_hash": EXAMPLE_HASH,
                    "decision": {**EXAMPLE_DECISION, "proof_token": None, "proof_expires_at": None},
                    "debug": {"trace": [EXAMPLE_TRACE]},
                }
            ]
        }
    )

    action_hash: str = Field(description="The action's hash.", examples=[EXAMPLE_HASH])
    decision: AuthorizeResponse = Field(description="The decision (proof_token always null).")
    debug: PlaygroundDebug = Field(description="How each rule judged the action.")


# -- the policy language ------------------------------------------------------------------------


class PolicyExample(BaseModel):
    name: str = Field(description="What the example shows.", examples=["small purchases only"])
    policy_yaml: str = Field(description="The policy.", examples=["version: 1\ndefault: deny\n"])


class PolicySchemaDocument(BaseModel):
    """Everything an agent needs to write a policy: the JSON Schema, a reference of the
    language, suggested action names, examples and tips."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "description": "OpenLeash policies are YAML documents...",
                    "json_schema": {"$schema": "http://json-schema.org/draft-07/schema#"},
                    "reference": {"effects": {}},
                    "action_taxonomy": {"note": "Suggested action type names.", "categories": {}},
                    "examples": [
                        {"name": "deny all", "policy_yaml": "version: 1\ndefault: deny\n"}
                    ],
                    "playground": {"endpoint": "POST /v1/playground/run"},
                    "tips": {"order": "The first match wins."},
                }
            ]
        }
    )

    description: str = Field(description="What a policy is and how it is evaluated.")
    json_schema: AnyJsonObject = Field(description="The JSON Schema (draft-07) of a policy.")
    reference: AnyJsonObject = Field(
        description="The language: effects, defaults, action matching, expressions, "
        "constraints, obligations, proofs, schedules, limits, risk, counterparties."
    )
    action_taxonomy: AnyJsonObject = Field(description="Suggested action type names.")
    examples: list[PolicyExample] = Field(description="Example policies.")
    playground: AnyJsonObject = Field(description="How to try a policy (the playground).")
    tips: dict[str, str] = Field(description="Advice, by topic.")


# -- enrolment ----------------------------------------------------------------------------------


def _most(field: str) -> int:
    return MAX_LENGTH[field]


class RegistrationChallengeRequest(WireModel):
    """Start enrolment: the server issues a challenge for this agent id, key (and owner)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agent_id": "shopping-agent",
                    "agent_pubkey_b64": EXAMPLE_PUBLIC_KEY,
                    "owner_type": "user",
                    "owner_id": EXAMPLE_OWNER_ID,
                }
            ]
        }
    )

    agent_id: str = Field(
        min_length=1,
        max_length=_most("agent_id"),
        description="The id the agent will sign with: visible ASCII, no spaces.",
        examples=["shopping-agent"],
    )
    agent_pubkey_b64: str = Field(
        min_length=1,
        max_length=_most("agent_pubkey_b64"),
        description="The agent's Ed25519 public key, base64 SPKI DER.",
        examples=[EXAMPLE_PUBLIC_KEY],
    )
    owner_type: str | None = Field(
        default=None,
        max_length=_most("owner_type"),
        description='`"user"` when owner_id is given.',
        examples=["user"],
    )
    owner_id: str | None = Field(
        default=None,
        max_length=_most("owner_id"),
        description="The owner to enrol with; the registration must then name the same.",
        examples=[EXAMPLE_OWNER_ID],
    )
    agent_attributes_json: AnyJsonObject | None = Field(
        default=None,
        description=f"Attributes to store with the agent (at most {MAX_ATTRIBUTES_BYTES} bytes "
        "as JSON).",
        examples=[{"model": "gpt"}],
    )


class RegistrationChallenge(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "challenge_id": EXAMPLE_UUID,
                    "challenge_b64": "q2v3cZ3dJ8kq7hQ2l0mY1k0Jm4bM0pQk4w8x9yZr7xE=",
                    "expires_at": EXAMPLE_TIME,
                }
            ]
        }
    )

    challenge_id: str = uuid_field("Send it back with the registration.")
    challenge_b64: str = Field(
        description="32 random bytes, base64: sign them (Ed25519) with the agent's key.",
        examples=["q2v3cZ3dJ8kq7hQ2l0mY1k0Jm4bM0pQk4w8x9yZr7xE="],
    )
    expires_at: str = time_field("When the challenge expires.")


class _Webhook(WireModel):
    webhook_url: str | None = Field(
        default=None,
        max_length=_most("webhook_url"),
        description="Where the agent receives events (an http(s) URL; optional).",
        examples=["https://agent.example/openleash/events"],
    )
    webhook_secret: str | None = Field(
        default=None,
        max_length=_most("webhook_secret"),
        description=f"Signs deliveries; at least {MIN_WEBHOOK_SECRET} characters when "
        "webhook_url is set.",
        examples=["a-long-webhook-secret"],
    )
    webhook_auth_token: str | None = Field(
        default=None,
        max_length=_most("webhook_auth_token"),
        description="Sent as a bearer token with each delivery (optional).",
    )


class RegisterRequest(_Webhook):
    """Finish enrolment by challenge. The agent is PENDING until its owner activates it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "challenge_id": EXAMPLE_UUID,
                    "agent_id": "shopping-agent",
                    "agent_pubkey_b64": EXAMPLE_PUBLIC_KEY,
                    "signature_b64": "3q2+7w...==",
                    "owner_type": "user",
                    "owner_id": EXAMPLE_OWNER_ID,
                }
            ]
        }
    )

    challenge_id: str = Field(min_length=1, description="From the challenge.")
    agent_id: str = Field(
        min_length=1,
        max_length=_most("agent_id"),
        description="As in the challenge: visible ASCII, no spaces.",
        examples=["shopping-agent"],
    )
    agent_pubkey_b64: str = Field(
        min_length=1,
        max_length=_most("agent_pubkey_b64"),
        description="As in the challenge.",
        examples=[EXAMPLE_PUBLIC_KEY],
    )
    signature_b64: str = Field(
        min_length=1,
        max_length=_most("signature_b64"),
        description="Ed25519 signature of the challenge bytes, base64.",
    )
    owner_type: Literal["user"] = Field(description="The kind of owner.")
    owner_id: str = Field(
        min_length=1,
        max_length=_most("owner_id"),
        description="The owner (their user_principal_id); as in the challenge if it named one.",
        examples=[EXAMPLE_OWNER_ID],
    )
    agent_attributes_json: AnyJsonObject | None = Field(
        default=None,
        description="Attributes to store (else those of the challenge).",
        examples=[{"model": "gpt"}],
    )


class AgentRegistration(BaseModel):
    """The enrolled agent."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
                    "agent_id": "shopping-agent",
                    "owner_type": "user",
                    "owner_id": EXAMPLE_OWNER_ID,
                    "status": "PENDING",
                    "created_at": EXAMPLE_TIME,
                }
            ]
        }
    )

    agent_principal_id: str = uuid_field(
        "The server's id of this enrolment.", examples=[EXAMPLE_AGENT_PRINCIPAL_ID]
    )
    agent_id: str = Field(description="The agent's id.", examples=["shopping-agent"])
    owner_type: str = Field(description="`user`.", examples=["user"])
    owner_id: str = Field(description="The owner.", examples=[EXAMPLE_OWNER_ID])
    status: Status = Field(
        description="PENDING by challenge (until the owner activates it); ACTIVE by invite."
    )
    created_at: str = time_field("When it was enrolled.")


class InviteRegistrationRequest(_Webhook):
    """Enrol an agent with an owner's invite; invite_id and invite_token may instead come in
    the query (as in the invite URL)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "invite_id": EXAMPLE_UUID,
                    "invite_token": "olit_0123456789abcdef",
                    "agent_id": "shopping-agent",
                    "agent_pubkey_b64": EXAMPLE_PUBLIC_KEY,
                }
            ]
        }
    )

    invite_id: str | None = Field(
        default=None, description="The invite (else from the query).", examples=[EXAMPLE_UUID]
    )
    invite_token: str | None = Field(
        default=None, description="The invite's secret (else from the query)."
    )
    agent_id: str = Field(
        min_length=1,
        max_length=_most("agent_id"),
        description="The id the agent will sign with.",
        examples=["shopping-agent"],
    )
    agent_pubkey_b64: str = Field(
        min_length=1,
        max_length=_most("agent_pubkey_b64"),
        description="The agent's Ed25519 public key, base64 SPKI DER.",
        examples=[EXAMPLE_PUBLIC_KEY],
    )


EXAMPLE_SIGNING_HEADERS: JsonObject = {
    "X-Agent-Id": "shopping-agent",
    "X-Timestamp": "ISO 8601 timestamp",
    "X-Nonce": "UUID v4",
    "X-Body-Sha256": "hex-encoded SHA-256 of request body",
    "X-Signature": "base64-encoded Ed25519 signature",
}


class SigningHeaders(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_SIGNING_HEADERS]})

    agent_id: str = Field(alias="X-Agent-Id", description="The agent's id.")
    timestamp: str = Field(alias="X-Timestamp", description="What to send as X-Timestamp.")
    nonce: str = Field(alias="X-Nonce", description="What to send as X-Nonce.")
    body_sha256: str = Field(alias="X-Body-Sha256", description="What to send as X-Body-Sha256.")
    signature: str = Field(alias="X-Signature", description="What to send as X-Signature.")


class SigningHelp(BaseModel):
    method: Literal["ed25519_signed_request"] = Field(description="How requests are signed.")
    key_format: str = Field(description="The key encodings.")
    signing_input: str = Field(
        description="What is signed, lines joined by newlines.",
        examples=["METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY_SHA256"],
    )
    headers: SigningHeaders = Field(description="The headers of a signed request.")


class ReferenceLinks(BaseModel):
    interactive: str = Field(description="The API reference.", examples=[f"{BASE}/reference"])
    openapi_json: str = Field(
        description="This OpenAPI document.", examples=[f"{BASE}/reference/openapi.json"]
    )


class Sdk(BaseModel):
    package: str = Field(description="The package name.", examples=["openleash-sdk"])
    install: str = Field(description="How to install it.", examples=["pip install openleash-sdk"])


class InviteRegistration(AgentRegistration):
    """The enrolled (ACTIVE) agent, and how to call the server from now on."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agent_principal_id": EXAMPLE_AGENT_PRINCIPAL_ID,
                    "agent_id": "shopping-agent",
                    "owner_type": "user",
                    "owner_id": EXAMPLE_OWNER_ID,
                    "status": "ACTIVE",
                    "created_at": EXAMPLE_TIME,
                    "webhook_url": "",
                    "openleash_url": BASE,
                    "auth": {
                        "method": "ed25519_signed_request",
                        "key_format": "base64 SPKI/DER (public) and PKCS8/DER (private)",
                        "signing_input": "METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY_SHA256",
                        "headers": EXAMPLE_SIGNING_HEADERS,
                    },
                    "api_reference": {
                        "interactive": f"{BASE}/reference",
                        "openapi_json": f"{BASE}/reference/openapi.json",
                    },
                    "sdks": {
                        "python": {
                            "package": "openleash-sdk",
                            "install": "pip install openleash-sdk",
                        }
                    },
                }
            ]
        }
    )

    webhook_url: str = Field(description="The agent's webhook URL; empty when none.")
    openleash_url: str = Field(description="The server's public URL.", examples=[BASE])
    auth: SigningHelp = Field(description="How to sign requests.")
    api_reference: ReferenceLinks = Field(description="Where the API is described.")
    sdks: dict[str, Sdk] = Field(description="Client libraries, by language.")


class InviteRegistrationHelp(BaseModel):
    instructions: str = Field(description="What to do.")
    url: str = Field(
        description="Where to POST.", examples=[f"{BASE}/v1/agents/register-with-invite"]
    )
    method: Literal["POST"] = Field(description="The method.")
    required_body: dict[str, str] = Field(
        description="The body to send, with the invite filled in and placeholders for the rest."
    )


class AuthorizationFlow(BaseModel):
    endpoint: str = Field(description="Where to ask.", examples=[f"{BASE}/v1/authorize"])
    results: list[str] = Field(description="The possible results.", examples=[["ALLOW", "DENY"]])


class RequestSigningHelp(BaseModel):
    method: Literal["ed25519_signed_request"] = Field(description="How requests are signed.")
    key_format: str = Field(description="The key encodings.")
    signing_input: str = Field(description="What is signed.")
    headers: list[str] = Field(
        description="The headers of a signed request.", examples=[["X-Agent-Id", "X-Signature"]]
    )


class InviteInstructions(BaseModel):
    """What an agent reading an invite link needs to know (the invite is checked on POST)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message": "You have been invited to register as an agent with OpenLeash.",
                    "overview": "OpenLeash decides, action by action, what you may do.",
                    "how_it_works": ["Generate an Ed25519 key pair."],
                    "registration": {
                        "instructions": "POST this JSON body to the URL below.",
                        "url": f"{BASE}/v1/agents/register-with-invite",
                        "method": "POST",
                        "required_body": {"invite_id": EXAMPLE_UUID, "agent_id": "<your agent id>"},
                    },
                    "authorization_flow": {
                        "endpoint": f"{BASE}/v1/authorize",
                        "results": ["ALLOW", "DENY", "REQUIRE_APPROVAL", "REQUIRE_STEP_UP"],
                    },
                    "request_signing": {
                        "method": "ed25519_signed_request",
                        "key_format": "base64 SPKI/DER (public) and PKCS8/DER (private)",
                        "signing_input": "METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY_SHA256",
                        "headers": ["X-Agent-Id", "X-Timestamp", "X-Nonce"],
                    },
                    "api_reference": {
                        "interactive": f"{BASE}/reference",
                        "openapi_json": f"{BASE}/reference/openapi.json",
                    },
                    "sdks": {
                        "python": {
                            "package": "openleash-sdk",
                            "install": "pip install openleash-sdk",
                        }
                    },
                }
            ]
        }
    )

    message: str = Field(description="A greeting.")
    overview: str = Field(description="What OpenLeash does.")
    how_it_works: list[str] = Field(description="The steps, in order.")
    registration: InviteRegistrationHelp = Field(description="How to register.")
    authorization_flow: AuthorizationFlow = Field(description="How to ask before acting.")
    request_signing: RequestSigningHelp = Field(description="How to sign requests.")
    api_reference: ReferenceLinks = Field(description="Where the API is described.")
    sdks: dict[str, Sdk] = Field(description="Client libraries, by language.")


InviteIdQuery = Annotated[
    str | Omitted,
    Query(description="The invite's id (from the invite URL).", examples=[EXAMPLE_UUID]),
]
InviteTokenQuery = Annotated[
    str | Omitted,
    Query(description="The invite's secret (from the invite URL)."),
]
