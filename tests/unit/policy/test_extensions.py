"""The stateful extensions as a whole: the spec's example, canonical data, v1 left as it was."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from openleash.domain.models import Result
from openleash.policy import (
    EvalContext,
    Policy,
    Usage,
    build_server_context,
    evaluate,
    parse_policy,
    parse_policy_data,
    usage_queries,
)
from openleash.policy.reference import policy_schema_document

from .helpers import CONTEXT, action, decide

SPEC_EXAMPLE = textwrap.dedent(
    """\
    version: 1
    default: deny
    risk:                           # the owner's own risk classes of actions
      - action: "payment.*"
        level: high
      - action: purchase
        level: critical
        when: { match: { path: "$.payload.amount_minor", op: gt, value: 100000 } }
    counterparties:                 # the owner's own trust in counterparties
      - domain: shop.example
        trust: HIGH
      - domain: "*.gov"             # any subdomain of gov
        trust: REGULATED
    rules:
      - id: everyday_purchases
        effect: allow
        action: purchase
        constraints:
          amount_max: 10000
          currency: [USD, EUR]
          counterparty_trust: [MEDIUM, HIGH, REGULATED]
        schedule:
          timezone: Europe/Stockholm
          days: [mon, tue, wed, thu, fri]
          between: ["08:00", "18:00"]
        limits:
          - spend: 50000            # at most 50000 minor units ...
            window: 24h             # ... in any rolling 24 hours ...
            per: agent              # ... by this agent ...
            by: [currency]          # ... counted separately per currency
          - count: 30               # at most 30 allowed actions
            window: 1h
      - id: over_budget_asks_owner
        effect: allow
        action: purchase
        obligations:
          - type: HUMAN_APPROVAL
    """
)

TUESDAY_NOON_STOCKHOLM = datetime(2026, 3, 31, 10, 0, tzinfo=UTC)
SATURDAY_NOON_STOCKHOLM = datetime(2026, 4, 4, 10, 0, tzinfo=UTC)


def decide_as_the_server(
    policy: Policy, a: dict[str, Any], now: datetime, spent: int, count: int
) -> Any:
    """The two steps the server takes: count usage, build the context, evaluate."""
    queries = usage_queries(policy, a, "agent-1", now)
    usage = {q.key: Usage(spent if q.kind == "spend" else 0, count) for q in queries}
    context = EvalContext(
        now=now,
        server_context=build_server_context(policy, a, now=now, allowed_before=1),
        usage=usage,
    )
    return evaluate(policy, a, context)


def shop_purchase(amount: int = 2500, currency: str = "EUR") -> dict[str, Any]:
    payload = {"amount_minor": amount, "currency": currency, "merchant_domain": "shop.example"}
    return action("purchase", payload=payload)


def test_the_spec_example_decides_as_described() -> None:
    p = parse_policy(SPEC_EXAMPLE)
    ok = decide_as_the_server(p, shop_purchase(), TUESDAY_NOON_STOCKHOLM, spent=0, count=0)
    assert (ok.result, ok.matched_rule_id, ok.risk_level) == (
        Result.ALLOW,
        "everyday_purchases",
        "low",
    )
    assert [limit["remaining"] for limit in ok.limits] == [47500, 29]
    over = decide_as_the_server(p, shop_purchase(), TUESDAY_NOON_STOCKHOLM, spent=48000, count=0)
    assert (over.result, over.matched_rule_id) == (
        Result.REQUIRE_APPROVAL,
        "over_budget_asks_owner",
    )
    weekend = decide_as_the_server(p, shop_purchase(), SATURDAY_NOON_STOCKHOLM, spent=0, count=0)
    assert weekend.matched_rule_id == "over_budget_asks_owner"
    assert weekend.trace[0]["schedule_match"] is False
    big = decide_as_the_server(p, shop_purchase(200_000), TUESDAY_NOON_STOCKHOLM, 0, 0)
    assert big.risk_level == "critical"
    stranger = shop_purchase()
    stranger["payload"]["merchant_domain"] = "stranger.test"
    assert decide_as_the_server(p, stranger, TUESDAY_NOON_STOCKHOLM, 0, 0).matched_rule_id == (
        "over_budget_asks_owner"
    )


def test_canonical_data_holds_every_extension() -> None:
    data = parse_policy(SPEC_EXAMPLE).canonical_data()
    assert list(data) == ["version", "default", "rules", "risk", "counterparties"]
    rule = data["rules"][0]
    assert rule["constraints"]["counterparty_trust"] == ["MEDIUM", "HIGH", "REGULATED"]
    assert rule["schedule"] == {
        "timezone": "Europe/Stockholm",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "between": ["08:00", "18:00"],
    }
    assert rule["limits"] == [
        {"spend": 50000, "window": "24h", "per": "agent", "by": ["currency"]},
        {"count": 30, "window": "1h", "per": "agent", "by": []},
    ]
    assert data["risk"][1] == {
        "action": "purchase",
        "level": "critical",
        "when": {"match": {"path": "$.payload.amount_minor", "op": "gt", "value": 100000}},
    }
    assert data["counterparties"] == [
        {"domain": "shop.example", "trust": "HIGH"},
        {"domain": "*.gov", "trust": "REGULATED"},
    ]
    json.dumps(data)  # plain JSON data, ready to hash
    assert parse_policy_data(data).canonical_data() == data
    assert parse_policy_data(data) == parse_policy(SPEC_EXAMPLE)


def test_canonical_data_is_the_same_for_policies_that_decide_alike() -> None:
    a = parse_policy(
        "version: 1\ndefault: deny\ncounterparties: [{domain: Shop.Example, trust: LOW}]\n"
        "rules:\n  - id: r\n    effect: allow\n    action: x\n"
        "    schedule: {days: [fri, mon]}\n"
        "    limits: [{count: 2.0, window: 1h, timezone: Asia/Tokyo}]\n"
    )
    b = parse_policy(
        "version: 1\ndefault: deny\ncounterparties: [{domain: shop.example, trust: LOW}]\n"
        "rules:\n  - id: r\n    effect: allow\n    action: x\n"
        "    schedule: {days: [mon, fri], timezone: UTC}\n"
        "    limits: [{count: 2, window: 1h, per: agent, by: []}]\n"
    )
    assert a.canonical_data() == b.canonical_data()
    c = parse_policy(
        "version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: x\n"
        "    limits: [{count: 2, window: day, timezone: Asia/Tokyo}]\n"
    )
    assert c.canonical_data()["rules"][0]["limits"][0]["timezone"] == "Asia/Tokyo"


V1_POLICY = """\
version: 1
default: require_approval
rules:
  - id: small
    effect: allow
    action: purchase
    constraints: { amount_max: 1000, currency: [USD] }
  - id: never
    effect: deny
    action: "data.*"
"""


def test_a_v1_policy_decides_and_traces_as_before() -> None:
    p = parse_policy(V1_POLICY)
    assert p.risk is None
    assert p.counterparties is None
    assert not p.stateful
    assert list(p.canonical_data()) == ["version", "default", "rules"]
    evaluation = decide(p, action(payload={"amount_minor": 5, "currency": "USD"}))
    assert evaluation.result is Result.ALLOW
    assert evaluation.limits == ()
    assert evaluation.risk_level == "low"
    for entry in evaluation.trace:
        assert list(entry) == [
            "rule_id",
            "pattern_match",
            "when_match",
            "constraints_match",
            "final_match",
        ]
    assert usage_queries(p, action(), "agent-1", CONTEXT.now) == ()


@pytest.mark.parametrize(
    "server_context",
    [None, {"now": "2024-01-15T10:30:00.000Z", "risk": "low", "counterparty": {"trust": "HIGH"}}],
)
def test_a_v1_policy_ignores_risk_and_trust(server_context: dict[str, Any] | None) -> None:
    p = parse_policy(V1_POLICY)
    context = replace(CONTEXT, server_context=server_context)
    assert decide(p, action("data.delete"), context).result is Result.DENY
    assert decide(p, action("other"), context).result is Result.REQUIRE_APPROVAL


def test_trace_keys_appear_on_every_rule_once_a_rule_is_stateful() -> None:
    p = parse_policy(V1_POLICY + "  - {id: timed, effect: allow, action: x, schedule: {}}\n")
    evaluation = decide(p, action("other"))
    for entry in evaluation.trace:
        assert list(entry)[4:] == ["schedule_match", "limits_match", "final_match"]
    assert evaluation.trace[0]["schedule_match"] is None


REQUIRED_EXAMPLES = {
    "a daily budget, then the owner's approval": ("limits", "spend"),
    "a rate limit for all of the owner's agents": ("limits", "count"),
    "business hours": ("schedule", None),
    "a first purchase from a new shop needs the owner": ("counterparties", None),
    "a weekly budget per currency, and risk classes": ("limits", "by"),
}


@pytest.mark.parametrize(("name", "feature"), REQUIRED_EXAMPLES.items())
def test_the_reference_has_an_example_for_each_extension(
    name: str, feature: tuple[str, str | None]
) -> None:
    examples = {e["name"]: e["policy_yaml"] for e in policy_schema_document()["examples"]}
    p = parse_policy(examples[name])
    assert not p.warnings
    text = json.dumps(p.canonical_data())
    key, detail = feature
    assert f'"{key}"' in text
    assert detail is None or f'"{detail}"' in text
