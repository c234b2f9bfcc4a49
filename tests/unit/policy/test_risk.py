"""Risk: the owner's classes of actions, `max_risk`, and `$.context.risk`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from openleash.domain.errors import PolicyError
from openleash.domain.models import Result
from openleash.policy import (
    RISK_LEVELS,
    Policy,
    build_server_context,
    merge_layers,
    parse_policy,
    risk_of,
)

from .helpers import CONTEXT, action, decide

CLASSES = """\
version: 1
default: deny
risk:
  - {action: "payment.*", level: high}
  - action: purchase
    level: critical
    when: {match: {path: "$.payload.amount_minor", op: gt, value: 100000}}
  - {action: purchase, level: medium}
  - action: "*"
    level: high
    when: {match: {path: "$.context.counterparty.trust", op: eq, value: UNKNOWN}}
counterparties:
  - {domain: shop.example, trust: HIGH}
rules: []
"""


def known_shop(amount: Any = 100, action_type: str = "purchase") -> dict[str, Any]:
    return action(action_type, payload={"amount_minor": amount, "merchant_domain": "shop.example"})


@pytest.mark.parametrize(
    ("a", "level"),
    [
        (known_shop(100), "medium"),
        (known_shop(100_001), "critical"),  # the highest matching entry wins, whatever its place
        (known_shop(5, "payment.card"), "high"),
        (known_shop(5, "payment"), "high"),
        (known_shop(5, "refund"), "low"),  # nothing matches
    ],
)
def test_risk_is_the_highest_matching_level(a: dict[str, Any], level: str) -> None:
    p = parse_policy(CLASSES)
    assert risk_of(p, a, build_server_context(p, a, now=CONTEXT.now)) == level


def test_risk_when_can_read_the_server_context() -> None:
    p = parse_policy(CLASSES)
    unknown_shop = action("refund", payload={"merchant_domain": "new.test"})
    assert build_server_context(p, unknown_shop, now=CONTEXT.now)["risk"] == "high"


def test_without_a_server_context_risk_when_reads_no_agent_context() -> None:
    p = parse_policy(CLASSES)
    assert risk_of(p, known_shop(5, "refund"), None) == "low"


def test_a_policy_without_risk_is_low() -> None:
    p = parse_policy("version: 1\ndefault: allow\nrules: []\n")
    assert risk_of(p, known_shop(), None) == "low"
    assert decide(p, known_shop()).risk_level == "low"
    assert RISK_LEVELS == ("low", "medium", "high", "critical")


def test_risk_takes_every_layer_into_account() -> None:
    agent = parse_policy(
        "version: 1\ndefault: passthrough\nrisk: [{action: purchase, level: medium}]\nrules: []\n"
    )
    owner = parse_policy(
        "version: 1\ndefault: deny\nrisk: [{action: '*', level: high}]\nrules: []\n"
    )
    merged = merge_layers([agent, owner])
    assert risk_of(merged, known_shop(), None) == "high"
    assert agent.risk is not None
    assert merge_layers([agent, agent]).risk == agent.risk * 2


MAX_RISK = CLASSES.replace(
    "rules: []",
    "rules:\n  - {id: r, effect: allow, action: '*', constraints: {max_risk: medium}}",
)


@pytest.mark.parametrize(
    ("a", "allowed"),
    [
        (known_shop(100), True),  # medium
        (known_shop(5, "refund"), True),  # low
        (known_shop(100_001), False),  # critical
        (known_shop(5, "payment.card"), False),  # high
    ],
)
def test_max_risk_holds_at_or_below_its_level(a: dict[str, Any], allowed: bool) -> None:
    p = parse_policy(MAX_RISK)
    with_server = replace(CONTEXT, server_context=build_server_context(p, a, now=CONTEXT.now))
    assert (decide(p, a, with_server).result is Result.ALLOW) is allowed
    # Without a server context the engine works the risk out itself, alike.
    assert (decide(p, a).result is Result.ALLOW) is allowed


def test_the_decision_reports_the_risk_level() -> None:
    p = parse_policy(MAX_RISK)
    evaluation = decide(p, known_shop(100_001))
    assert evaluation.risk_level == "critical"


def test_a_risk_level_the_agent_writes_is_ignored() -> None:
    p = parse_policy(MAX_RISK)
    a = known_shop(100_001)
    a["payload"]["risk"] = "low"
    a["risk_level"] = "low"
    a["context"] = {"risk": "low"}
    assert decide(p, a).result is Result.DENY
    assert decide(p, a).risk_level == "critical"


def test_context_risk_in_a_rule_when() -> None:
    p = parse_policy(
        CLASSES.replace(
            "rules: []",
            "rules:\n  - id: r\n    effect: allow\n    action: '*'\n"
            "    when: {match: {path: '$.context.risk', op: in, value: [low, medium]}}",
        )
    )
    for a, allowed in [(known_shop(100), True), (known_shop(100_001), False)]:
        context = replace(CONTEXT, server_context=build_server_context(p, a, now=CONTEXT.now))
        assert (decide(p, a, context).result is Result.ALLOW) is allowed


# ---- validation -----------------------------------------------------------------------------


def refusal(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return caught.value


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{action: x, level: extreme}",
            "risk[0].level: must be one of low, medium, high, critical",
        ),
        ("{action: x, level: HIGH}", "not `HIGH`"),
        ("{action: x}", "risk[0]: missing required key `level`"),
        ("{level: low}", "risk[0]: missing required key `action`"),
        ("{action: 5, level: low}", "risk[0].action: must be a string, not a number"),
        ("{action: x, level: low, id: a}", "risk[0]: unknown key `id`"),
        ("{action: x, level: low, when: {match: {path: a, op: eq}}}", "must start with `$.`"),
        (
            "{action: x, level: low, when: {match: {path: '$.context.risk', op: eq, value: x}}}",
            "risk[0].when: `$.context.risk` is what `risk` computes; it cannot be read here",
        ),
        (
            "{action: x, level: low, when: {not: {match: {path: '$.context.risk.x', op: exists}}}}",
            "`$.context.risk.x` is what `risk` computes",
        ),
    ],
)
def test_risk_errors_are_located(entry: str, message: str) -> None:
    error = refusal(f"version: 1\ndefault: deny\nrules: []\nrisk:\n  - {entry}\n")
    assert message in str(error)
    assert error.issues[0]["line"] == 5


def test_rules_may_read_context_risk() -> None:
    policy = parse_policy(
        "version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: x\n"
        "    when: {match: {path: '$.context.risk', op: eq, value: low}}\n"
    )
    assert isinstance(policy, Policy)


@pytest.mark.parametrize(
    ("value", "message"), [("extreme", "not `extreme`"), ("[low]", "not a list")]
)
def test_max_risk_errors(value: str, message: str) -> None:
    error = refusal(
        "version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: x\n"
        f"    constraints: {{max_risk: {value}}}\n"
    )
    assert "rules[0].constraints.max_risk: must be one of low, medium, high, critical" in str(error)
    assert message in str(error)
    assert error.issues[0]["line"] == 7
