"""Plan, then read: what a decision needs from the ledger, asked once, and nothing when it needs
nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from openleash.domain.models import UsageFilter
from openleash.policy import Usage, parse_policy
from openleash.service.decision_context import (
    ledger_free_context,
    plan_context,
    read_context,
)
from openleash.service.memory_ledger import MemoryLedger, offline_context, settle

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)

LIMITED = parse_policy("""\
version: 1
default: deny
rules:
  - id: first
    effect: allow
    action: purchase
    limits:
      - { spend: 1000, window: 24h }
      - { count: 3, window: 24h }
  - id: known
    effect: allow
    action: "*"
    when: { match: { path: "$.context.counterparty.allowed_before", op: gt, value: 0 } }
""")
PLAIN = parse_policy("""\
version: 1
default: deny
rules:
  - { id: small, effect: allow, action: purchase, constraints: { amount_max: 100 } }
""")


def _action(action_type: str = "purchase", **payload: object) -> dict[str, object]:
    return {"action_type": action_type, "payload": {"amount_minor": 10, **payload}}


class CountingLedger:
    """A ledger that answers from fixed numbers and counts the questions."""

    def __init__(self) -> None:
        self.asked: list[object] = []

    async def usage(self, where: UsageFilter) -> tuple[float, int]:
        self.asked.append(where)
        return 250, 2

    async def allowed_before(self, owner_id: str, counterparty: str) -> int:
        self.asked.append((owner_id, counterparty))
        return 7


def test_a_plan_asks_each_selection_once_and_counts_the_counterparty() -> None:
    plan = plan_context(LIMITED, _action(merchant_domain="Shop.Example"), "o", "a", NOW)
    assert plan.counterparty == "shop.example"
    assert [query.key for query, _ in plan.queries] == [(0, 0), (0, 1)]
    ledger = CountingLedger()
    context = settle(read_context(ledger, plan))
    # both limits select the same actions: one look-up answers them
    assert ledger.asked == [("o", "shop.example"), plan.queries[0][1]]
    assert context.usage == {(0, 0): Usage(250, 2), (0, 1): Usage(250, 2)}
    assert context.server_context["counterparty"]["allowed_before"] == 7


def test_a_plan_that_needs_nothing_reads_nothing() -> None:
    plan = plan_context(PLAIN, _action(merchant_domain="shop.example"), "o", "a", NOW)
    assert not plan.reads_ledger
    ledger = CountingLedger()
    assert settle(read_context(ledger, plan)) == ledger_free_context(plan)
    assert ledger.asked == []
    # under limits and counts: nothing to read for an action without a counterparty that no
    # limit applies to; the count for one with a counterparty; the limits for a purchase
    unlimited = plan_context(LIMITED, _action("email.send"), "o", "a", NOW)
    assert not unlimited.reads_ledger
    addressed = plan_context(LIMITED, _action("email.send", domain="x.example"), "o", "a", NOW)
    assert (addressed.counterparty, addressed.queries) == ("x.example", ())
    assert plan_context(LIMITED, _action(), "o", "a", NOW).queries


def test_a_plan_that_reads_has_no_ledger_free_context() -> None:
    plan = plan_context(LIMITED, _action(), "o", "a", NOW)
    assert plan.reads_ledger
    with pytest.raises(RuntimeError, match="reads the ledger"):
        ledger_free_context(plan)


def test_the_memory_ledger_answers_a_plan_without_an_event_loop() -> None:
    ledger = MemoryLedger()
    ledger.record("o", "a", _action(merchant_domain="shop.example"), NOW - timedelta(hours=1))
    ledger.record("o", "a", _action(), NOW - timedelta(hours=30))  # outside the window
    plan = plan_context(LIMITED, _action(merchant_domain="shop.example"), "o", "a", NOW)
    context = offline_context(ledger, plan)
    assert context.usage[(0, 0)] == Usage(10, 1)
    assert context.server_context["counterparty"]["allowed_before"] == 1


def test_settle_refuses_a_coroutine_that_waits() -> None:
    async def waits() -> int:
        await asyncio.sleep(0)
        return 1

    with pytest.raises(RuntimeError, match="only a MemoryLedger"):
        settle(waits())
