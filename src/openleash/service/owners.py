"""Owners (users) and the invites an admin hands out."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from openleash.crypto import NotVerifiedError, hash_secret, new_token, verify_secret
from openleash.domain.errors import AuthenticationError, InvalidInputError, NotFoundError
from openleash.domain.models import Invite, Owner, Status
from openleash.service.audit import record
from openleash.service.options import Options
from openleash.service.ports import Store
from openleash.service.timefmt import iso


def owner_view(owner: Owner) -> dict[str, Any]:
    return {
        "user_principal_id": owner.user_principal_id,
        "display_name": owner.display_name,
        "status": owner.status,
        "identity_assurance_level": "NONE",
        "created_at": owner.created_at,
        "system_roles": [],
    }


async def create_owner(store: Store, body: Any, options: Options) -> dict[str, Any]:
    name = body.get("display_name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(
            "VALIDATION_ERROR",
            "display_name is required",
            {"field_errors": {"display_name": "Required: a non-empty string"}},
        )
    now = options.clock()
    owner = Owner(str(uuid.uuid4()), name.strip(), Status.ACTIVE, iso(now))
    async with store.transaction() as tx:
        await tx.add_owner(owner)
        await tx.bump_revision()
        await record(
            tx,
            now,
            "USER_CREATED",
            owner.user_principal_id,
            user_principal_id=owner.user_principal_id,
            owner_id=owner.user_principal_id,
        )
    view = owner_view(owner)
    view.pop("system_roles")
    return view


async def list_owners(store: Store) -> dict[str, Any]:
    async with store.read() as tx:
        owners = await tx.list_owners()
    return {"users": [owner_view(o) for o in owners]}


def redeemable_invite(invite: Invite | None, kind: str, token: str, now: datetime) -> Invite:
    """``invite`` if it is a ``kind`` invite that is unused, unexpired and whose token is
    ``token``; raises the wire error of the first check it fails otherwise."""
    if invite is None or invite.kind != kind:
        raise NotFoundError("INVITE_NOT_FOUND", "Invite not found")
    if invite.used_at is not None:
        raise InvalidInputError("INVITE_USED", "Invite has already been used")
    if invite.expires_at <= iso(now):
        raise InvalidInputError("INVITE_EXPIRED", "Invite has expired")
    try:
        verify_secret(token, invite.token_hash, invite.token_salt)
    except NotVerifiedError:
        raise AuthenticationError("INVALID_INVITE_TOKEN", "Invalid invite token") from None
    return invite


async def create_invite(store: Store, owner_id: str, kind: str, options: Options) -> dict[str, Any]:
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
        expires_at=iso(now + timedelta(seconds=options.invite_ttl_seconds)),
        created_at=iso(now),
    )
    async with store.transaction() as tx:
        if await tx.get_owner(owner_id) is None:
            raise NotFoundError("USER_NOT_FOUND", f"User {owner_id} not found")
        await tx.add_invite(invite)
        event = "AGENT_INVITE_CREATED" if kind == "agent" else "USER_SETUP_INVITE_CREATED"
        await record(tx, now, event, owner_id, owner_id=owner_id, invite_id=invite.invite_id)
    return {"invite_id": invite.invite_id, "invite_token": token, "expires_at": invite.expires_at}
