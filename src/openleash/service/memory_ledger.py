"""Allowed actions kept in memory, counted as the store's ledger counts them.

``openleash.Engine``, policy tests and replay decide without a store: they record the actions
they allow here, and :func:`offline_context` answers a policy's plan
(:mod:`openleash.service.decision_context`) from it with the same selection rules as the
store's :class:`~openleash.service.ports.Ledger` (owner, agent for ``per: agent``, action type
exact or by prefix, ``by`` values with a missing value matching only missing ones, and every
action recorded at or after the window's start).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Coroutine, Mapping
from datetime import datetime
from typing import Any, TypeVar

from openleash.domain.models import UsageFilter
from openleash.domain.timefmt import epoch_ms
from openleash.policy import UsageRecord, usage_record
from openleash.service.decision_context import ContextPlan, DecisionContext, read_context

T = TypeVar("T")

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
    stream (agent, action type, currency, counterparty), however many actions were recorded.

    The look-ups are the store's (:class:`~openleash.service.ports.LedgerView`), coroutines
    that never wait: the server's reading of a plan serves this ledger too, and
    :func:`offline_context` runs it without an event loop."""

    def __init__(self) -> None:
        self._streams: dict[str, dict[_StreamKey, _Stream]] = {}
        self._with: Counter[tuple[str, str]] = Counter()

    def record(
        self, owner_id: str, agent_principal_id: str, action: Mapping[str, object], at: datetime
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

    async def allowed_before(self, owner_id: str, counterparty: str) -> int:
        return self._with[(owner_id, counterparty)]

    async def usage(self, where: UsageFilter) -> tuple[float, int]:
        amount: int | float = 0
        count = 0
        for (agent, _, _, _), stream in self._streams.get(where.owner_id, {}).items():
            if _selected(agent, stream.record, where):
                more_amount, more_count = stream.since(where.since_ms)
                amount += more_amount
                count += more_count
        return amount, count


def _selected(agent_principal_id: str, record: UsageRecord, where: UsageFilter) -> bool:
    if where.agent_principal_id is not None and agent_principal_id != where.agent_principal_id:
        return False
    action_type = record.action_type
    if where.action_exact is not None and action_type != where.action_exact:
        return False
    prefix = where.action_prefix
    if prefix is not None and not (
        action_type == prefix or (action_type or "").startswith(prefix + ".")
    ):
        return False
    return all(getattr(record, _BY_FIELD[name]) == value for name, value in where.by)


def offline_context(ledger: MemoryLedger, plan: ContextPlan) -> DecisionContext:
    """The context of ``plan`` answered from ``ledger``: the server's own reading
    (:func:`~openleash.service.decision_context.read_context`), run without an event loop."""
    return settle(read_context(ledger, plan))


def settle(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never waits, run to its end here and now.

    INVARIANT: the coroutine awaits nothing but a :class:`MemoryLedger`, whose methods return
    without suspending; anything that would wait for an event loop is refused."""
    try:
        coroutine.send(None)
    except StopIteration as finished:
        result: T = finished.value
        return result
    coroutine.close()
    raise RuntimeError("the coroutine waited for something: only a MemoryLedger may be read here")
