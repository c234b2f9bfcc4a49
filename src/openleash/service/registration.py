"""Agent enrolment: by challenge (inv §2.1, fixed per PROTOCOL §3.5) and by invite."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from openleash.crypto import load_public_key, secret_matches, verify_challenge_signature
from openleash.domain.errors import OpenLeashError
from openleash.domain.models import Agent, Challenge
from openleash.service.agents import enrol
from openleash.service.audit import record
from openleash.service.options import Options
from openleash.service.ports import Store, Transaction
from openleash.service.timefmt import iso

SIGNING_HELP = {
    "method": "ed25519_signed_request",
    "key_format": "base64 SPKI/DER (public) and PKCS8/DER (private)",
    "signing_input": "METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY_SHA256",
}


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    return value if isinstance(value, str) else ""


def _require(body: dict[str, Any], *keys: str) -> None:
    missing = [k for k in keys if not _text(body, k)]
    if missing:
        raise OpenLeashError(
            "INVALID_REQUEST",
            f"Missing required fields: {', '.join(missing)}",
            {"missing": missing},
        )


#: The shortest webhook secret accepted (deliveries are signed with it).
MIN_WEBHOOK_SECRET = 12


async def _check_webhook(tx: Transaction, body: dict[str, Any]) -> None:
    url = _text(body, "webhook_url")
    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise OpenLeashError("INVALID_WEBHOOK_URL", "webhook_url must be an http(s) URL")
    if len(_text(body, "webhook_secret")) < MIN_WEBHOOK_SECRET:
        # Deliveries are signed with it: an empty or short secret would let anyone forge them.
        raise OpenLeashError(
            "INVALID_REQUEST",
            f"webhook_secret must have at least {MIN_WEBHOOK_SECRET} characters when "
            "webhook_url is set",
        )
    if await tx.webhook_url_taken(url):
        raise OpenLeashError("WEBHOOK_URL_NOT_UNIQUE", "webhook_url is used by another agent")


async def _require_owner(tx: Transaction, owner_type: Any, owner_id: Any) -> None:
    if owner_type != "user":
        raise OpenLeashError("INVALID_REQUEST", 'owner_type must be "user"')
    if not isinstance(owner_id, str) or await tx.get_owner(owner_id) is None:
        raise OpenLeashError("OWNER_NOT_FOUND", f"Owner {owner_id!r} does not exist")


async def issue_challenge(store: Store, body: dict[str, Any], options: Options) -> dict[str, Any]:
    _require(body, "agent_id", "agent_pubkey_b64")
    load_public_key(body["agent_pubkey_b64"])
    now = options.clock()
    attributes = body.get("agent_attributes_json")
    challenge = Challenge(
        challenge_id=str(uuid.uuid4()),
        agent_id=body["agent_id"],
        agent_pubkey_b64=body["agent_pubkey_b64"],
        owner_type=body.get("owner_type") or None,
        owner_id=body.get("owner_id") or None,
        challenge_b64=base64.b64encode(secrets.token_bytes(32)).decode(),
        expires_at=iso(now + timedelta(seconds=options.challenge_ttl_seconds)),
        created_at=iso(now),
        agent_attributes=attributes if isinstance(attributes, dict) else {},
    )
    async with store.transaction() as tx:
        if challenge.owner_id is not None:
            await _require_owner(tx, challenge.owner_type, challenge.owner_id)
        await tx.add_challenge(challenge)
        await record(tx, now, "AGENT_CHALLENGE_ISSUED", None, agent_id=challenge.agent_id)
    return {
        "challenge_id": challenge.challenge_id,
        "challenge_b64": challenge.challenge_b64,
        "expires_at": challenge.expires_at,
    }


async def register(store: Store, body: dict[str, Any], options: Options) -> dict[str, Any]:
    _require(
        body,
        "challenge_id",
        "agent_id",
        "agent_pubkey_b64",
        "signature_b64",
        "owner_type",
        "owner_id",
    )
    now = options.clock()
    async with store.transaction() as tx:
        await _check_webhook(tx, body)
        challenge = await tx.take_challenge(body["challenge_id"])
        if challenge is None:
            raise OpenLeashError("CHALLENGE_NOT_FOUND", "Challenge not found")
        if challenge.expires_at <= iso(now):
            raise OpenLeashError("CHALLENGE_EXPIRED", "Challenge expired")
        _match_challenge(challenge, body)
        await _require_owner(tx, body["owner_type"], body["owner_id"])
        verify_challenge_signature(
            body["agent_pubkey_b64"],
            base64.b64decode(challenge.challenge_b64),
            body["signature_b64"],
        )
        attributes = body.get("agent_attributes_json")
        agent = _new_agent(
            body,
            body["owner_id"],
            now,
            attributes if isinstance(attributes, dict) else challenge.agent_attributes,
        )
        await enrol(tx, agent, now, "AGENT_REGISTERED")
    return _agent_summary(agent)


def _match_challenge(challenge: Challenge, body: dict[str, Any]) -> None:
    """Fix (PROTOCOL §3.5): the challenge binds the agent id, key and owner it was issued for."""
    if (
        challenge.agent_id != body["agent_id"]
        or challenge.agent_pubkey_b64 != body["agent_pubkey_b64"]
    ):
        raise OpenLeashError(
            "CHALLENGE_MISMATCH", "agent_id and agent_pubkey_b64 must match the challenge"
        )
    if challenge.owner_id is not None and challenge.owner_id != body["owner_id"]:
        raise OpenLeashError("CHALLENGE_MISMATCH", "owner_id must match the challenge")


def _new_agent(
    body: dict[str, Any], owner_id: str, now: datetime, attributes: dict[str, Any]
) -> Agent:
    return Agent(
        agent_principal_id=str(uuid.uuid4()),
        agent_id=body["agent_id"],
        owner_type="user",
        owner_id=owner_id,
        public_key_b64=body["agent_pubkey_b64"],
        status="ACTIVE",
        created_at=iso(now),
        attributes=attributes,
        webhook_url=_text(body, "webhook_url"),
        webhook_secret=_text(body, "webhook_secret"),
        webhook_auth_token=_text(body, "webhook_auth_token"),
    )


def _agent_summary(agent: Agent) -> dict[str, Any]:
    return {
        "agent_principal_id": agent.agent_principal_id,
        "agent_id": agent.agent_id,
        "owner_type": agent.owner_type,
        "owner_id": agent.owner_id,
        "status": agent.status,
        "created_at": agent.created_at,
    }


async def register_with_invite(
    store: Store, body: dict[str, Any], options: Options, base_url: str
) -> dict[str, Any]:
    _require(body, "invite_id", "invite_token", "agent_id", "agent_pubkey_b64")
    now = options.clock()
    async with store.transaction() as tx:
        await _check_webhook(tx, body)
        load_public_key(body["agent_pubkey_b64"])
        invite = await tx.get_invite(body["invite_id"])
        if invite is None or invite.kind != "agent":
            raise OpenLeashError("INVITE_NOT_FOUND", "Invite not found")
        if invite.used_at is not None:
            raise OpenLeashError("INVITE_USED", "Invite has already been used")
        if invite.expires_at <= iso(now):
            raise OpenLeashError("INVITE_EXPIRED", "Invite has expired")
        if not secret_matches(body["invite_token"], invite.token_hash, invite.token_salt):
            raise OpenLeashError("INVALID_INVITE_TOKEN", "Invalid invite token")
        if not await tx.use_invite(invite.invite_id, iso(now)):
            raise OpenLeashError("INVITE_USED", "Invite has already been used")
        agent = _new_agent(body, invite.owner_id, now, {})
        await enrol(tx, agent, now, "AGENT_REGISTERED_VIA_INVITE", invite_id=invite.invite_id)
    return {
        **_agent_summary(agent),
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
        "api_reference": {
            "interactive": f"{base_url}/reference",
            "openapi_json": f"{base_url}/reference/openapi.json",
        },
        "sdks": {
            "python": {"package": "openleash-sdk", "install": "pip install openleash-sdk"},
            "typescript": {
                "package": "@openleash/sdk-ts",
                "install": "npm install @openleash/sdk-ts",
            },
        },
    }


def invite_instructions(invite_id: str, invite_token: str, base_url: str) -> dict[str, Any]:
    """What an agent reading an invite link needs to know; the invite is checked on POST."""
    if not invite_id or not invite_token:
        raise OpenLeashError("INVALID_REQUEST", "invite_id and invite_token are required")
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
        "api_reference": {
            "interactive": f"{base_url}/reference",
            "openapi_json": f"{base_url}/reference/openapi.json",
        },
        "sdks": {"python": {"package": "openleash-sdk", "install": "pip install openleash-sdk"}},
    }
