"""Agents: the agent's own record, and what enrolling, activating and revoking one write."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from openleash.domain.errors import InvalidInputError
from openleash.domain.models import Agent, AgentView
from openleash.domain.timefmt import iso_ms
from openleash.service.agent_auth import AgentCall, record_nonce
from openleash.service.audit import record
from openleash.service.options import Options
from openleash.service.ports import AgentRepo, AuditLog, Store


async def agent_self(store: Store, call: AgentCall, options: Options) -> AgentView:
    async with store.transaction() as tx:
        await record_nonce(tx, call, options)
    view = call.agent.public_view()
    view.pop("revoked_at")
    return view


class AgentChangeTx(AgentRepo, AuditLog, Protocol):
    """What enrolling, activating and revoking an agent use."""

    async def bump_revision(self) -> None: ...


async def revoke(tx: AgentChangeTx, agent: Agent, now: datetime, *, by: str | None) -> None:
    """Revoke ``agent`` (its signatures stop verifying in every process) and audit who did."""
    await tx.revoke_agent(agent.agent_principal_id, iso_ms(now))
    await tx.bump_revision()
    await record(
        tx,
        now,
        "AGENT_REVOKED",
        by or agent.agent_principal_id,
        agent_principal_id=agent.agent_principal_id,
        agent_id=agent.agent_id,
        owner_id=agent.owner_id,
        revoked_by=by,
    )


async def enrol(
    tx: AgentChangeTx, agent: Agent, now: datetime, event_type: str, **extra: Any
) -> None:
    """Store a new agent (its id must be free: nothing is replaced) and audit it with the status
    it starts in; caches in every process reload."""
    await tx.add_agent(agent)
    await tx.bump_revision()
    await record(
        tx,
        now,
        event_type,
        agent.agent_principal_id,
        agent_principal_id=agent.agent_principal_id,
        agent_id=agent.agent_id,
        owner_type=agent.owner_type,
        owner_id=agent.owner_id,
        status=agent.status,
        **extra,
    )


async def activate(tx: AgentChangeTx, agent: Agent, now: datetime, *, by: str) -> None:
    """Make a PENDING agent ACTIVE (its owner consented) and audit who did."""
    if not await tx.activate_agent(agent.agent_principal_id):
        raise InvalidInputError(
            "INVALID_STATUS", "Only an agent awaiting activation can be activated"
        )
    await tx.bump_revision()
    await record(
        tx,
        now,
        "AGENT_ACTIVATED",
        by,
        agent_principal_id=agent.agent_principal_id,
        agent_id=agent.agent_id,
        owner_id=agent.owner_id,
        activated_by=by,
    )
