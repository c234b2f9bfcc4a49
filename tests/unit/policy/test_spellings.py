"""An agent's spelling must not open a fresh budget, and values a limit cannot use deny.

``by: [currency]`` used to group the raw strings ``usd``, ``Usd`` and ``"USD "`` (and a missing
currency) apart, each with a budget of its own; negative amounts passed ``amount_max``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from openleash.domain.models import Result
from openleash.policy import Policy, Usage, usage_queries, usage_record
from openleash.policy.keys import currency_code, host_name

from .helpers import CONTEXT, action, decide, rules_policy

NOW = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)
AGENT = "agent-1"

# Each budgeted rule is followed by a catch-all allow, so that "the limit did not hold" and
# "the action was refused" can be told apart: only a refusal is DENY.
BY_ALL = """\
- id: budget
  effect: allow
  action: purchase
  limits: [{spend: 1000, window: 24h, by: [currency, counterparty]}]
- id: anything_else
  effect: allow
  action: "*"
"""


def purchase(**payload: Any) -> dict[str, Any]:
    base = {"amount_minor": 100, "currency": "USD", "merchant_domain": "shop.example"}
    return action("purchase", payload={**base, **payload})


def query_by(policy: Policy, a: dict[str, Any]) -> tuple[Any, ...]:
    (query,) = usage_queries(policy, a, AGENT, NOW)
    return query.by


def decide_with(policy: Policy, a: dict[str, Any], used: float = 0) -> Any:
    usage = {q.key: Usage(used, 0) for q in usage_queries(policy, a, AGENT, NOW)}
    return decide(policy, a, replace(CONTEXT, now=NOW, usage=usage))


@pytest.mark.parametrize("currency", ["USD", "usd", "Usd", "USD ", " usd", "\tUSD\n"])
def test_every_spelling_of_a_currency_shares_one_budget(currency: str) -> None:
    p = rules_policy(BY_ALL)
    a = purchase(currency=currency)
    assert query_by(p, a) == (("currency", "USD"), ("counterparty", "shop.example"))
    assert usage_record(a).currency == "USD"


@pytest.mark.parametrize(
    "domain", ["shop.example", "Shop.Example", "SHOP.EXAMPLE.", " shop.example ", "shop.example.."]
)
def test_every_spelling_of_a_counterparty_shares_one_budget(domain: str) -> None:
    p = rules_policy(BY_ALL)
    a = purchase(merchant_domain=domain)
    assert query_by(p, a) == (("currency", "USD"), ("counterparty", "shop.example"))
    assert usage_record(a).counterparty == "shop.example"


@pytest.mark.parametrize(
    "payload",
    [
        {"currency": None},
        {"currency": "US Dollar"},
        {"currency": "US"},
        {"currency": "U$D"},
        {"currency": 840},
        {"currency": "uſd"},  # the long s would upper-case to S
        {"merchant_domain": "shop example"},
        {"merchant_domain": "shop.example:443"},
        {"merchant_domain": "ｓhop.example"},
    ],
)
def test_a_grouping_value_without_one_spelling_is_denied_never_allowed(
    payload: dict[str, Any],
) -> None:
    a = purchase(**payload)
    evaluation = decide_with(rules_policy(BY_ALL), a)
    assert evaluation.result is Result.DENY
    assert 'rule "budget"' in evaluation.reason
    assert evaluation.trace  # the rules are still traced for the owner


def test_a_missing_currency_under_a_budget_by_currency_is_denied() -> None:
    a = action("purchase", payload={"amount_minor": 100, "merchant_domain": "shop.example"})
    evaluation = decide_with(rules_policy(BY_ALL), a)
    assert evaluation.result is Result.DENY
    assert "ISO 4217" in evaluation.reason


def test_a_missing_counterparty_under_a_budget_by_counterparty_is_denied() -> None:
    a = action("purchase", payload={"amount_minor": 100, "currency": "USD"})
    assert decide_with(rules_policy(BY_ALL), a).result is Result.DENY


def test_an_action_type_in_another_case_cannot_open_a_budget_of_its_own() -> None:
    p = rules_policy(
        "- {id: budget, effect: allow, action: 'pay.*', limits: [{count: 1, window: 1h, "
        "by: [action_type]}]}\n- {id: anything_else, effect: allow, action: '*'}\n"
    )
    assert decide_with(p, action("pay.card")).result is Result.ALLOW
    assert decide_with(p, action("pay.Card")).result is Result.DENY


def test_values_nobody_groups_by_keep_their_v1_meaning() -> None:
    # Without limits by currency, an odd currency only fails the constraint that reads it.
    p = rules_policy(
        "- {id: budget, effect: allow, action: purchase, limits: [{count: 5, window: 1h}]}\n"
    )
    assert decide_with(p, purchase(currency="US Dollar")).result is Result.ALLOW


@pytest.mark.parametrize("amount", [-1, -0.5, -math.inf, math.inf, math.nan, "5", True])
@pytest.mark.parametrize(
    "constraint", ["constraints: {amount_max: 10000}", "constraints: {amount_min: 0}"]
)
def test_unusable_amounts_under_amount_constraints_are_denied(amount: Any, constraint: str) -> None:
    p = rules_policy(
        f"- id: small\n  effect: allow\n  action: purchase\n  {constraint}\n"
        "- {id: anything_else, effect: allow, action: '*'}\n"
    )
    evaluation = decide(p, purchase(amount_minor=amount))
    assert evaluation.result is Result.DENY
    assert "amount_minor" in evaluation.reason
    assert not evaluation.proof_required


def test_a_negative_amount_under_a_deny_above_rule_cannot_slip_past_it() -> None:
    p = rules_policy(
        "- {id: large, effect: deny, action: purchase, constraints: {amount_min: 100001}}\n"
        "- {id: rest, effect: allow, action: purchase}\n"
    )
    assert decide(p, purchase(amount_minor=5)).result is Result.ALLOW
    assert decide(p, purchase(amount_minor=-5_000_000)).result is Result.DENY


def test_a_negative_amount_neither_spends_nor_refunds_a_budget() -> None:
    p = rules_policy(BY_ALL)
    a = purchase(amount_minor=-5000)
    assert decide_with(p, a, used=900).result is Result.DENY
    assert usage_record(a).amount_minor is None


def test_the_currency_constraint_takes_every_spelling_and_refuses_nonsense() -> None:
    p = rules_policy(
        "- {id: usd, effect: allow, action: purchase, constraints: {currency: [usd]}}\n"
        "- {id: rest, effect: allow, action: '*'}\n"
    )
    assert p.rules[0].constraints is not None
    assert p.rules[0].constraints.currency == ("USD",)
    assert decide(p, purchase(currency=" Usd")).matched_rule_id == "usd"
    assert decide(p, purchase(currency="dollars")).result is Result.DENY


def test_currency_and_host_spellings() -> None:
    assert currency_code(" eur ") == "EUR"
    assert currency_code("EURO") is None
    assert host_name("Shop.Example.") == "shop.example"
    assert host_name("-shop.example") is None
