"""Owners (users) and the single-use invites an admin or an owner hands out."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypedDict

from openleash.crypto import NotVerifiedError, hash_secret, new_token, verify_secret
from openleash.domain.errors import AuthenticationError, InvalidInputError, NotFoundError
from openleash.domain.models import Invite, Owner
from openleash.domain.timefmt import iso_ms
from openleash.service.audit import record
from openleash.service.options import Options
from openleash.service.ports import (
    AuditLog,
    InviteRepo,
    OwnerRepo,
    Units,
    invite_not_found,
    invite_used,
)


class OwnerView(TypedDict):
    """:func:`owner_view`."""

    user_principal_id: str
    display_name: str
    status: str
    identity_assurance_level: str
    created_at: str
    system_roles: list[str]


def owner_view(owner: Owner) -> OwnerView:
    """The owner as ``openleash setup`` prints it."""
    return {
        "user_principal_id": owner.user_principal_id,
        "display_name": owner.display_name,
        "status": owner.status,
        "identity_assurance_level": "NONE",
        "created_at": owner.created_at,
        "system_roles": [],
    }


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    """A new invite: its token is given here, once, and stored only as a salted hash."""

    invite_id: str
    invite_token: str = field(repr=False)
    expires_at: str


class InviteTx(OwnerRepo, InviteRepo, AuditLog, Protocol):
    """What issuing an invite uses."""


#: The longest owner name, in characters: a name is shown, not stored as a document.
MAX_DISPLAY_NAME = 200


def checked_display_name(name: str) -> str:
    """``name`` trimmed; ``VALIDATION_ERROR`` when it is empty or longer than
    :data:`MAX_DISPLAY_NAME` characters."""
    name = name.strip()
    if not name or len(name) > MAX_DISPLAY_NAME:
        raise InvalidInputError(
            "VALIDATION_ERROR",
            f"display_name must be 1 to {MAX_DISPLAY_NAME} characters",
            {"field_errors": {"display_name": f"1 to {MAX_DISPLAY_NAME} characters"}},
        )
    return name


def usable_invite(invite: Invite | None, kind: str, now: datetime) -> Invite:
    """``invite`` if it is a ``kind`` invite that is unused and unexpired; raises the wire
    error of the first check it fails otherwise. Its token is :func:`checked_invite`'s."""
    if invite is None or invite.kind != kind:
        raise invite_not_found()
    if invite.used_at is not None:
        raise invite_used()
    if invite.expires_at <= iso_ms(now):
        raise InvalidInputError("INVITE_EXPIRED", "Invite has expired")
    return invite


async def checked_invite(
    store: Units[InviteRepo], invite_id: str, kind: str, token: str, now: datetime
) -> Invite:
    """The ``kind`` invite ``invite_id`` if it is usable (:func:`usable_invite`) and ``token``
    is its token. The token's scrypt hash (tens of milliseconds) is checked in a worker
    thread, outside any transaction: a caller guessing tokens holds neither the event loop nor
    the write lock. The redeeming transaction checks the invite again (:func:`usable_invite`):
    it may have been used meanwhile; its token cannot have changed."""
    async with store.read() as tx:
        invite = usable_invite(await tx.get_invite(invite_id), kind, now)
    try:
        await asyncio.to_thread(verify_secret, token, invite.token_hash, invite.token_salt)
    except NotVerifiedError:
        raise AuthenticationError("INVALID_INVITE_TOKEN", "Invalid invite token") from None
    return invite


async def issue_invite(tx: InviteTx, owner_id: str, kind: str, options: Options) -> IssuedInvite:
    """A single-use invite for ``owner_id``: ``agent`` enrols an agent, ``setup`` an owner login.

    The token is returned once and stored only as a salted scrypt hash."""
    now = options.clock()
    token = new_token()
    token_hash, salt = hash_secret(token)
    invite = Invite(
        invite_id=str(uuid.uuid4()),
        kind=kind,
        owner_type="user",
        owner_id=owner_id,
        token_hash=token_hash,
        token_salt=salt,
        expires_at=iso_ms(now + timedelta(seconds=options.invite_ttl_seconds)),
        created_at=iso_ms(now),
    )
    if await tx.get_owner(owner_id) is None:
        raise NotFoundError("USER_NOT_FOUND", f"User {owner_id} not found")
    await tx.add_invite(invite)
    event = "AGENT_INVITE_CREATED" if kind == "agent" else "USER_SETUP_INVITE_CREATED"
    await record(tx, now, event, owner_id, owner_id=owner_id, invite_id=invite.invite_id)
    return IssuedInvite(invite.invite_id, token, invite.expires_at)
