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


class _Stream:
    """The allowed actions of one owner with the same agent, action type, currency and
    counterparty, in time order, with running totals (as the store's usage streams)."""

    __slots__ = ("amounts", "counts", "record", "times")

    def __init__(self, record: UsageRecord) -> None:
        self.record = record
        self.times: list[int] = []
        self.amounts: list[int | float] = []  # running totals, this entry included
        self.counts: list[int] = []

    def add(self, at_ms: int, amount: int | float) -> None:
        index = bisect.bisect_right(self.times, at_ms)
        before_amount = self.amounts[index - 1] if index else 0
        before_count = self.counts[index - 1] if index else 0
        self.times.insert(index, at_ms)
        self.amounts.insert(index, before_amount + amount)
        self.counts.insert(index, before_count + 1)
        for later in range(index + 1, len(self.times)):  # only when recorded out of order
            self.amounts[later] += amount
            self.counts[later] += 1

    def since(self, since_ms: int) -> tuple[int | float, int]:
        start = bisect.bisect_left(self.times, since_ms)
        if start == len(self.times):
            return 0, 0
        amount = self.amounts[-1] - (self.amounts[start - 1] if start else 0)
        count = self.counts[-1] - (self.counts[start - 1] if start else 0)
        return amount, count


_StreamKey = tuple[str, str | None, str | None, str | None]


class MemoryLedger:
    """The allowed actions of any number of owners. Each look-up costs one binary search per
    stream (agent, action type, currency, counterparty), however many actions were recorded."""

    def __init__(self) -> None:
        self._streams: dict[str, dict[_StreamKey, _Stream]] = {}
        self._with: Counter[tuple[str, str]] = Counter()

    def record(
        self, owner_id: str, agent_principal_id: str, action: Mapping[str, Any], at: datetime
    ) -> None:
        """Count ``action`` as allowed at ``at`` (in any order: entries are kept sorted)."""
        record = usage_record(action)
        key = (agent_principal_id, record.action_type, record.currency, record.counterparty)
        streams = self._streams.setdefault(owner_id, {})
        stream = streams.get(key)
        if stream is None:
            stream = streams[key] = _Stream(record)
        stream.add(epoch_ms(at), record.amount_minor or 0)
        if record.counterparty is not None:
            self._with[(owner_id, record.counterparty)] += 1

    def allowed_before(self, owner_id: str, counterparty: str) -> int:
        return self._with[(owner_id, counterparty)]

    def usage(self, owner_id: str, queries: Iterable[UsageQuery]) -> dict[UsageKey, Usage]:
        return {query.key: self._answer(owner_id, query) for query in queries}

    def _answer(self, owner_id: str, query: UsageQuery) -> Usage:
        since_ms = epoch_ms(query.since)
        amount: int | float = 0
        count = 0
        for (agent, _, _, _), stream in self._streams.get(owner_id, {}).items():
            if _selected(agent, stream.record, query):
                more_amount, more_count = stream.since(since_ms)
                amount += more_amount
                count += more_count
        return Usage(amount, count)


def _selected(agent_principal_id: str, record: UsageRecord, query: UsageQuery) -> bool:
    if query.agent_principal_id is not None and agent_principal_id != query.agent_principal_id:
        return False
    if not query.action_pattern.matches(record.action_type):
        return False
    return all(getattr(record, _BY_FIELD[name]) == value for name, value in query.by)


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
