"""Agent enrolment: by challenge (inv §2.1, fixed per PROTOCOL §3.5) and by invite.

Who consents: an invite is the owner's consent, so redeeming one enrols the agent ACTIVE. A
challenge proves only that the caller holds the key, so it enrols the agent PENDING: it may read
its own record and nothing else until its owner activates it (:meth:`Registration.set_status`).
An agent id is never taken over: registering one that exists (active, pending or revoked, of
any owner) is ``409 AGENT_ID_TAKEN``, except that the owner of a revoked id may enrol it again
with an invite of theirs (owner-authenticated consent, and the old key stays revoked).
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from openleash.crypto import load_public_key, verify_challenge_signature
from openleash.domain.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TooManyRequestsError,
)
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import Agent, Challenge, Status
from openleash.domain.timefmt import iso_ms
from openleash.service.agents import activate, enrol, revoke
from openleash.service.bodies import Body
from openleash.service.options import Options
from openleash.service.owner_auth import (
    FactorCode,
    FactorTx,
    OwnerCall,
    check_second_factor,
    factor_attempts,
)
from openleash.service.owners import IssuedInvite, checked_invite, issue_invite, usable_invite
from openleash.service.ports import AgentRepo, ChallengeRepo, InviteRepo, OwnerRepo, Units


def _text(body: Body, key: str) -> str:
    value = body.get(key)
    return value if isinstance(value, str) else ""


def _require(body: Body, *keys: str) -> None:
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


def _check_lengths(body: Body) -> None:
    for key, limit in MAX_LENGTH.items():
        value = body.get(key)
        if isinstance(value, str) and len(value) > limit:
            raise InvalidInputError(
                "INVALID_REQUEST",
                f"{key} is too long: at most {limit} characters",
                {"field": key, "max_length": limit},
            )


def _check_visible_agent_id(body: Body) -> None:
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


def _attributes(value: object) -> JsonObject | None:
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


def _check_webhook_fields(body: Body) -> None:
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


async def check_webhook_free(tx: AgentRepo, url: str, owner_id: str) -> None:
    """A webhook URL is unique among one owner's ACTIVE agents only: no one can block another
    owner's URL, and a pending agent (which anyone may create) blocks nothing."""
    if await tx.webhook_url_taken(url, owner_id):
        raise ConflictError(
            "WEBHOOK_URL_NOT_UNIQUE",
            "webhook_url is used by another active agent of this owner; give each agent its "
            "own URL (or revoke the other agent first)",
        )


async def _check_agent_id_free(tx: AgentRepo, agent_id: str, reenrol_owner: str | None) -> None:
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


async def _check_pending_room(tx: AgentRepo, owner_id: str) -> None:
    pending = [a for a in await tx.list_agents(owner_id) if a.status == Status.PENDING]
    if len(pending) >= MAX_PENDING_PER_OWNER:
        raise TooManyRequestsError(
            "TOO_MANY_PENDING_AGENTS",
            f"This owner already has {len(pending)} agents awaiting activation; ask the owner "
            "to activate or reject them, or to send you an invite instead",
            {"max_pending": MAX_PENDING_PER_OWNER},
        )


def _owner_type_refused() -> InvalidInputError:
    return InvalidInputError("INVALID_REQUEST", 'owner_type must be "user"')


def _owner_not_found(owner_id: object) -> NotFoundError:
    return NotFoundError("OWNER_NOT_FOUND", f"Owner {owner_id!r} does not exist")


async def _require_owner(tx: OwnerRepo, owner_type: str | None, owner_id: str) -> None:
    if owner_type != "user":
        raise _owner_type_refused()
    if await tx.get_owner(owner_id) is None:
        raise _owner_not_found(owner_id)


def _challenge_owner(body: Body) -> tuple[str | None, str | None]:
    """``owner_type`` and ``owner_id`` of a challenge request, each None when not given; the
    errors of :func:`_require_owner` for values that are not strings."""
    owner_type, owner_id = body.get("owner_type") or None, body.get("owner_id") or None
    if owner_id is not None and not isinstance(owner_id, str):
        if owner_type != "user":
            raise _owner_type_refused()
        raise _owner_not_found(owner_id)
    if owner_type is not None and not isinstance(owner_type, str):
        raise _owner_type_refused()
    return owner_type, owner_id


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where an agent wants approval events delivered, and how they are signed; empty when
    none."""

    url: str = ""
    secret: str = field(default="", repr=False)
    auth_token: str = field(default="", repr=False)

    @classmethod
    def from_body(cls, body: Body) -> Webhook:
        _check_webhook_fields(body)
        return cls(
            _text(body, "webhook_url"),
            _text(body, "webhook_secret"),
            _text(body, "webhook_auth_token"),
        )


@dataclass(frozen=True, slots=True)
class ChallengeRequest:
    """``POST /v1/agents/registration-challenge``: the key a challenge is issued for."""

    agent_id: str
    agent_pubkey_b64: str
    owner_type: str | None
    owner_id: str | None
    attributes: JsonObject

    @classmethod
    def from_body(cls, body: Body) -> ChallengeRequest:
        _require(body, "agent_id", "agent_pubkey_b64")
        _check_lengths(body)
        _check_visible_agent_id(body)
        load_public_key(_text(body, "agent_pubkey_b64"))
        attributes = _attributes(body.get("agent_attributes_json"))
        owner_type, owner_id = _challenge_owner(body)
        return cls(
            _text(body, "agent_id"),
            _text(body, "agent_pubkey_b64"),
            owner_type,
            owner_id,
            attributes or {},
        )


@dataclass(frozen=True, slots=True)
class Enrolment:
    """``POST /v1/agents/register``: a challenge signed with the key it was issued for."""

    challenge_id: str
    agent_id: str
    agent_pubkey_b64: str
    signature_b64: str
    owner_type: str
    owner_id: str
    webhook: Webhook
    #: None: the attributes given with the challenge.
    attributes: JsonObject | None

    @classmethod
    def from_body(cls, body: Body) -> Enrolment:
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
        webhook = Webhook.from_body(body)
        return cls(
            _text(body, "challenge_id"),
            _text(body, "agent_id"),
            _text(body, "agent_pubkey_b64"),
            _text(body, "signature_b64"),
            _text(body, "owner_type"),
            _text(body, "owner_id"),
            webhook,
            _attributes(body.get("agent_attributes_json")),
        )


@dataclass(frozen=True, slots=True)
class InviteEnrolment:
    """``POST /v1/agents/register-with-invite``: an agent invite redeemed with the agent's key."""

    invite_id: str
    invite_token: str = field(repr=False)
    agent_id: str
    agent_pubkey_b64: str
    webhook: Webhook

    @classmethod
    def from_body(cls, body: Body) -> InviteEnrolment:
        _require(body, "invite_id", "invite_token", "agent_id", "agent_pubkey_b64")
        _check_lengths(body)
        webhook = Webhook.from_body(body)
        load_public_key(_text(body, "agent_pubkey_b64"))
        return cls(
            _text(body, "invite_id"),
            _text(body, "invite_token"),
            _text(body, "agent_id"),
            _text(body, "agent_pubkey_b64"),
            webhook,
        )


@dataclass(frozen=True, slots=True)
class InviteLink:
    """The invite an agent reading an invite link was given (checked when it is redeemed)."""

    invite_id: str
    invite_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class AgentStatusChange:
    """An owner's ``ACTIVE`` (activate a pending agent) or ``REVOKED``, with the second factor."""

    status: Status
    factor: FactorCode

    @classmethod
    def from_body(cls, body: Body) -> AgentStatusChange:
        status = body.get("status")
        if not isinstance(status, str) or status not in (Status.ACTIVE, Status.REVOKED):
            raise InvalidInputError(
                "VALIDATION_ERROR",
                'status must be "ACTIVE" (activate a pending agent) or "REVOKED"; a revoked '
                "agent enrols again with a new invite",
            )
        return cls(Status(status), FactorCode.from_body(body))


class RegistrationTx(OwnerRepo, AgentRepo, ChallengeRepo, InviteRepo, FactorTx, Protocol):
    """What enrolling agents, and their owners' and the admin's changes to them, use."""

    async def bump_revision(self) -> None: ...


class Registration:
    """Agents enrolling (by challenge or invite), and the owners and admin managing them."""

    def __init__(self, store: Units[RegistrationTx], options: Options) -> None:
        self._store = store
        self._options = options

    async def challenge(self, ask: ChallengeRequest) -> Challenge:
        now = self._options.clock()
        challenge = Challenge(
            challenge_id=str(uuid.uuid4()),
            agent_id=ask.agent_id,
            agent_pubkey_b64=ask.agent_pubkey_b64,
            owner_type=ask.owner_type,
            owner_id=ask.owner_id,
            challenge_b64=base64.b64encode(secrets.token_bytes(32)).decode(),
            expires_at=iso_ms(now + timedelta(seconds=self._options.challenge_ttl_seconds)),
            created_at=iso_ms(now),
            agent_attributes=ask.attributes,
        )
        async with self._store.transaction() as tx:
            if challenge.owner_id is not None:
                await _require_owner(tx, challenge.owner_type, challenge.owner_id)
            await tx.purge_challenges(iso_ms(now))
            await tx.add_challenge(challenge)
            # No audit record: anyone may ask, and anonymous noise must not grow the audit
            # chain. The registration that creates an agent is audited.
        return challenge

    async def register(self, enrolment: Enrolment) -> Agent:
        """Enrol the agent PENDING: the challenge proves the key, not the owner's consent."""
        now = self._options.clock()
        async with self._store.transaction() as tx:
            challenge = await tx.take_challenge(enrolment.challenge_id)
            if challenge is None:
                raise InvalidInputError("CHALLENGE_NOT_FOUND", "Challenge not found")
            if challenge.expires_at <= iso_ms(now):
                raise InvalidInputError("CHALLENGE_EXPIRED", "Challenge expired")
            _match_challenge(challenge, enrolment)
            await _require_owner(tx, enrolment.owner_type, enrolment.owner_id)
            verify_challenge_signature(
                enrolment.agent_pubkey_b64,
                base64.b64decode(challenge.challenge_b64),
                enrolment.signature_b64,
            )
            await _check_agent_id_free(tx, enrolment.agent_id, None)
            await _check_pending_room(tx, enrolment.owner_id)
            attributes = enrolment.attributes
            agent = _new_agent(
                enrolment.agent_id,
                enrolment.agent_pubkey_b64,
                enrolment.webhook,
                enrolment.owner_id,
                now,
                attributes if attributes is not None else challenge.agent_attributes,
                status=Status.PENDING,
            )
            await enrol(tx, agent, now, "AGENT_REGISTERED")
        return agent

    async def register_with_invite(self, enrolment: InviteEnrolment) -> Agent:
        """Enrol the agent ACTIVE: the invite is its owner's consent."""
        now = self._options.clock()
        checked = await checked_invite(
            self._store, enrolment.invite_id, "agent", enrolment.invite_token, now
        )
        async with self._store.transaction() as tx:
            invite = usable_invite(await tx.get_invite(checked.invite_id), "agent", now)
            await check_webhook_free(tx, enrolment.webhook.url, invite.owner_id)
            await _check_agent_id_free(tx, enrolment.agent_id, invite.owner_id)
            await tx.use_invite(invite.invite_id, iso_ms(now))
            agent = _new_agent(
                enrolment.agent_id,
                enrolment.agent_pubkey_b64,
                enrolment.webhook,
                invite.owner_id,
                now,
                {},
                status=Status.ACTIVE,
            )
            await enrol(tx, agent, now, "AGENT_REGISTERED_VIA_INVITE", invite_id=invite.invite_id)
        return agent

    def invite_instructions(self, invite_id: str, invite_token: str) -> InviteLink:
        """The invite of an invite link, for the instructions an agent reads; it is checked
        when redeemed."""
        if not invite_id or not invite_token:
            raise InvalidInputError("INVALID_REQUEST", "invite_id and invite_token are required")
        return InviteLink(invite_id, invite_token)

    async def agent_invite(self, owner_id: str) -> IssuedInvite:
        """A single-use invite for a new agent of ``owner_id`` (the owner's consent)."""
        async with self._store.transaction() as tx:
            return await issue_invite(tx, owner_id, "agent", self._options)

    async def agents(self, owner_id: str | None = None) -> list[Agent]:
        """The agents of ``owner_id``, or every agent."""
        async with self._store.read() as tx:
            return await tx.list_agents(owner_id)

    async def pending_agents(self, call: OwnerCall) -> list[Agent]:
        """The owner's agents that enrolled by challenge and await activation."""
        return [a for a in await self.agents(call.owner_id) if a.status == Status.PENDING]

    async def set_status(
        self, call: OwnerCall, agent_principal_id: str, change: AgentStatusChange
    ) -> Agent:
        """``ACTIVE`` activates an agent that awaits it (enrolled by challenge); ``REVOKED``
        revokes an active or pending one. Both need the second factor when the owner has TOTP
        on. A revoked registration stays revoked: its owner enrols the id again with an invite.
        Returns the agent as it was."""
        store, options = self._store, self._options
        async with factor_attempts(store, call, options), store.transaction() as tx:
            agent = await tx.get_agent(agent_principal_id)
            if agent is None or agent.owner_id != call.owner_id:
                raise NotFoundError("NOT_FOUND", f"Agent {agent_principal_id} not found")
            await check_second_factor(tx, call.owner_id, change.factor, call.now, options)
            if change.status == Status.ACTIVE:
                await _activate(tx, agent, call)
            else:
                if agent.status == Status.REVOKED:
                    raise InvalidInputError("INVALID_STATUS", "The agent is already revoked")
                await revoke(tx, agent, call.now, by=call.owner_id)
        return agent

    async def revoke_agent(self, agent_principal_id: str) -> None:
        """The admin revokes an agent: its signatures stop verifying in every process."""
        now = self._options.clock()
        async with self._store.transaction() as tx:
            agent = await tx.get_agent(agent_principal_id)
            if agent is None:
                raise NotFoundError("NOT_FOUND", f"Agent {agent_principal_id} not found")
            await revoke(tx, agent, now, by=None)


async def _activate(tx: RegistrationTx, agent: Agent, call: OwnerCall) -> None:
    if agent.status != Status.PENDING:
        raise InvalidInputError(
            "INVALID_STATUS",
            "Only an agent awaiting activation can be activated; a revoked agent enrols again "
            "with a new invite",
        )
    await check_webhook_free(tx, agent.webhook_url, agent.owner_id)
    await activate(tx, agent, call.now, by=call.owner_id)


def _match_challenge(challenge: Challenge, enrolment: Enrolment) -> None:
    """Fix (PROTOCOL §3.5): the challenge binds the agent id, key and owner it was issued for."""
    if (
        challenge.agent_id != enrolment.agent_id
        or challenge.agent_pubkey_b64 != enrolment.agent_pubkey_b64
    ):
        raise InvalidInputError(
            "CHALLENGE_MISMATCH", "agent_id and agent_pubkey_b64 must match the challenge"
        )
    if challenge.owner_id is not None and challenge.owner_id != enrolment.owner_id:
        raise InvalidInputError("CHALLENGE_MISMATCH", "owner_id must match the challenge")


def _new_agent(
    agent_id: str,
    public_key_b64: str,
    webhook: Webhook,
    owner_id: str,
    now: datetime,
    attributes: JsonObject,
    *,
    status: str,
) -> Agent:
    return Agent(
        agent_principal_id=str(uuid.uuid4()),
        agent_id=agent_id,
        owner_type="user",
        owner_id=owner_id,
        public_key_b64=public_key_b64,
        status=status,
        created_at=iso_ms(now),
        attributes=attributes,
        webhook_url=webhook.url,
        webhook_secret=webhook.secret,
        webhook_auth_token=webhook.auth_token,
    )
