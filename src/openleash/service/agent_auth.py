"""Signed agent requests (inv §1.1, with the fixes of PROTOCOL §3.1-3.3).

Order of checks: headers (present, and no longer than :data:`MAX_HEADER_LENGTH`), timestamp
(an unparseable one is a skew error), body hash, agent, signature, then the agent's status: an
agent enrolled by challenge without an invite stays ``PENDING`` until its owner activates it,
and may then only read its own record (PROTOCOL §3.5). The nonce is recorded only after all of
these pass, inside the same transaction as whatever the request then does (see
:func:`record_nonce`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from openleash.crypto import load_public_key, signing_input, verify_request_signature
from openleash.domain.errors import (
    AuthenticationError,
    ForbiddenError,
    InvalidInputError,
    OpenLeashError,
)
from openleash.domain.models import Agent, Status
from openleash.domain.timefmt import epoch_ms, parse_timestamp
from openleash.service.options import Options
from openleash.service.ports import NonceRepo, NonceUse
from openleash.service.runtime import Runtime, Snapshot

SIGNING_HEADERS = ("x-agent-id", "x-timestamp", "x-nonce", "x-body-sha256", "x-signature")
#: The longest value accepted for each signing header, checked before anything else: the nonce
#: is stored and the agent ID looked up, so neither may be as long as a caller likes. Generous
#: for what the SDKs send (a UUID nonce, an ISO 8601 timestamp, hex SHA-256, base64 Ed25519).
MAX_HEADER_LENGTH = {
    "x-agent-id": 256,
    "x-timestamp": 64,
    "x-nonce": 128,
    "x-body-sha256": 128,
    "x-signature": 256,
}


@dataclass(frozen=True, slots=True)
class SignedRequest:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes | None


@dataclass(frozen=True, slots=True)
class AgentCall:
    """A request whose signature verified; its nonce is not yet recorded.

    ``nonce`` is None for a call that carries none to record: an AuthZEN evaluation asked by a
    PEP (bearer token, no signature), or one of a batch whose signed nonce was recorded once.
    """

    agent: Agent
    nonce: str | None
    now: datetime


async def verify_agent(
    runtime: Runtime,
    request: SignedRequest,
    options: Options,
    now: datetime,
    *,
    allow_pending: bool = False,
) -> tuple[AgentCall, Snapshot]:
    """Authenticate a signed request against the current snapshot; the snapshot it used.

    An agent the snapshot does not know as ACTIVE is looked up once more (see
    :meth:`Runtime.recheck`) before it is refused: one just enrolled, activated or given a new
    key, by this process or another, works from its first call. ``allow_pending`` lets an agent
    that awaits its owner's activation through (only for reading its own record)."""
    snap = await runtime.snapshot()
    headers = _headers(request, options, now)
    agent = snap.agent(headers[0])
    if agent is None or agent.status != Status.ACTIVE:
        snap = await runtime.recheck(snap)
    return _authenticated(request, snap, headers, now, allow_pending), snap


def authenticate(
    request: SignedRequest,
    snap: Snapshot,
    options: Options,
    now: datetime,
    *,
    allow_pending: bool = False,
) -> AgentCall:
    """Authenticate against ``snap`` as it is (no second look at the store)."""
    return _authenticated(request, snap, _headers(request, options, now), now, allow_pending)


def _headers(request: SignedRequest, options: Options, now: datetime) -> list[str]:
    values = [request.headers.get(name, "") for name in SIGNING_HEADERS]
    if not all(values):
        raise AuthenticationError("MISSING_HEADERS", "Missing required signing headers")
    _check_lengths(values)
    _check_timestamp(values[1], now, options.clock_skew_seconds)
    _check_body(request, values[3])
    return values


def _authenticated(
    request: SignedRequest, snap: Snapshot, values: list[str], now: datetime, allow_pending: bool
) -> AgentCall:
    agent_id, timestamp, nonce, body_sha256, signature = values
    agent = snap.agent(agent_id)
    if agent is None:
        raise AuthenticationError("AGENT_NOT_FOUND", f'Agent "{agent_id}" not found')
    if agent.status not in (Status.ACTIVE, Status.PENDING):
        raise AuthenticationError("AGENT_INACTIVE", f'Agent "{agent_id}" is not active')
    _check_signature(request, agent, timestamp, nonce, body_sha256, signature)
    if agent.status == Status.PENDING and not allow_pending:
        # Told only to the holder of the key: the signature verified above.
        raise ForbiddenError(
            "AGENT_PENDING",
            f'Agent "{agent_id}" awaits activation: ask its owner to activate it (owner portal, '
            "Agents page, or PUT /v1/owner/agents/{agent_principal_id} with status ACTIVE); "
            "until then only GET /v1/agent/self answers",
        )
    return AgentCall(agent=agent, nonce=nonce, now=now)


def _check_lengths(values: list[str]) -> None:
    for name, value in zip(SIGNING_HEADERS, values, strict=True):
        most = MAX_HEADER_LENGTH[name]
        if len(value) > most:
            raise InvalidInputError(
                "HEADER_TOO_LONG",
                f"{name} is longer than {most} characters",
                {"header": name, "max_length": most},
            )


def _check_timestamp(timestamp: str, now: datetime, skew_seconds: int) -> None:
    moment = parse_timestamp(timestamp)
    # Fix (PROTOCOL §3.1): an unparseable timestamp is refused, not waved through.
    if moment is None or abs(now - moment) > timedelta(seconds=skew_seconds):
        raise AuthenticationError(
            "TIMESTAMP_SKEW", "Request timestamp is outside the allowed window"
        )


def _check_body(request: SignedRequest, body_sha256: str) -> None:
    if request.method in ("GET", "HEAD"):
        return  # the header is still signed; GET bodies are not hashed (inv §1.1 step 4)
    if request.body is None:
        raise InvalidInputError("MISSING_BODY", "Request body is required")
    digest = hashlib.sha256(request.body).hexdigest()
    if not hmac.compare_digest(digest, body_sha256):
        raise AuthenticationError("BODY_HASH_MISMATCH", "X-Body-Sha256 does not match the body")


def _check_signature(
    request: SignedRequest, agent: Agent, timestamp: str, nonce: str, body: str, sig: str
) -> None:
    key = load_public_key(agent.public_key_b64)
    primary = signing_input(request.method, request.path, timestamp, nonce, body)
    try:
        verify_request_signature(key, primary, sig)
        return
    except OpenLeashError:
        if not request.query:
            raise
    # Fix (PROTOCOL §3.3): the shipped SDKs sign the path with its query string.
    with_query = f"{request.path}?{request.query}"
    verify_request_signature(
        key, signing_input(request.method, with_query, timestamp, nonce, body), sig
    )


def nonce_use(call: AgentCall, options: Options) -> NonceUse | None:
    """The nonce a verified call must use up (None for calls that carry none)."""
    if call.nonce is None:
        return None
    now_ms = epoch_ms(call.now)
    return NonceUse(
        call.agent.agent_id, call.nonce, now_ms, now_ms + options.nonce_ttl_seconds * 1000
    )


async def record_nonce(tx: NonceRepo, call: AgentCall, options: Options) -> None:
    """Record the nonce of a verified call; a second use within its lifetime is a replay."""
    use = nonce_use(call, options)
    if use is not None:
        await tx.use_nonce(use.agent_id, use.nonce, use.now_ms, use.expires_ms)
