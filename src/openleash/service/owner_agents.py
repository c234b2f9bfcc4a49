"""An owner's own agents, invites and audit trail (inv §2.3, personal scope)."""

from __future__ import annotations

from typing import Any

from openleash.domain.errors import ForbiddenError, InvalidInputError, NotFoundError
from openleash.domain.models import Agent, Status
from openleash.service import owners
from openleash.service.agents import activate, revoke
from openleash.service.audit import read_page
from openleash.service.options import Options
from openleash.service.owner_auth import OwnerCall, factor_attempts, second_factor
from openleash.service.ports import Store, Transaction
from openleash.service.registration import check_webhook_free
from openleash.service.timefmt import parse_timestamp


async def list_agents(store: Store, call: OwnerCall) -> dict[str, Any]:
    async with store.read() as tx:
        found = await tx.list_agents(call.owner_id)
    return {"agents": [a.public_view() for a in found]}


async def pending_agents(store: Store, call: OwnerCall) -> list[dict[str, Any]]:
    """The owner's agents that enrolled by challenge and await activation."""
    listed = await list_agents(store, call)
    return [a for a in listed["agents"] if a["status"] == Status.PENDING]


async def set_status(
    store: Store, call: OwnerCall, agent_principal_id: str, body: Any, options: Options
) -> dict[str, Any]:
    """``ACTIVE`` activates an agent that awaits it (enrolled by challenge); ``REVOKED`` revokes
    an active or pending one. Both need the second factor when the owner has TOTP on. A revoked
    registration stays revoked: its owner enrols the id again with an invite."""
    status = body.get("status") if isinstance(body, dict) else None
    if status not in (Status.ACTIVE, Status.REVOKED):
        raise InvalidInputError(
            "VALIDATION_ERROR",
            'status must be "ACTIVE" (activate a pending agent) or "REVOKED"; a revoked agent '
            "enrols again with a new invite",
        )
    async with factor_attempts(store, call, options), store.transaction() as tx:
        agent = await tx.get_agent(agent_principal_id)
        if agent is None or agent.owner_id != call.owner_id:
            raise NotFoundError("NOT_FOUND", f"Agent {agent_principal_id} not found")
        await second_factor(tx, call.owner_id, body, call.now, options)
        if status == Status.ACTIVE:
            await _activate(tx, agent, call)
        else:
            if agent.status == Status.REVOKED:
                raise InvalidInputError("INVALID_STATUS", "The agent is already revoked")
            await revoke(tx, agent, call.now, by=call.owner_id)
    return {
        "agent_principal_id": agent_principal_id,
        "agent_id": agent.agent_id,
        "status": status,
    }


async def _activate(tx: Transaction, agent: Agent, call: OwnerCall) -> None:
    if agent.status != Status.PENDING:
        raise InvalidInputError(
            "INVALID_STATUS",
            "Only an agent awaiting activation can be activated; a revoked agent enrols again "
            "with a new invite",
        )
    await check_webhook_free(tx, agent.webhook_url, agent.owner_id)
    await activate(tx, agent, call.now, by=call.owner_id)


async def create_agent_invite(store: Store, call: OwnerCall, options: Options) -> dict[str, Any]:
    return await owners.create_invite(store, call.owner_id, "agent", options)


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
