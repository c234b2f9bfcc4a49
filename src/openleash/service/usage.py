"""How much of each limit an agent has used: ``GET /v1/agent/usage`` and the admin view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openleash.domain.errors import NotFoundError
from openleash.domain.models import Agent, UsageFilter
from openleash.domain.timefmt import epoch_ms, iso_ms
from openleash.policy import Limit, Rule, window_start
from openleash.service.agent_auth import AgentCall, record_nonce
from openleash.service.options import Options
from openleash.service.ports import Store, Transaction
from openleash.service.runtime import Runtime


def _filter(agent: Agent, rule: Rule, limit: Limit, since: datetime) -> UsageFilter:
    pattern = rule.action
    return UsageFilter(
        owner_id=agent.owner_id,
        since_ms=epoch_ms(since),
        agent_principal_id=agent.agent_principal_id if limit.per == "agent" else None,
        action_exact=pattern.text if pattern.kind == "exact" else None,
        action_prefix=pattern.prefix if pattern.kind == "prefix" else None,
    )


async def _limit_usage(
    tx: Transaction, agent: Agent, rule: Rule, limit: Limit, now: datetime
) -> dict[str, Any]:
    since = window_start(limit.window, limit.zone, now)
    where = _filter(agent, rule, limit, since)
    groups = await tx.usage_groups(where, limit.by) if limit.by else []
    if not limit.by:
        amount, count = await tx.usage(where)
        groups = [((), amount, count)]
    rows = []
    for values, amount, count in groups:
        used = amount if limit.kind == "spend" else count
        rows.append(
            {
                "by": dict(zip(limit.by, values, strict=True)),
                "used": used,
                "count": count,
                "remaining": max(limit.max - used, 0),
            }
        )
    return {
        "rule_id": rule.id,
        "action": rule.action.text,
        "kind": limit.kind,
        "max": limit.max,
        "window": limit.window.text,
        "per": limit.per,
        "by": list(limit.by),
        "since": iso_ms(since),
        "usage": rows,
    }


async def usage_of(runtime: Runtime, agent: Agent, now: datetime) -> dict[str, Any]:
    """Every limit of the agent's effective policy with its use in the current window. With
    ``by`` fields, one entry per value seen in the window (none yet: nothing used)."""
    snap = await runtime.snapshot()
    effective = await runtime.effective_policy(snap, agent)
    limits: list[dict[str, Any]] = []
    if effective is not None:
        async with runtime.store.read() as tx:
            for rule in effective.policy.rules:
                for limit in rule.limits or ():
                    limits.append(await _limit_usage(tx, agent, rule, limit, now))
    return {
        "agent_principal_id": agent.agent_principal_id,
        "agent_id": agent.agent_id,
        "as_of": iso_ms(now),
        "policy_hash": effective.policy_hash if effective else None,
        "limits": limits,
    }


async def agent_usage(runtime: Runtime, call: AgentCall, options: Options) -> dict[str, Any]:
    async with runtime.store.transaction() as tx:
        await record_nonce(tx, call, options)
    return await usage_of(runtime, call.agent, call.now)


async def admin_usage(
    runtime: Runtime,
    store: Store,
    agent_principal_id: str,
    options: Options,
    *,
    owner_id: str | None = None,
) -> dict[str, Any]:
    """An agent's usage; with ``owner_id``, only if the agent is that owner's."""
    async with store.read() as tx:
        agent = await tx.get_agent(agent_principal_id)
    if agent is None or (owner_id is not None and agent.owner_id != owner_id):
        raise NotFoundError("NOT_FOUND", f"Agent {agent_principal_id} not found")
    return await usage_of(runtime, agent, options.clock())
