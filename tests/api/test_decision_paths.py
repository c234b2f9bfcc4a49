"""The server and the offline deciders (``openleash.Engine``, ``policy replay``) decide alike.

For each policy of a table (budgets, rate limits, owner-wide and calendar windows, counts of
earlier actions with a counterparty, and one that needs nothing from the ledger), the same
history of actions at the same times goes through ``POST /v1/authorize`` and through an Engine.
Before each action the context the server reads from its store equals the one read from an
in-memory ledger of the same history (as the Engine and replay keep it); after each, both
decisions are equal; and replaying the server's audit log under the same policy changes none.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openleash.config import Settings
from openleash.domain.action import parse_action
from openleash.engine import Engine
from openleash.policy import Evaluation
from openleash.service.decision_context import (
    ContextPlan,
    DecisionContext,
    plan_context,
    read_context,
)
from openleash.service.memory_ledger import MemoryLedger, offline_context
from openleash.service.ports import Store
from openleash.service.replay import ReplayQuery, replay
from tests.api.conftest import Api, running_api, upsert
from tests.support.actions import action

BUDGETS_AND_RATES = """\
version: 1
default: deny
rules:
  - id: small
    effect: allow
    action: purchase
    constraints: { amount_max: 5000 }
    limits:
      - { spend: 12000, window: 24h }
      - { count: 4, window: 1h, by: [counterparty] }
  - id: ask
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""

OWNER_WIDE_CALENDAR = """\
version: 1
default: deny
rules:
  - id: payments
    effect: allow
    action: "payment.*"
    limits:
      - { spend: 9000, window: day, per: owner, by: [currency], timezone: Europe/Stockholm }
      - { count: 3, window: 2h, by: [action_type] }
  - id: anything
    effect: allow
    action: "*"
    limits:
      - { count: 5, window: 3h, per: owner }
"""

COUNTERPARTY_COUNTS = """\
version: 1
default: deny
counterparties:
  - { domain: shop.example, trust: HIGH }
rules:
  - id: known_shops
    effect: allow
    action: purchase
    when: { match: { path: "$.context.counterparty.allowed_before", op: gt, value: 1 } }
  - id: trusted_first
    effect: allow
    action: purchase
    when: { match: { path: "$.context.counterparty.trust", op: eq, value: HIGH } }
    limits: [{ count: 2, window: 24h, by: [counterparty] }]
  - id: tiny_first
    effect: allow
    action: purchase
    constraints: { amount_max: 100 }
  - id: first_time_asks
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""

NOTHING_FROM_THE_LEDGER = """\
version: 1
default: deny
rules:
  - id: small
    effect: allow
    action: purchase
    constraints: { amount_max: 2500 }
  - id: payments_ask
    effect: allow
    action: "payment.*"
    obligations: [{ type: HUMAN_APPROVAL }]
"""

POLICIES = {
    "budgets_and_rates": BUDGETS_AND_RATES,
    "owner_wide_calendar": OWNER_WIDE_CALENDAR,
    "counterparty_counts": COUNTERPARTY_COUNTS,
    "nothing_from_the_ledger": NOTHING_FROM_THE_LEDGER,
}

ACTION_TYPES = ["purchase", "purchase", "payment.card", "payment.bank", "payment", "email.send"]
AMOUNTS = [50, 99, 700, 2500, 4000, 6000]
CURRENCIES = ["USD", "EUR", "EUR"]
SHOPS = ["shop.example", "Shop.Example", "other.example", "third.example", None]
GAPS_MINUTES = [1, 4, 17, 45, 61, 200, 700]
STEPS = 30


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from running_api(Settings(data_dir=tmp_path / "data", admin_token="s3cret-admin-token"))


def _use_only(api: Api, policy_yaml: str) -> None:
    for p in api.client.get("/v1/admin/policies").json()["policies"]:
        api.run(api.services.policies.delete(p["policy_id"]))
    api.run(upsert(api.services, api.agent.owner_id, policy_yaml))


def _history(api: Api, seed: int) -> list[tuple[timedelta, dict[str, Any]]]:
    """Actions of the fixture's agent, with the time each comes after the start."""
    rng = random.Random(seed)
    at = timedelta()
    steps = []
    for _ in range(STEPS):
        at += timedelta(minutes=rng.choice(GAPS_MINUTES))
        payload: dict[str, Any] = {
            "amount_minor": rng.choice(AMOUNTS),
            "currency": rng.choice(CURRENCIES),
        }
        shop = rng.choice(SHOPS)
        if shop is not None:
            payload["merchant_domain"] = shop
        act = action(api.agent.agent_id, api.agent.owner_id, rng.choice(ACTION_TYPES), **payload)
        steps.append((at, act))
    return steps


async def _stored_context(store: Store, plan: ContextPlan) -> DecisionContext:
    async with store.read() as tx:
        return await read_context(tx, plan)


def _plan(api: Api, act: dict[str, Any], now: datetime) -> tuple[ContextPlan, str]:
    """The plan of the server's effective policy for ``act``; the agent's principal id."""
    runtime = api.services.runtime
    snap = api.run(runtime.snapshot())
    agent = snap.agent(api.agent.agent_id)
    assert agent is not None
    effective = api.run(runtime.effective_policy(snap, agent))
    assert effective is not None
    principal = agent.agent_principal_id
    return plan_context(
        effective.policy, parse_action(act), agent.owner_id, principal, now
    ), principal


def _as_decided(evaluation: Evaluation) -> dict[str, Any]:
    """What of an Engine's evaluation the server's answer carries."""
    decided: dict[str, Any] = {
        "result": evaluation.result.value,
        "matched_rule_id": evaluation.matched_rule_id,
        "reason": evaluation.reason,
        "obligations": [[kind, details] for kind, details in evaluation.obligations],
        "risk_level": evaluation.risk_level,
        "proof": evaluation.result.value == "ALLOW" and evaluation.proof_required,
    }
    if evaluation.result.value == "ALLOW" and evaluation.limits:
        decided["limits"] = [dict(limit) for limit in evaluation.limits]
    if evaluation.explanation is not None:
        decided["explanation"] = evaluation.explanation
    return decided


def _server_decided(answer: dict[str, Any]) -> dict[str, Any]:
    decided = {
        "result": answer["result"],
        "matched_rule_id": answer["matched_rule_id"],
        "reason": answer["reason"],
        "obligations": [[o["type"], o["details_json"]] for o in answer["obligations"]],
        "risk_level": answer["risk_level"],
        "proof": answer["proof_token"] is not None,
    }
    decided.update({key: answer[key] for key in ("limits", "explanation") if key in answer})
    return decided


@pytest.mark.parametrize("name", list(POLICIES))
def test_server_engine_and_replay_decide_a_history_alike(api: Api, name: str) -> None:
    policy_yaml = POLICIES[name]
    _use_only(api, policy_yaml)
    start = api.clock()
    engine = Engine.from_yaml(policy_yaml, owner_id=api.agent.owner_id)
    ledger = MemoryLedger()
    results = []
    read_ledger: list[bool] = []
    for offset, act in _history(api, seed=sum(map(ord, name))):
        now = start + offset
        api.clock.set(now)
        plan, principal = _plan(api, act, now)
        stored = api.run(_stored_context(api.services.store, plan))
        assert offline_context(ledger, plan) == stored, (offset, act)
        read_ledger.append(plan.reads_ledger)

        answer = api.signed("POST", "/v1/authorize", json.dumps(act).encode())
        assert answer.status_code == 200, answer.text
        evaluation = engine.decide(act, now=now)
        assert _server_decided(answer.json()) == _as_decided(evaluation), (offset, act)
        if evaluation.result.value == "ALLOW":
            ledger.record(api.agent.owner_id, principal, parse_action(act), now)
        results.append((evaluation.result.value, evaluation.matched_rule_id))

    assert any(read_ledger) is (name != "nothing_from_the_ledger")
    assert len({result for result, _ in results}) >= 2, results
    assert len(set(results)) >= 3, results
    report = api.run(replay(api.services.store, policy_yaml, ReplayQuery(), now=api.clock()))
    assert (report.replayed, report.unchanged, report.rule_changed) == (STEPS, STEPS, 0)
    assert report.skipped == 0
