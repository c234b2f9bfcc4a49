"""``limits``: budgets and rate limits over actions allowed earlier, decided purely.

Deciding under limits takes two steps so that the engine never does I/O:

1. :func:`usage_queries` says what must be counted for an action: one :class:`UsageQuery` per
   limit of every rule whose action pattern matches the action type (whether or not the rest
   of the rule will hold; the trace reports them all).
2. The caller answers each query from its record of allowed actions, as a :class:`Usage`
   keyed by :attr:`UsageQuery.key`, and passes the answers to ``evaluate``, where a limit
   holds when ``used + this <= max``. A missing answer means the limit does not hold.

The caller records every allowed action (see :func:`usage_record`) in the same transaction as
the decision, so that however many requests race the totals never exceed a limit.

The values actions are grouped ``by`` are taken in their one spelling (:mod:`.keys`), so that
an agent cannot open a fresh budget by writing ``usd`` for ``USD``; an action whose value has
no such spelling is refused before any limit is checked (:mod:`.inputs`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from openleash.domain.jsonvalue import JsonValue
from openleash.policy.checker import Checker, optional, shown
from openleash.policy.constraints import is_usable_amount
from openleash.policy.keys import action_type_key, currency_code
from openleash.policy.model import (
    LIMIT_BY,
    ActionPattern,
    Limit,
    LimitKind,
    LimitPer,
    Policy,
)
from openleash.policy.syntax import Path
from openleash.policy.trace import LimitReport
from openleash.policy.trust import counterparty_host
from openleash.policy.windows import parse_timezone, parse_window, window_start

LIMIT_KEYS = ("spend", "count", "window", "per", "by", "timezone")
LIMIT_REQUIRED = ("window",)
_KINDS: tuple[LimitKind, ...] = ("spend", "count")
_PER: dict[str, LimitPer] = {"agent": "agent", "owner": "owner"}

#: ``(rule index in the effective policy, limit index in that rule)``.
UsageKey = tuple[int, int]
#: ``(field, this action's value)``; ``None`` selects earlier actions without a value.
ByFilter = tuple[str, str | None]


@dataclass(frozen=True, slots=True)
class Usage:
    """What earlier allowed actions add up to for one query."""

    #: The sum of their ``amount_minor`` (actions without one add nothing).
    amount: int | float
    #: How many there were.
    count: int


@dataclass(frozen=True, slots=True)
class UsageSelection:
    """Which earlier allowed actions of the owner a query counts over.

    Queries with equal selections differ only in key and kind, and one count answers them all:
    both ``amount`` and ``count`` of a :class:`Usage` come from the same actions.
    """

    per: LimitPer
    #: Set when ``per`` is ``agent``: only this agent's actions count.
    agent_principal_id: str | None
    #: Only actions whose type this pattern matches count (see :class:`ActionPattern`).
    action_pattern: ActionPattern
    #: Only actions with these same values count.
    by: tuple[ByFilter, ...]
    #: Only actions recorded at or after this instant (UTC) count.
    since: datetime


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """One limit's question about earlier allowed actions."""

    key: UsageKey
    kind: LimitKind
    per: LimitPer
    agent_principal_id: str | None
    action_pattern: ActionPattern
    by: tuple[ByFilter, ...]
    since: datetime
    #: The window as the policy writes it (``24h``, ``month``), for people to read.
    window: str

    @property
    def selection(self) -> UsageSelection:
        return UsageSelection(
            self.per, self.agent_principal_id, self.action_pattern, self.by, self.since
        )


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """What to record of an allowed action so that later queries can select and sum it."""

    action_type: str | None
    #: ``payload.amount_minor`` when it is a non-negative finite number, else ``None``.
    amount_minor: int | float | None
    currency: str | None
    counterparty: str | None


def usage_queries(
    policy: Policy, action: Mapping[str, object], agent_principal_id: str, now: datetime
) -> tuple[UsageQuery, ...]:
    """The usage ``evaluate`` needs for ``action`` at ``now`` (timezone-aware)."""
    if not policy.stateful:
        return ()
    action_type = action.get("action_type")
    queries: list[UsageQuery] = []
    for rule_index, rule in enumerate(policy.rules):
        if not rule.limits or not rule.action.matches(action_type):
            continue
        for limit_index, limit in enumerate(rule.limits):
            queries.append(
                UsageQuery(
                    key=(rule_index, limit_index),
                    kind=limit.kind,
                    per=limit.per,
                    agent_principal_id=agent_principal_id if limit.per == "agent" else None,
                    action_pattern=rule.action,
                    by=by_filters(limit, action),
                    since=window_start(limit.window, limit.zone, now),
                    window=limit.window.text,
                )
            )
    return tuple(queries)


def usage_record(action: Mapping[str, object]) -> UsageRecord:
    """The values of ``action`` that limits select and sum by, normalized as queries use them."""
    return UsageRecord(
        action_type=_action_type(action),
        amount_minor=spend_amount(action),
        currency=_currency(action),
        counterparty=counterparty_host(action),
    )


def by_filters(limit: Limit, action: Mapping[str, object]) -> tuple[ByFilter, ...]:
    return tuple((name, BY_VALUE[name](action)) for name in limit.by)


def spend_amount(action: Mapping[str, object]) -> int | float | None:
    """``payload.amount_minor`` if it is a usable amount (see :func:`is_usable_amount`)."""
    payload = action.get("payload")
    amount = payload.get("amount_minor") if isinstance(payload, dict) else None
    return amount if is_usable_amount(amount) else None


def _currency(action: Mapping[str, object]) -> str | None:
    payload = action.get("payload")
    return currency_code(payload.get("currency")) if isinstance(payload, dict) else None


def _action_type(action: Mapping[str, object]) -> str | None:
    value = action.get("action_type")
    return value if type(value) is str else None


def _action_type_key(action: Mapping[str, object]) -> str | None:
    return action_type_key(action.get("action_type"))


#: The value of each ``by`` field for an action; ``None`` when it has no one spelling.
BY_VALUE: dict[str, Callable[[Mapping[str, object]], str | None]] = {
    "currency": _currency,
    "counterparty": counterparty_host,
    "action_type": _action_type_key,
}


# ---- checking -------------------------------------------------------------------------------


def check_limits(
    rule_index: int,
    limits: tuple[Limit, ...],
    action: Mapping[str, object],
    usage: Mapping[UsageKey, Usage],
) -> tuple[bool, list[LimitReport]]:
    """Whether every limit holds counting this action, and what each one counted."""
    all_hold = True
    report: list[LimitReport] = []
    amount = spend_amount(action)
    for limit_index, limit in enumerate(limits):
        this = 1 if limit.kind == "count" else amount
        used = _used(limit.kind, usage.get((rule_index, limit_index)))
        by = {name: BY_VALUE[name](action) for name in limit.by}
        # INVARIANT: a value without one spelling never selects a budget (see keys.py).
        grouped = None not in by.values()
        holds = grouped and this is not None and used is not None and used + this <= limit.max
        all_hold = all_hold and holds
        report.append(
            {
                "kind": limit.kind,
                "used": used,
                "this": this,
                "max": limit.max,
                "window": limit.window.text,
                "per": limit.per,
                "by": by,
                "holds": holds,
            }
        )
    return all_hold, report


def _used(kind: LimitKind, usage: Usage | None) -> int | float | None:
    # Fail closed: an answer that is missing or cannot be a total means "not known to fit".
    if usage is None:
        return None
    value = usage.amount if kind == "spend" else usage.count
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
        return None
    return value


# ---- building -------------------------------------------------------------------------------


def parse_limits(c: Checker, data: JsonValue, path: Path) -> tuple[Limit, ...] | None:
    return c.each(data, path, _limit)


def _limit(c: Checker, data: JsonValue, path: Path) -> Limit | None:
    before = c.count()
    node = c.mapping(data, path, keys=LIMIT_KEYS, required=LIMIT_REQUIRED)
    if node is None:
        return None
    kinds = [kind for kind in _KINDS if kind in node]
    if not kinds:
        c.fail(path, "needs `spend` (a budget) or `count` (a rate limit)")
    elif len(kinds) > 1:
        c.fail(path, "has both `spend` and `count`; write each as a limit of its own")
    spend = optional(c, node, path, "spend", _spend)
    count = optional(c, node, path, "count", _count)
    window = optional(c, node, path, "window", parse_window)
    per = _per(c, node["per"], (*path, "per")) if "per" in node else None
    by = optional(c, node, path, "by", _by)
    timezone = optional(c, node, path, "timezone", parse_timezone)
    maximum = spend if spend is not None else count
    if c.count() != before or maximum is None or window is None:
        return None
    if timezone is not None and window.calendar is None:
        c.warn((*path, "timezone"), f"has no effect on the rolling window `{window.text}`")
    return Limit(
        kind=kinds[0],
        max=maximum,
        window=window,
        per=per if per is not None else "agent",
        by=by if by is not None else (),
        timezone=timezone if timezone is not None else "UTC",
    )


def _spend(c: Checker, data: JsonValue, path: Path) -> int | float | None:
    value = c.number(data, path)
    if value is not None and not (math.isfinite(value) and value >= 0):
        c.fail(path, f"must be a number of minor units, 0 or more, not {shown(data)}")
        return None
    return value


def _count(c: Checker, data: JsonValue, path: Path) -> int | None:
    value = c.number(data, path)
    if value is None:
        return None
    if not (math.isfinite(value) and value >= 0 and value == int(value)):
        c.fail(path, f"must be a whole number of actions, 0 or more, not {shown(data)}")
        return None
    return int(value)


def _per(c: Checker, data: JsonValue, path: Path) -> LimitPer | None:
    chosen = c.choice(data, path, tuple(_PER))
    return _PER[chosen] if chosen is not None else None


def _by(c: Checker, data: JsonValue, path: Path) -> tuple[str, ...] | None:
    return c.unique_choices(data, path, LIMIT_BY, what="field")
