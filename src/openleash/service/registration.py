"""Agent enrolment: by challenge (inv §2.1, fixed per PROTOCOL §3.5) and by invite.

Who consents: an invite is the owner's consent, so redeeming one enrols the agent ACTIVE. A
challenge proves only that the caller holds the key, so it enrols the agent PENDING: it may read
its own record and nothing else until its owner activates it (:mod:`.owner_agents`). An agent id
is never taken over: registering one that exists (active, pending or revoked, of any owner) is
``409 AGENT_ID_TAKEN``, except that the owner of a revoked id may enrol it again with an invite
of theirs (owner-authenticated consent, and the old key stays revoked).
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from openleash.crypto import load_public_key, verify_challenge_signature
from openleash.domain.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TooManyRequestsError,
)
from openleash.domain.models import Agent, Challenge, Status
from openleash.service.agents import enrol
from openleash.service.options import Options
from openleash.service.owners import redeemable_invite
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
        raise InvalidInputError(
            "INVALID_REQUEST",
            f"Missing required fields: {', '.join(missing)}",
            {"missing": missing},
        )


#: The shortest webhook secret accepted (deliveries are signed with it).
MIN_WEBHOOK_SECRET = 12
#: Longest accepted values of what anyone may send before being authenticated (a stored
#: challenge or agent never holds more).
MAX_LENGTH = {
    "agent_id": 128,
    "agent_pubkey_b64": 256,
    "owner_type": 16,
    "owner_id": 64,
    "signature_b64": 256,
    "webhook_url": 2048,
    "webhook_secret": 512,
    "webhook_auth_token": 2048,
}
#: Agents awaiting one owner's activation at most: anyone may register one by challenge, so
#: the owner's list cannot be flooded (an invite, the owner's own consent, is never limited).
MAX_PENDING_PER_OWNER = 20
#: Largest ``agent_attributes_json``, as compact UTF-8 JSON.
MAX_ATTRIBUTES_BYTES = 8 * 1024


def _check_lengths(body: dict[str, Any]) -> None:
    for key, limit in MAX_LENGTH.items():
        value = body.get(key)
        if isinstance(value, str) and len(value) > limit:
            raise InvalidInputError(
                "INVALID_REQUEST",
                f"{key} is too long: at most {limit} characters",
                {"field": key, "max_length": limit},
            )


def _check_visible_agent_id(body: dict[str, Any]) -> None:
    """An agent id enrolled without an invite is shown to its owner for activation: it must be
    visible ASCII, so that no look-alike (a zero-width space, a Cyrillic letter) can pass for
    an agent the owner knows."""
    agent_id = body.get("agent_id")
    if isinstance(agent_id, str) and not all("!" <= ch <= "~" for ch in agent_id):
        raise InvalidInputError(
            "INVALID_REQUEST",
            "agent_id must be visible ASCII (letters, digits and punctuation, no spaces) when "
            "registering without an invite",
            {"field": "agent_id"},
        )


def _attributes(value: Any) -> dict[str, Any] | None:
    """``agent_attributes_json`` if it is an object within :data:`MAX_ATTRIBUTES_BYTES`."""
    if not isinstance(value, dict):
        return None
    try:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    except (TypeError, ValueError, RecursionError):
        size = MAX_ATTRIBUTES_BYTES + 1
    if size > MAX_ATTRIBUTES_BYTES:
        raise InvalidInputError(
            "ATTRIBUTES_TOO_LARGE",
            f"agent_attributes_json must be at most {MAX_ATTRIBUTES_BYTES} bytes as JSON",
            {"max_bytes": MAX_ATTRIBUTES_BYTES},
        )
    return value


def _check_webhook_fields(body: dict[str, Any]) -> None:
    url = _text(body, "webhook_url")
    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError("INVALID_WEBHOOK_URL", "webhook_url must be an http(s) URL")
    if len(_text(body, "webhook_secret")) < MIN_WEBHOOK_SECRET:
        # Deliveries are signed with it: an empty or short secret would let anyone forge them.
        raise InvalidInputError(
            "INVALID_REQUEST",
            f"webhook_secret must have at least {MIN_WEBHOOK_SECRET} characters when "
            "webhook_url is set",
        )


async def check_webhook_free(tx: Transaction, url: str, owner_id: str) -> None:
    """A webhook URL is unique among one owner's ACTIVE agents only: no one can block another
    owner's URL, and a pending agent (which anyone may create) blocks nothing."""
    if await tx.webhook_url_taken(url, owner_id):
        raise ConflictError(
            "WEBHOOK_URL_NOT_UNIQUE",
            "webhook_url is used by another active agent of this owner; give each agent its "
            "own URL (or revoke the other agent first)",
        )


async def _check_agent_id_free(tx: Transaction, agent_id: str, reenrol_owner: str | None) -> None:
    """Refuse an agent id that is enrolled already. ``reenrol_owner``: the owner (known from
    their invite) who may enrol an id again whose every enrolment is theirs and revoked."""
    existing = await tx.find_agents_by_id(agent_id)
    if not existing:
        return
    if reenrol_owner is not None and all(
        a.status == Status.REVOKED and a.owner_id == reenrol_owner for a in existing
    ):
        return
    raise ConflictError(
        "AGENT_ID_TAKEN",
        f'Agent id "{agent_id}" is already registered; choose another agent_id (an agent id '
        "is never re-assigned; its owner may enrol a revoked one again with an invite)",
    )


async def _check_pending_room(tx: Transaction, owner_id: str) -> None:
    pending = [a for a in await tx.list_agents(owner_id) if a.status == Status.PENDING]
    if len(pending) >= MAX_PENDING_PER_OWNER:
        raise TooManyRequestsError(
            "TOO_MANY_PENDING_AGENTS",
            f"This owner already has {len(pending)} agents awaiting activation; ask the owner "
            "to activate or reject them, or to send you an invite instead",
            {"max_pending": MAX_PENDING_PER_OWNER},
        )


async def _require_owner(tx: Transaction, owner_type: Any, owner_id: Any) -> None:
    if owner_type != "user":
        raise InvalidInputError("INVALID_REQUEST", 'owner_type must be "user"')
    if not isinstance(owner_id, str) or await tx.get_owner(owner_id) is None:
        raise NotFoundError("OWNER_NOT_FOUND", f"Owner {owner_id!r} does not exist")


async def issue_challenge(store: Store, body: dict[str, Any], options: Options) -> dict[str, Any]:
    _require(body, "agent_id", "agent_pubkey_b64")
    _check_lengths(body)
    _check_visible_agent_id(body)
    load_public_key(body["agent_pubkey_b64"])
    attributes = _attributes(body.get("agent_attributes_json"))
    now = options.clock()
    challenge = Challenge(
        challenge_id=str(uuid.uuid4()),
        agent_id=body["agent_id"],
        agent_pubkey_b64=body["agent_pubkey_b64"],
        owner_type=body.get("owner_type") or None,
        owner_id=body.get("owner_id") or None,
        challenge_b64=base64.b64encode(secrets.token_bytes(32)).decode(),
        expires_at=iso(now + timedelta(seconds=options.challenge_ttl_seconds)),
        created_at=iso(now),
        agent_attributes=attributes or {},
    )
    async with store.transaction() as tx:
        if challenge.owner_id is not None:
            await _require_owner(tx, challenge.owner_type, challenge.owner_id)
        await tx.purge_challenges(iso(now))
        await tx.add_challenge(challenge)
        # No audit record: anyone may ask, and anonymous noise must not grow the audit chain.
        # The registration that creates an agent is audited.
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
    _check_lengths(body)
    _check_visible_agent_id(body)
    _check_webhook_fields(body)
    attributes = _attributes(body.get("agent_attributes_json"))
    now = options.clock()
    async with store.transaction() as tx:
        challenge = await tx.take_challenge(body["challenge_id"])
        if challenge is None:
            raise InvalidInputError("CHALLENGE_NOT_FOUND", "Challenge not found")
        if challenge.expires_at <= iso(now):
            raise InvalidInputError("CHALLENGE_EXPIRED", "Challenge expired")
        _match_challenge(challenge, body)
        await _require_owner(tx, body["owner_type"], body["owner_id"])
        verify_challenge_signature(
            body["agent_pubkey_b64"],
            base64.b64decode(challenge.challenge_b64),
            body["signature_b64"],
        )
        await _check_agent_id_free(tx, body["agent_id"], None)
        await _check_pending_room(tx, body["owner_id"])
        agent = _new_agent(
            body,
            body["owner_id"],
            now,
            attributes if attributes is not None else challenge.agent_attributes,
            status=Status.PENDING,
        )
        await enrol(tx, agent, now, "AGENT_REGISTERED")
    return _agent_summary(agent)


def _match_challenge(challenge: Challenge, body: dict[str, Any]) -> None:
    """Fix (PROTOCOL §3.5): the challenge binds the agent id, key and owner it was issued for."""
    if (
        challenge.agent_id != body["agent_id"]
        or challenge.agent_pubkey_b64 != body["agent_pubkey_b64"]
    ):
        raise InvalidInputError(
            "CHALLENGE_MISMATCH", "agent_id and agent_pubkey_b64 must match the challenge"
        )
    if challenge.owner_id is not None and challenge.owner_id != body["owner_id"]:
        raise InvalidInputError("CHALLENGE_MISMATCH", "owner_id must match the challenge")


def _new_agent(
    body: dict[str, Any],
    owner_id: str,
    now: datetime,
    attributes: dict[str, Any],
    *,
    status: str,
) -> Agent:
    return Agent(
        agent_principal_id=str(uuid.uuid4()),
        agent_id=body["agent_id"],
        owner_type="user",
        owner_id=owner_id,
        public_key_b64=body["agent_pubkey_b64"],
        status=status,
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
    _check_lengths(body)
    _check_webhook_fields(body)
    now = options.clock()
    async with store.transaction() as tx:
        load_public_key(body["agent_pubkey_b64"])
        invite = redeemable_invite(
            await tx.get_invite(body["invite_id"]), "agent", body["invite_token"], now
        )
        await check_webhook_free(tx, _text(body, "webhook_url"), invite.owner_id)
        await _check_agent_id_free(tx, body["agent_id"], invite.owner_id)
        if not await tx.use_invite(invite.invite_id, iso(now)):
            raise InvalidInputError("INVITE_USED", "Invite has already been used")
        agent = _new_agent(body, invite.owner_id, now, {}, status=Status.ACTIVE)
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
        raise InvalidInputError("INVALID_REQUEST", "invite_id and invite_token are required")
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
