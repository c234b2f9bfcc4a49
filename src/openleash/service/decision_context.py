"""What a decision knows besides the action: plan, then read, then evaluate.

A policy with limits, or with conditions on how often the owner dealt with a counterparty,
decides by earlier allowed actions. Every decider finds them the same way:

1. :func:`plan_context` (pure): what the policy needs to know for this action at this time:
   one usage query per limit that applies, and whether to count earlier actions with the
   counterparty (``$.context.counterparty.allowed_before``);
2. :func:`read_context`: the answers, from a :class:`~openleash.service.ports.LedgerView`:
   the store's write transaction on the server, a
   :class:`~openleash.service.memory_ledger.MemoryLedger` for ``openleash.Engine``,
   ``policy replay`` and ``policy test``;
3. ``evaluate`` with :meth:`DecisionContext.evaluation` (pure).

A plan that needs nothing (most policies, for most actions) gives its context without a ledger
(:func:`ledger_free_context`): the server then decides before its write transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from openleash.domain.models import UsageFilter
from openleash.domain.timefmt import epoch_ms
from openleash.policy import (
    EvalContext,
    Policy,
    ServerContext,
    Usage,
    UsageKey,
    UsageQuery,
    build_server_context,
    counterparty_of,
    usage_queries,
)
from openleash.service.ports import LedgerView


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """The values of ``$.context`` and the usage of every limit that applies."""

    server_context: ServerContext
    usage: dict[UsageKey, Usage]

    def evaluation(
        self,
        now: datetime,
        *,
        default_proof_ttl_seconds: int | None = None,
        assurance_level: str | None = None,
    ) -> EvalContext:
        """The context ``evaluate`` takes."""
        return EvalContext(
            now=now,
            default_proof_ttl_seconds=default_proof_ttl_seconds,
            server_context=self.server_context,
            usage=self.usage,
            assurance_level=assurance_level,
        )


@dataclass(frozen=True, slots=True)
class ContextPlan:
    """What deciding ``action`` under ``policy`` at ``now`` needs from the ledger."""

    policy: Policy
    action: Mapping[str, object]
    owner_id: str
    now: datetime
    #: The counterparty whose earlier allowed actions a condition counts; None when none does.
    counterparty: str | None
    #: One per limit that applies to the action, each with the ledger filter answering it.
    queries: tuple[tuple[UsageQuery, UsageFilter], ...]

    @property
    def reads_ledger(self) -> bool:
        return self.counterparty is not None or bool(self.queries)


def plan_context(
    policy: Policy,
    action: Mapping[str, object],
    owner_id: str,
    agent_principal_id: str,
    now: datetime,
) -> ContextPlan:
    """What the ledger must tell before ``policy`` can decide ``action`` (no I/O)."""
    counterparty = counterparty_of(action) if policy.reads_allowed_before else None
    queries = usage_queries(policy, action, agent_principal_id, now)
    return ContextPlan(
        policy=policy,
        action=action,
        owner_id=owner_id,
        now=now,
        counterparty=counterparty,
        queries=tuple((query, usage_filter(owner_id, query)) for query in queries),
    )


def usage_filter(owner_id: str, query: UsageQuery) -> UsageFilter:
    """The ledger's selection of the actions ``query`` counts."""
    pattern = query.action_pattern
    return UsageFilter(
        owner_id=owner_id,
        since_ms=epoch_ms(query.since),
        agent_principal_id=query.agent_principal_id,
        action_exact=pattern.text if pattern.kind == "exact" else None,
        action_prefix=pattern.prefix if pattern.kind == "prefix" else None,
        by=query.by,
    )


async def read_context(ledger: LedgerView, plan: ContextPlan) -> DecisionContext:
    """The context of ``plan`` with the ledger's answers; queries that select the same
    actions share one look-up. A plan that needs nothing does not touch the ledger."""
    before = 0
    if plan.counterparty is not None:
        before = await ledger.allowed_before(plan.owner_id, plan.counterparty)
    answers: dict[UsageFilter, Usage] = {}
    usage: dict[UsageKey, Usage] = {}
    for query, where in plan.queries:
        if where not in answers:
            amount, count = await ledger.usage(where)
            answers[where] = Usage(amount, count)
        usage[query.key] = answers[where]
    return _context(plan, before, usage)


def ledger_free_context(plan: ContextPlan) -> DecisionContext:
    """The context of a plan that needs nothing from the ledger."""
    if plan.reads_ledger:
        # INVARIANT: answering "nothing allowed yet" for a plan that counts would let limits
        # and first-contact conditions pass that the ledger would refuse.
        raise RuntimeError("this plan reads the ledger: use read_context")
    return _context(plan, 0, {})


def _context(
    plan: ContextPlan, allowed_before: int, usage: dict[UsageKey, Usage]
) -> DecisionContext:
    server_context = build_server_context(
        plan.policy, plan.action, now=plan.now, allowed_before=allowed_before
    )
    return DecisionContext(server_context, usage)
