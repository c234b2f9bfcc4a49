"""An owner's own audit trail (inv §2.3, personal scope). The owner's agents and invites are
:class:`~openleash.service.registration.Registration`'s."""

from __future__ import annotations

from typing import Any

from openleash.domain.errors import ForbiddenError, InvalidInputError, NotFoundError
from openleash.service.audit import read_page
from openleash.service.owner_auth import OwnerCall
from openleash.service.ports import Store
from openleash.service.timefmt import parse_timestamp


async def audit_page(
    store: Store,
    call: OwnerCall,
    *,
    limit: int,
    cursor: str | None,
    agent_principal_id: str | None,
    since: str | None,
    event_type: str | None = None,
) -> dict[str, Any]:
    """The owner's own audit events, newest first; an agent filter must name one of theirs."""
    if agent_principal_id is not None:
        async with store.read() as tx:
            agent = await tx.get_agent(agent_principal_id)
        if agent is None:
            raise NotFoundError("NOT_FOUND", f"Agent {agent_principal_id} not found")
        if agent.owner_id != call.owner_id:
            raise ForbiddenError("FORBIDDEN", "That agent is not yours")
    if since is not None and parse_timestamp(since) is None:
        raise InvalidInputError(
            "INVALID_REQUEST", "since must be an ISO-8601 timestamp with a zone"
        )
    filters = {
        "owner_id": call.owner_id,
        "agent_principal_id": agent_principal_id,
        "since": since,
        "event_type": event_type,
    }
    return await read_page(store, limit=limit, cursor=cursor, filters=filters)
