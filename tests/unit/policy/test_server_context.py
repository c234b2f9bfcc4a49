"""`$.context`: what the server knows, how evaluation reads it, and that agents cannot forge it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from openleash.domain.models import Result
from openleash.policy import EvalContext, Policy, build_server_context, parse_policy

from .helpers import CONTEXT, action, decide

FIRST_TIME = """\
version: 1
default: deny
counterparties:
  - {domain: shop.example, trust: HIGH}
rules:
  - id: first_time_shop
    effect: allow
    action: purchase
    when: { match: { path: "$.context.counterparty.allowed_before", op: eq, value: 0 } }
    obligations: [{ type: HUMAN_APPROVAL }]
  - id: known_shops
    effect: allow
    action: purchase
"""

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def shop(domain: str = "Shop.Example") -> dict[str, Any]:
    return action("purchase", payload={"amount_minor": 500, "merchant_domain": domain})


def server(policy: Policy, a: dict[str, Any], allowed_before: int | None) -> EvalContext:
    context = build_server_context(policy, a, now=NOW, allowed_before=allowed_before)
    return replace(CONTEXT, now=NOW, server_context=context)


def test_build_server_context() -> None:
    p = parse_policy(FIRST_TIME)
    assert build_server_context(p, shop(), now=NOW, allowed_before=2) == {
        "now": "2026-03-29T01:30:00.000Z",
        "risk": "low",
        "counterparty": {"domain": "shop.example", "trust": "HIGH", "allowed_before": 2},
    }
    assert build_server_context(p, action(payload={}), now=NOW) == {
        "now": "2026-03-29T01:30:00.000Z",
        "risk": "low",
        "counterparty": {"trust": "UNKNOWN"},
    }


def test_a_first_purchase_from_a_shop_needs_the_owner() -> None:
    p = parse_policy(FIRST_TIME)
    first = decide(p, shop(), server(p, shop(), allowed_before=0))
    assert (first.result, first.matched_rule_id) == (Result.REQUIRE_APPROVAL, "first_time_shop")
    later = decide(p, shop(), server(p, shop(), allowed_before=3))
    assert (later.result, later.matched_rule_id) == (Result.ALLOW, "known_shops")


def test_an_agent_cannot_answer_context_paths() -> None:
    p = parse_policy(FIRST_TIME)
    forged = shop()
    forged["context"] = {"counterparty": {"allowed_before": 7}}
    assert decide(p, forged, server(p, forged, allowed_before=0)).matched_rule_id == (
        "first_time_shop"
    )
    p = parse_policy(FIRST_TIME.replace("eq, value: 0", "eq, value: 7"))
    assert decide(p, forged, server(p, forged, allowed_before=0)).matched_rule_id == "known_shops"


def test_without_allowed_before_the_condition_does_not_hold() -> None:
    p = parse_policy(FIRST_TIME)
    assert decide(p, shop(), server(p, shop(), None)).matched_rule_id == "known_shops"


def test_context_now_is_readable() -> None:
    p = parse_policy(
        "version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: '*'\n"
        "    when: {match: {path: '$.context.now', op: regex, value: '^2026-03-29T'}}\n"
    )
    assert decide(p, shop(), server(p, shop(), 0)).result is Result.ALLOW


def test_the_engine_fills_in_what_the_server_left_out() -> None:
    p = parse_policy(
        FIRST_TIME.replace(
            "rules:",
            "risk: [{action: purchase, level: high}]\nrules:\n"
            "  - id: trusted_and_risky\n    effect: allow\n    action: purchase\n"
            "    when:\n      all:\n"
            "        - {match: {path: '$.context.counterparty.trust', op: eq, value: HIGH}}\n"
            "        - {match: {path: '$.context.counterparty.domain', op: eq, "
            "value: shop.example}}\n"
            "        - {match: {path: '$.context.risk', op: eq, value: high}}\n"
            "        - {match: {path: '$.context.now', op: eq, "
            "value: '2026-03-29T01:30:00.000Z'}}\n",
        )
    )
    partial = replace(CONTEXT, now=NOW, server_context={"counterparty": {"allowed_before": 5}})
    evaluation = decide(p, shop(), partial)
    assert evaluation.matched_rule_id == "trusted_and_risky"
    assert evaluation.risk_level == "high"


def test_what_the_server_gives_is_used_as_given() -> None:
    p = parse_policy(
        "version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: '*'\n"
        "    constraints: {max_risk: medium, counterparty_trust: [LOW]}\n"
    )
    given = {"now": "x", "risk": "medium", "counterparty": {"trust": "LOW"}}
    evaluation = decide(p, shop(), replace(CONTEXT, server_context=given))
    assert (evaluation.result, evaluation.risk_level) == (Result.ALLOW, "medium")


@pytest.mark.parametrize(
    "given",
    [
        {"risk": "HIGH"},
        {"risk": 3},
        {"risk": ["low"]},
        {"counterparty": {"trust": "high"}},
        {"counterparty": "shop.example"},
    ],
)
def test_a_server_context_the_engine_cannot_read_fails_closed(given: dict[str, Any]) -> None:
    p = parse_policy("version: 1\ndefault: allow\nrules: []\n")
    evaluation = decide(p, shop(), replace(CONTEXT, server_context=given))
    assert evaluation.result is Result.DENY
    assert evaluation.error is not None
    assert evaluation.risk_level is None


def test_without_a_server_context_context_paths_read_the_action_as_in_v1() -> None:
    p = parse_policy(FIRST_TIME)
    # The request parser strips `context`; what remains is read as v1 reads it.
    assert decide(p, shop()).matched_rule_id == "known_shops"
