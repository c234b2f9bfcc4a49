"""Allowed actions kept in memory, counted as the store's ledger counts them.

Policy tests and replay decide without a store: they record the actions they allow here and
answer a policy's usage queries and ``allowed_before`` from it, with the same selection rules
as :class:`~openleash.service.ports.Ledger` (owner, agent for ``per: agent``, action pattern,
``by`` values with a missing value matching only missing ones, and every action recorded at or
after the window's start).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openleash.policy import (
    Policy,
    Usage,
    UsageKey,
    UsageQuery,
    UsageRecord,
    build_server_context,
    counterparty_of,
    usage_queries,
    usage_record,
)
from openleash.service.timefmt import epoch_ms

_BY_FIELD = {"currency": "currency", "counterparty": "counterparty", "action_type": "action_type"}


@dataclass(frozen=True, slots=True)
class _Entry:
    at_ms: int
    agent_principal_id: str
    record: UsageRecord


class MemoryLedger:
    """The allowed actions of any number of owners, each owner's in time order."""

    def __init__(self) -> None:
        self._by_owner: dict[str, list[_Entry]] = {}
        self._times: dict[str, list[int]] = {}
        self._with: Counter[tuple[str, str]] = Counter()

    def record(
        self, owner_id: str, agent_principal_id: str, action: Mapping[str, Any], at: datetime
    ) -> None:
        """Count ``action`` as allowed at ``at`` (in any order: entries are kept sorted)."""
        record = usage_record(action)
        at_ms = epoch_ms(at)
        times = self._times.setdefault(owner_id, [])
        index = bisect.bisect_right(times, at_ms)
        times.insert(index, at_ms)
        self._by_owner.setdefault(owner_id, []).insert(
            index, _Entry(at_ms, agent_principal_id, record)
        )
        if record.counterparty is not None:
            self._with[(owner_id, record.counterparty)] += 1

    def allowed_before(self, owner_id: str, counterparty: str) -> int:
        return self._with[(owner_id, counterparty)]

    def usage(self, owner_id: str, queries: Iterable[UsageQuery]) -> dict[UsageKey, Usage]:
        return {query.key: self._answer(owner_id, query) for query in queries}

    def _answer(self, owner_id: str, query: UsageQuery) -> Usage:
        entries = self._by_owner.get(owner_id, [])
        start = bisect.bisect_left(self._times.get(owner_id, []), epoch_ms(query.since))
        amount: int | float = 0
        count = 0
        for entry in entries[start:]:
            if _selected(entry, query):
                amount += entry.record.amount_minor or 0
                count += 1
        return Usage(amount, count)


def _selected(entry: _Entry, query: UsageQuery) -> bool:
    if (
        query.agent_principal_id is not None
        and entry.agent_principal_id != query.agent_principal_id
    ):
        return False
    if not query.action_pattern.matches(entry.record.action_type):
        return False
    return all(getattr(entry.record, _BY_FIELD[name]) == value for name, value in query.by)


def offline_context(
    ledger: MemoryLedger,
    policy: Policy,
    action: Mapping[str, Any],
    owner_id: str,
    agent_principal_id: str,
    now: datetime,
) -> tuple[dict[str, Any], dict[UsageKey, Usage]]:
    """``$.context`` and usage for ``action`` from ``ledger``, as
    :func:`openleash.service.limits.decision_context` reads them from the store."""
    counterparty = counterparty_of(action)
    before = 0
    if counterparty and policy.reads_allowed_before:
        before = ledger.allowed_before(owner_id, counterparty)
    context = build_server_context(policy, action, now=now, allowed_before=before)
    queries = usage_queries(policy, action, agent_principal_id, now)
    return context, ledger.usage(owner_id, queries)
