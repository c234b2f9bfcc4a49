"""Agents: the agent's own record (:class:`AgentSelf`, built once in :mod:`openleash.bootstrap`),
and what enrolling, activating and revoking one write."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from openleash.domain.models import Agent
from openleash.domain.timefmt import iso_ms
from openleash.service.agent_auth import AgentCall, record_nonce
from openleash.service.audit import record
from openleash.service.options import Options
from openleash.service.ports import AgentRepo, AuditLog, NonceRepo, Units


class AgentSelf:
    """An agent reads its own record: the one call an agent awaiting activation may make (it
    tells it that it waits)."""

    def __init__(self, store: Units[NonceRepo], options: Options) -> None:
        self._store = store
        self._options = options

    async def read(self, call: AgentCall) -> Agent:
        """The calling agent, as the verified call found it (its nonce recorded first)."""
        async with self._store.transaction() as tx:
            await record_nonce(tx, call, self._options)
        return call.agent


class AgentChangeTx(AgentRepo, AuditLog, Protocol):
    """What enrolling, activating and revoking an agent use."""

    async def bump_revision(self) -> None: ...


async def revoke(tx: AgentChangeTx, agent: Agent, now: datetime, *, by: str | None) -> None:
    """Revoke ``agent`` (its signatures stop verifying in every process) and audit who did.
    An agent revoked already is left as it is, and nothing is recorded again."""
    if not await tx.revoke_agent(agent.agent_principal_id, iso_ms(now)):
        return
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
    await tx.activate_agent(agent.agent_principal_id)
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
