"""Server context and usage for stateful policies, read and written inside the transaction
that decides (so that no number of concurrent requests can overrun a limit)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from openleash.domain.models import AllowedAction, UsageFilter
from openleash.policy import (
    Policy,
    Usage,
    UsageKey,
    UsageQuery,
    build_server_context,
    counterparty_of,
    usage_queries,
    usage_record,
)
from openleash.service.ports import Ledger
from openleash.service.timefmt import epoch_ms


def usage_filter(owner_id: str, query: UsageQuery) -> UsageFilter:
    pattern = query.action_pattern
    return UsageFilter(
        owner_id=owner_id,
        since_ms=epoch_ms(query.since),
        agent_principal_id=query.agent_principal_id,
        action_exact=pattern.text if pattern.kind == "exact" else None,
        action_prefix=pattern.prefix if pattern.kind == "prefix" else None,
        by=query.by,
    )


async def read_usage(
    ledger: Ledger, owner_id: str, queries: Iterable[UsageQuery]
) -> dict[UsageKey, Usage]:
    """Answer each query; queries selecting the same actions share one look-up."""
    answers: dict[UsageFilter, Usage] = {}
    usage: dict[UsageKey, Usage] = {}
    for query in queries:
        where = usage_filter(owner_id, query)
        if where not in answers:
            amount, count = await ledger.usage(where)
            answers[where] = Usage(amount, count)
        usage[query.key] = answers[where]
    return usage


async def decision_context(
    ledger: Ledger,
    policy: Policy,
    action: dict[str, Any],
    owner_id: str,
    agent_principal_id: str,
    now: datetime,
) -> tuple[dict[str, Any], dict[UsageKey, Usage]]:
    """``$.context`` for the action and the usage its limits need, as of ``now``."""
    counterparty = counterparty_of(action)
    before = 0
    if counterparty and policy.reads_allowed_before:
        before = await ledger.allowed_before(owner_id, counterparty)
    context = build_server_context(policy, action, now=now, allowed_before=before)
    queries = usage_queries(policy, action, agent_principal_id, now)
    usage = await read_usage(ledger, owner_id, queries) if queries else {}
    return context, usage


def store_free_context(
    policy: Policy, action: dict[str, Any], agent_principal_id: str, now: datetime
) -> dict[str, Any] | None:
    """``$.context`` for the action when deciding it reads nothing from the store (no limit
    applies to it and no condition counts earlier actions with its counterparty); else None.
    Equal to what :func:`decision_context` would find."""
    if policy.reads_allowed_before and counterparty_of(action):
        return None
    if usage_queries(policy, action, agent_principal_id, now):
        return None
    return build_server_context(policy, action, now=now, allowed_before=0)


def allowed_action(
    decision_id: str, owner_id: str, agent_principal_id: str, action: dict[str, Any], now: datetime
) -> AllowedAction:
    record = usage_record(action)
    return AllowedAction(
        decision_id=decision_id,
        owner_id=owner_id,
        agent_principal_id=agent_principal_id,
        action_type=str(record.action_type or action.get("action_type", "")),
        currency=record.currency,
        counterparty=record.counterparty,
        amount_minor=record.amount_minor,
        at_ms=epoch_ms(now),
    )
