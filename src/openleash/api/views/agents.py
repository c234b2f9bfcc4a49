"""The JSON of agent enrolment and of the agents owners and the admin see."""

from __future__ import annotations

from typing import Final, Literal, TypedDict

from openleash.api.views.accounts import InviteJson, invite_json
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import Agent, Challenge, Status
from openleash.service.owners import IssuedInvite
from openleash.service.registration import InviteLink


class SigningJson(TypedDict):
    """How requests are signed: what ``SigningHelp`` and ``RequestSigningHelp`` share."""

    method: Literal["ed25519_signed_request"]
    key_format: str
    signing_input: str


class SigningHelpJson(SigningJson):
    """``SigningHelp`` of the document: the headers with what to send in each."""

    headers: dict[str, str]


class RequestSigningJson(SigningJson):
    """``RequestSigningHelp`` of the document: the headers by name."""

    headers: list[str]


class ReferenceJson(TypedDict):
    """``ReferenceLinks`` of the document."""

    interactive: str
    openapi_json: str


class SdkJson(TypedDict):
    """``Sdk`` of the document."""

    package: str
    install: str


class ChallengeJson(TypedDict):
    """``RegistrationChallenge`` of the document."""

    challenge_id: str
    challenge_b64: str
    expires_at: str


class EnrolledJson(TypedDict):
    """``AgentRegistration`` of the document."""

    agent_principal_id: str
    agent_id: str
    owner_type: str
    owner_id: str
    status: str
    created_at: str


class EnrolledWithInviteJson(EnrolledJson):
    """``InviteRegistration`` of the document."""

    webhook_url: str
    openleash_url: str
    auth: SigningHelpJson
    api_reference: ReferenceJson
    sdks: dict[str, SdkJson]


class AgentInviteJson(InviteJson):
    """``AgentInvite`` of the document."""

    invite_url: str


class AgentRecordJson(TypedDict):
    """``AgentRecord`` of the document: an agent, no secrets, no key."""

    agent_principal_id: str
    agent_id: str
    owner_type: str
    owner_id: str
    status: str
    attributes: JsonObject
    created_at: str
    revoked_at: str | None
    webhook_url: str


class AgentSelfJson(TypedDict):
    """``AgentSelf`` of the document: the calling agent, no secrets."""

    agent_principal_id: str
    agent_id: str
    owner_type: str
    owner_id: str
    status: str
    attributes: JsonObject
    created_at: str
    webhook_url: str


class AgentListJson(TypedDict):
    """``AgentList`` of the document."""

    agents: list[AgentRecordJson]


class AgentStatusJson(TypedDict):
    """``OwnerAgentStatusResult`` of the document."""

    agent_principal_id: str
    agent_id: str
    status: str


class AgentRevokedJson(TypedDict):
    """``AgentRevoked`` of the document."""

    agent_principal_id: str
    status: Literal[Status.REVOKED]


class InviteRegistrationJson(TypedDict):
    """``InviteRegistrationHelp`` of the document."""

    instructions: str
    url: str
    method: Literal["POST"]
    required_body: dict[str, str]


class AuthorizationFlowJson(TypedDict):
    """``AuthorizationFlow`` of the document."""

    endpoint: str
    results: list[str]


class InviteInstructionsJson(TypedDict):
    """``InviteInstructions`` of the document."""

    message: str
    overview: str
    how_it_works: list[str]
    registration: InviteRegistrationJson
    authorization_flow: AuthorizationFlowJson
    request_signing: RequestSigningJson
    api_reference: ReferenceJson
    sdks: dict[str, SdkJson]


SIGNING_HELP: Final[SigningJson] = {
    "method": "ed25519_signed_request",
    "key_format": "base64 SPKI/DER (public) and PKCS8/DER (private)",
    "signing_input": "METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY_SHA256",
}


def challenge_json(challenge: Challenge) -> ChallengeJson:
    return {
        "challenge_id": challenge.challenge_id,
        "challenge_b64": challenge.challenge_b64,
        "expires_at": challenge.expires_at,
    }


def enrolled_json(agent: Agent) -> EnrolledJson:
    """A new enrolment, as ``POST /v1/agents/register`` answers it."""
    return {
        "agent_principal_id": agent.agent_principal_id,
        "agent_id": agent.agent_id,
        "owner_type": agent.owner_type,
        "owner_id": agent.owner_id,
        "status": agent.status,
        "created_at": agent.created_at,
    }


def _reference(base_url: str) -> ReferenceJson:
    return {
        "interactive": f"{base_url}/reference",
        "openapi_json": f"{base_url}/reference/openapi.json",
    }


def enrolled_with_invite_json(agent: Agent, base_url: str) -> EnrolledWithInviteJson:
    """An enrolment by invite, with what the agent needs to sign its requests."""
    return {
        **enrolled_json(agent),
        "webhook_url": agent.webhook_url,
        "openleash_url": base_url,
        "auth": {
            **SIGNING_HELP,
            "headers": {
                "X-Agent-Id": agent.agent_id,
                "X-Timestamp": "ISO 8601 timestamp",
                "X-Nonce": "UUID v4",
                "X-Body-Sha256": "hex-encoded SHA-256 of request body",
                "X-Signature": "base64-encoded Ed25519 signature",
            },
        },
        "api_reference": _reference(base_url),
        "sdks": {
            "python": {"package": "openleash-sdk", "install": "pip install openleash-sdk"},
            "typescript": {
                "package": "@openleash/sdk-ts",
                "install": "npm install @openleash/sdk-ts",
            },
        },
    }


def invite_url(invite: IssuedInvite, base_url: str) -> str:
    """The link an agent follows to read how to redeem ``invite``."""
    return (
        f"{base_url}/v1/agents/register-with-invite?invite_id={invite.invite_id}"
        f"&invite_token={invite.invite_token}"
    )


def agent_invite_json(invite: IssuedInvite, base_url: str) -> AgentInviteJson:
    """A new agent invite with its link; the token is shown this once."""
    return {**invite_json(invite), "invite_url": invite_url(invite, base_url)}


def agent_json(agent: Agent) -> AgentRecordJson:
    """An agent as owners and the admin see it: no secrets, no key."""
    return {
        "agent_principal_id": agent.agent_principal_id,
        "agent_id": agent.agent_id,
        "owner_type": agent.owner_type,
        "owner_id": agent.owner_id,
        "status": agent.status,
        "attributes": agent.attributes,
        "created_at": agent.created_at,
        "revoked_at": agent.revoked_at,
        "webhook_url": agent.webhook_url,
    }


def agents_json(agents: list[Agent]) -> AgentListJson:
    """A list of agents, no secrets (``AgentList`` of the document)."""
    return {"agents": [agent_json(a) for a in agents]}


def status_changed_json(agent: Agent, status: str) -> AgentStatusJson:
    """An owner's change of ``agent`` to ``status``."""
    return {
        "agent_principal_id": agent.agent_principal_id,
        "agent_id": agent.agent_id,
        "status": status,
    }


def revoked_json(agent_principal_id: str) -> AgentRevokedJson:
    return {"agent_principal_id": agent_principal_id, "status": Status.REVOKED}


def invite_instructions_json(link: InviteLink, base_url: str) -> InviteInstructionsJson:
    """What an agent reading an invite link needs to know; the invite is checked on POST."""
    invite_id, invite_token = link.invite_id, link.invite_token
    url = f"{base_url}/v1/agents/register-with-invite"
    return {
        "message": "You have been invited to register as an agent with OpenLeash.",
        "overview": "OpenLeash decides, action by action, what you may do for your owner. "
        "Register a public key once, then sign every request with it.",
        "how_it_works": [
            "Generate an Ed25519 key pair (public key: base64 SPKI DER).",
            "POST the public key with this invite to the registration URL.",
            "Before each risky action, POST it to /v1/authorize with a signed request.",
            "Act only on result ALLOW; pass the proof_token to the counterparty if present.",
        ],
        "registration": {
            "instructions": "POST this JSON body to the URL below.",
            "url": url,
            "method": "POST",
            "required_body": {
                "invite_id": invite_id,
                "invite_token": invite_token,
                "agent_id": "<your agent id>",
                "agent_pubkey_b64": "<base64 SPKI DER Ed25519 public key>",
                "webhook_url": "<optional: https URL for approval events>",
                "webhook_secret": "<optional>",
                "webhook_auth_token": "<optional>",
            },
        },
        "authorization_flow": {
            "endpoint": f"{base_url}/v1/authorize",
            "results": ["ALLOW", "DENY", "REQUIRE_APPROVAL", "REQUIRE_STEP_UP"],
        },
        "request_signing": {
            **SIGNING_HELP,
            "headers": ["X-Agent-Id", "X-Timestamp", "X-Nonce", "X-Body-Sha256", "X-Signature"],
        },
        "api_reference": _reference(base_url),
        "sdks": {"python": {"package": "openleash-sdk", "install": "pip install openleash-sdk"}},
    }


def agent_self_json(agent: Agent) -> AgentSelfJson:
    """``GET /v1/agent/self``: the agent as any API shows it, without ``revoked_at`` (a
    revoked agent cannot call)."""
    return {
        "agent_principal_id": agent.agent_principal_id,
        "agent_id": agent.agent_id,
        "owner_type": agent.owner_type,
        "owner_id": agent.owner_id,
        "status": agent.status,
        "attributes": agent.attributes,
        "created_at": agent.created_at,
        "webhook_url": agent.webhook_url,
    }
