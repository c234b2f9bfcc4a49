"""How much of each limit an agent has used: ``GET /v1/agent/usage``, the owner's and the admin
view of an agent, and the portal's usage page.

:class:`Usage` is the use case, built once (:mod:`openleash.bootstrap`); it returns
:class:`AgentUsage`, which the API renders (:mod:`openleash.api.views.usage`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from openleash.domain.errors import NotFoundError
from openleash.domain.models import Agent, UsageFilter
from openleash.domain.timefmt import epoch_ms, iso_ms
from openleash.policy import Limit, Rule, window_start
from openleash.service.agent_auth import AgentCall, record_nonce
from openleash.service.options import Options
from openleash.service.ports import AgentRepo, Ledger, NonceRepo, Units
from openleash.service.runtime import Runtime


class UsageTx(Ledger, AgentRepo, NonceRepo, Protocol):
    """What reading usage touches: the ledger, the agent, and the nonce of an agent's call."""


@dataclass(frozen=True, slots=True)
class UsageRow:
    """The use of one limit in its window; with ``by`` fields, of one combination of values
    (None for actions without the field)."""

    by: tuple[tuple[str, str | None], ...]
    #: The amount spent (``spend`` limits) or the number of actions (``count`` limits).
    used: float
    count: int
    remaining: float


@dataclass(frozen=True, slots=True)
class LimitUsage:
    """One limit of a rule of the agent's effective policy and its use since ``since``."""

    rule_id: str
    action: str
    kind: str
    max: float
    window: str
    per: str
    by: tuple[str, ...]
    since: str
    #: One row; with ``by`` fields, one per combination seen in the window (none: nothing used).
    usage: tuple[UsageRow, ...]


@dataclass(frozen=True, slots=True)
class AgentUsage:
    """Every limit of an agent's effective policy with its use in the current window."""

    agent_principal_id: str
    agent_id: str
    as_of: str
    #: The effective policy's hash; None when nothing is bound to the agent.
    policy_hash: str | None
    limits: tuple[LimitUsage, ...]


class Usage:
    """An agent's use of its limits: asked by the agent itself, by its owner or by the admin."""

    def __init__(self, store: Units[UsageTx], runtime: Runtime, options: Options) -> None:
        self._store = store
        self._runtime = runtime
        self._options = options

    async def for_agent(self, call: AgentCall) -> AgentUsage:
        """The calling agent's usage (its nonce recorded first)."""
        async with self._store.transaction() as tx:
            await record_nonce(tx, call, self._options)
        return await self._usage_of(call.agent, call.now)

    async def of_agent(self, agent_principal_id: str, *, owner_id: str | None = None) -> AgentUsage:
        """An agent's usage; with ``owner_id``, only if the agent is that owner's (NOT_FOUND
        otherwise, as for an unknown agent)."""
        async with self._store.read() as tx:
            agent = await tx.get_agent(agent_principal_id)
        if agent is None or (owner_id is not None and agent.owner_id != owner_id):
            raise NotFoundError("NOT_FOUND", f"Agent {agent_principal_id} not found")
        return await self._usage_of(agent, self._options.clock())

    async def _usage_of(self, agent: Agent, now: datetime) -> AgentUsage:
        """With ``by`` fields, one row per value seen in the window (none yet: nothing used)."""
        snap = await self._runtime.snapshot()
        effective = await self._runtime.effective_policy(snap, agent)
        limits: list[LimitUsage] = []
        if effective is not None:
            async with self._store.read() as tx:
                for rule in effective.policy.rules:
                    for limit in rule.limits or ():
                        limits.append(await _limit_usage(tx, agent, rule, limit, now))
        return AgentUsage(
            agent_principal_id=agent.agent_principal_id,
            agent_id=agent.agent_id,
            as_of=iso_ms(now),
            policy_hash=effective.policy_hash if effective else None,
            limits=tuple(limits),
        )


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
    tx: Ledger, agent: Agent, rule: Rule, limit: Limit, now: datetime
) -> LimitUsage:
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
            UsageRow(
                by=tuple(zip(limit.by, values, strict=True)),
                used=used,
                count=count,
                remaining=max(limit.max - used, 0),
            )
        )
    return LimitUsage(
        rule_id=rule.id,
        action=rule.action.text,
        kind=limit.kind,
        max=limit.max,
        window=limit.window.text,
        per=limit.per,
        by=tuple(limit.by),
        since=iso_ms(since),
        usage=tuple(rows),
    )
