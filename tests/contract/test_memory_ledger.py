"""The in-memory ledger of ``openleash.Engine``, policy tests and replay answers every plan exactly
as each store does."""

from __future__ import annotations

import itertools
import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

from openleash.policy import parse_policy
from openleash.service.decision_context import plan_context, read_context
from openleash.service.limits import allowed_action
from openleash.service.memory_ledger import MemoryLedger, offline_context
from openleash.service.ports import Store

T0 = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)

POLICY = parse_policy(
    textwrap.dedent("""\
    version: 1
    default: deny
    rules:
      - id: purchases
        effect: allow
        action: purchase
        limits:
          - { spend: 1000, window: 24h }
          - { spend: 1000, window: day, per: owner, by: [currency], timezone: Europe/Stockholm }
          - { count: 5, window: 1h, by: [counterparty] }
      - id: payments
        effect: allow
        action: "payment.*"
        limits:
          - { spend: 1000, window: week, per: owner, by: [action_type] }
      - id: anything
        effect: allow
        action: "*"
        limits:
          - { count: 100, window: 90s, per: owner }
    """)
)


def act(action_type: str, **payload: Any) -> dict[str, Any]:
    return {"action_type": action_type, "payload": payload}


ACTIONS = [
    act("purchase", amount_minor=100, currency="USD", merchant_domain="shop.example"),
    act("purchase", amount_minor=250, currency="EUR", merchant_domain="Shop.Example"),
    act("purchase", amount_minor=40, merchant_domain="other.example"),
    act("purchase", currency="USD"),
    act("payment", amount_minor=7),
    act("payment.card", amount_minor=70, currency="USD"),
    act("payment.cards", amount_minor=700),
    act("email.send", domain="mail.example"),
]
AGENTS = ["agent-a", "agent-b"]


async def test_every_usage_query_is_answered_alike(store: Store) -> None:
    ledger = MemoryLedger()
    history = list(zip(itertools.cycle(ACTIONS), itertools.cycle(AGENTS), range(40), strict=False))
    async with store.transaction() as tx:
        for action, agent, i in history:
            at = T0 + timedelta(minutes=37 * i)
            await tx.record_allowed(allowed_action(f"d-{i}", "owner-1", agent, action, at))
            ledger.record("owner-1", agent, action, at)
    for action, agent in itertools.product(ACTIONS, AGENTS):
        for after_last in (0, 1, 50, 300, 1440, 1800):
            now = T0 + timedelta(minutes=37 * 39 + after_last)
            plan = plan_context(POLICY, action, "owner-1", agent, now)
            assert plan.queries, "every action here has limits to count"
            async with store.read() as tx:
                stored = await read_context(tx, plan)
                for _, where in plan.queries:
                    assert await ledger.usage(where) == await tx.usage(where), where
            assert await read_context(ledger, plan) == stored, (action, agent, after_last)
            assert offline_context(ledger, plan) == stored, (action, agent, after_last)


async def test_allowed_before_counts_by_owner_and_counterparty(store: Store) -> None:
    ledger = MemoryLedger()
    async with store.transaction() as tx:
        for i, action in enumerate(ACTIONS):
            for owner in ("owner-1", "owner-2")[: 1 + i % 2]:
                await tx.record_allowed(allowed_action(f"d-{i}-{owner}", owner, "a", action, T0))
                ledger.record(owner, "a", action, T0)
    for owner, domain in itertools.product(("owner-1", "owner-2"), ("shop.example", "x.example")):
        async with store.read() as tx:
            stored = await tx.allowed_before(owner, domain)
            assert await ledger.allowed_before(owner, domain) == stored
