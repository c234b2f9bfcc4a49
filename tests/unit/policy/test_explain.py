"""Explanations: what decided a DENY or REQUIRE_*, and what kept the nearest allow rule out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openleash.domain.models import Result
from openleash.policy import (
    EvalContext,
    Evaluation,
    Policy,
    Usage,
    build_server_context,
    evaluate,
    usage_queries,
)
from openleash.policy.constraints import constraints_hold
from openleash.policy.evaluate import FAILED_CLOSED_REASON
from openleash.policy.explain import Scene, constraint_failure, value_text
from openleash.policy.model import Constraints

from .helpers import action, policy, rules_policy

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # a Saturday, 10:00 in Stockholm


def decide(
    p: Policy, a: dict[str, Any], *, now: datetime = NOW, usage: tuple[int, int] | None = None
) -> Evaluation:
    answers = {}
    if usage is not None:
        answers = {q.key: Usage(*usage) for q in usage_queries(p, a, "agent-1", now)}
    context = build_server_context(p, a, now=now, allowed_before=0)
    return evaluate(p, a, EvalContext(now=now, server_context=context, usage=answers))


def purchase(**payload: Any) -> dict[str, Any]:
    return action("purchase", payload=payload)


SHOP = """\
- id: small_purchases
  effect: allow
  action: purchase
  description: everyday shopping
  constraints: { amount_max: 10000, currency: [USD, EUR] }
- id: large_purchases_ask_me
  effect: allow
  action: purchase
  obligations: [{ type: HUMAN_APPROVAL }]
"""


def test_allow_has_no_explanation() -> None:
    found = decide(rules_policy(SHOP), purchase(amount_minor=500, currency="USD"))
    assert found.result is Result.ALLOW
    assert found.explanation is None
    assert found.explanation_details is None


def test_approval_names_the_rule_and_the_amount_over_the_nearest_allow_rule() -> None:
    found = decide(rules_policy(SHOP), purchase(amount_minor=12000, currency="USD"))
    assert found.result is Result.REQUIRE_APPROVAL
    assert found.explanation == (
        'Rule "large_purchases_ask_me" requires human approval. The nearest allowing rule, '
        '"small_purchases", does not hold: `amount_minor` 12000 > `amount_max` 10000.'
    )
    assert found.explanation_details == {
        "decided_by": "large_purchases_ask_me",
        "nearest_allow_rule": "small_purchases",
        "failed": "constraints",
        "condition": "`amount_minor` 12000 > `amount_max` 10000",
    }


def test_currency_outside_the_list() -> None:
    found = decide(rules_policy(SHOP), purchase(amount_minor=500, currency="SEK"))
    assert found.explanation_details is not None
    assert found.explanation_details["condition"] == '`currency` "SEK" not in [USD, EUR]'


@pytest.mark.parametrize(
    ("constraints", "payload", "expected"),
    [
        ("{ amount_min: 100 }", {"amount_minor": 50}, "`amount_minor` 50 < `amount_min` 100"),
        ("{ amount_max: 100 }", {}, "`amount_minor` is missing, not a number"),
        ("{ amount_max: 100 }", {"amount_minor": None}, "`amount_minor` is null, not a number"),
        ("{ currency: [USD] }", {}, "`currency` missing not in [USD]"),
        (
            "{ merchant_domain: [shop.example] }",
            {"merchant_domain": "other.example"},
            '`merchant_domain` "other.example" not in [shop.example]',
        ),
        (
            "{ allowed_domains: [a.example] }",
            {"domain": "b.example"},
            'domain "b.example" not in `allowed_domains` [a.example]',
        ),
        (
            "{ blocked_domains: [bad.example] }",
            {"domain": "bad.example"},
            'domain "bad.example" is in `blocked_domains`',
        ),
        (
            "{ counterparty_trust: [HIGH] }",
            {"merchant_domain": "new.example"},
            "counterparty trust UNKNOWN (new.example) not in [HIGH]",
        ),
    ],
)
def test_each_constraint_in_owner_terms(constraints: str, payload: Any, expected: str) -> None:
    p = rules_policy(f"- {{ id: r, effect: allow, action: purchase, constraints: {constraints} }}")
    found = decide(p, purchase(**payload))
    assert found.result is Result.DENY
    assert found.explanation_details is not None
    assert found.explanation_details["condition"] == expected


def test_risk_above_max_risk() -> None:
    p = policy("""\
        version: 1
        default: deny
        risk: [{ action: purchase, level: critical }]
        rules:
          - { id: r, effect: allow, action: purchase, constraints: { max_risk: high } }
        """)
    found = decide(p, purchase())
    assert found.explanation is not None
    assert found.explanation.endswith("does not hold: risk critical above `max_risk` high.")


def test_default_deny_without_any_allow_rule_for_the_type() -> None:
    found = decide(rules_policy(SHOP), action("email.send"))
    assert found.explanation == (
        "No rule matched, so the policy's default applies: deny. "
        'No rule allows action type "email.send".'
    )
    assert found.explanation_details == {
        "decided_by": None,
        "nearest_allow_rule": None,
        "failed": None,
        "condition": None,
    }


def test_default_require_approval_and_passthrough() -> None:
    asks = decide(rules_policy("[]", default="require_approval"), purchase())
    assert asks.explanation is not None
    assert asks.explanation.startswith("No rule matched, so the policy's default applies: ")
    assert "require_approval" in asks.explanation
    passes = decide(rules_policy("[]", default="passthrough"), purchase())
    assert passes.explanation is not None
    assert passes.explanation.startswith("No rule matched and the default passes through")


def test_deny_rule_with_its_description_and_a_later_allow_rule_that_holds() -> None:
    p = rules_policy("""\
        - { id: no_crypto, effect: deny, action: purchase, description: no crypto,
            when: { match: { path: "$.payload.category", op: eq, value: crypto } } }
        - { id: anything, effect: allow, action: purchase }
        """)
    found = decide(p, purchase(category="crypto"))
    assert found.explanation == (
        'Denied by rule "no_crypto" (no crypto). The nearest allowing rule, "anything", '
        'holds but comes after "no_crypto".'
    )
    assert found.explanation_details is not None
    assert found.explanation_details["failed"] == "order"


def test_when_names_the_failing_match_with_expected_and_actual() -> None:
    p = rules_policy("""\
        - id: books
          effect: allow
          action: purchase
          when:
            all:
              - { match: { path: "$.payload.amount_minor", op: lt, value: 5000 } }
              - { match: { path: "$.payload.category", op: eq, value: books } }
        """)
    found = decide(p, purchase(amount_minor=100, category="gifts"))
    assert found.explanation_details is not None
    assert found.explanation_details["failed"] == "when"
    assert found.explanation_details["condition"] == (
        'when: `$.payload.category` eq "books" is false (it is "gifts")'
    )


def test_when_any_and_not() -> None:
    any_of = rules_policy("""\
        - id: r
          effect: allow
          action: purchase
          when:
            any:
              - { match: { path: "$.payload.a", op: exists } }
              - { match: { path: "$.context.counterparty.allowed_before", op: gt, value: 0 } }
        """)
    details = decide(any_of, purchase()).explanation_details
    assert details is not None
    assert details["condition"] == (
        "when: none holds of: `$.payload.a` exists is false (it is missing); "
        "`$.context.counterparty.allowed_before` gt 0 is false (it is 0)"
    )
    negated = rules_policy("""\
        - id: r
          effect: allow
          action: purchase
          when: { not: { match: { path: "$.payload.a", op: in, value: [1, 2] } } }
        """)
    details = decide(negated, purchase(a=2)).explanation_details
    assert details is not None
    assert details["condition"] == "when: not (`$.payload.a` in [1, 2]) is false (it is 2)"


def test_schedule_names_the_local_time_and_what_is_allowed() -> None:
    p = rules_policy("""\
        - id: office_hours
          effect: allow
          action: purchase
          schedule:
            timezone: Europe/Stockholm
            days: [mon, tue, wed, thu, fri]
            between: ["08:00", "18:00"]
        """)
    details = decide(p, purchase()).explanation_details
    assert details is not None
    assert details["condition"] == (
        "outside the schedule: Sat 10:00 Europe/Stockholm, allowed mon-fri 08:00-18:00"
    )


BUDGET = """\
- id: daily_budget
  effect: allow
  action: purchase
  limits:
    - { spend: 500, window: 24h }
    - { count: 30, window: 1h, per: owner }
- id: over_budget_asks_me
  effect: allow
  action: purchase
  obligations: [{ type: HUMAN_APPROVAL }]
"""


def test_budget_used_up() -> None:
    found = decide(rules_policy(BUDGET), purchase(amount_minor=100), usage=(480, 3))
    assert found.result is Result.REQUIRE_APPROVAL
    assert found.explanation_details is not None
    assert found.explanation_details["condition"] == (
        "budget: 480 of 500 used in the last 24h, this 100"
    )


def test_rate_used_up_and_both_reported() -> None:
    found = decide(rules_policy(BUDGET), purchase(amount_minor=100), usage=(480, 30))
    assert found.explanation_details is not None
    assert found.explanation_details["condition"] == (
        "budget: 480 of 500 used in the last 24h, this 100; "
        "rate (all the owner's agents): 30 of 30 actions in the last 1h"
    )


def test_calendar_window_by_currency_and_unknown_usage() -> None:
    p = rules_policy("""\
        - id: monthly
          effect: allow
          action: purchase
          limits: [{ spend: 1000, window: month, by: [currency] }]
        """)
    over = decide(p, purchase(amount_minor=600, currency="USD"), usage=(500, 1))
    assert over.explanation_details is not None
    assert over.explanation_details["condition"] == (
        'budget for currency "USD": 500 of 1000 used this month, this 600'
    )
    unknown = decide(p, purchase(amount_minor=1, currency="USD"))
    assert unknown.explanation_details is not None
    assert unknown.explanation_details["condition"] == (
        'budget for currency "USD": usage this month is not known'
    )
    no_amount = decide(p, purchase(currency="USD"), usage=(0, 0))
    assert no_amount.explanation_details is not None
    assert "has no `amount_minor`" in no_amount.explanation_details["condition"]


def test_step_up_names_the_level_needed_and_had() -> None:
    p = rules_policy("""\
        - id: gov
          effect: allow
          action: government.submit
          requirements: { min_assurance_level: HIGH }
        """)
    found = decide(p, action("government.submit", payload={"assurance_level": "SUBSTANTIAL"}))
    assert found.result is Result.REQUIRE_STEP_UP
    assert found.explanation == (
        'Rule "gov" requires step-up authentication to assurance level HIGH, '
        "confirmed by the owner."
    )


def test_failed_closed_evaluation_explains_itself() -> None:
    p = rules_policy(SHOP)
    bad = EvalContext(now=NOW, server_context={"risk": "extreme"})
    found = evaluate(p, purchase(), bad)
    assert found.result is Result.DENY
    assert found.explanation == FAILED_CLOSED_REASON


def test_values_read_as_an_owner_reads_them() -> None:
    assert value_text(1.0) == "1"
    assert value_text("x") == '"x"'
    assert value_text(None) == "null"
    assert value_text(True) == "true"
    assert value_text("y" * 200).endswith("...")


_SCENE = Scene(NOW, None, "low", "UNKNOWN")
_AMOUNTS = st.one_of(st.none(), st.integers(-10, 20000), st.sampled_from(["5", True]))


@given(
    amount=_AMOUNTS,
    currency=st.sampled_from([None, "USD", "SEK", 3]),
    domain=st.sampled_from([None, "a.example", "bad.example"]),
)
def test_a_failing_constraint_is_always_named(amount: Any, currency: Any, domain: Any) -> None:
    constraints = Constraints(
        amount_max=10000,
        amount_min=0,
        currency=("USD",),
        allowed_domains=("a.example", "bad.example"),
        blocked_domains=("bad.example",),
    )
    payload = {
        k: v
        for k, v in {"amount_minor": amount, "currency": currency, "domain": domain}.items()
        if v is not None
    }
    a = purchase(**payload)
    if not constraints_hold(constraints, a):
        assert constraint_failure(constraints, a, _SCENE) != "the constraints do not hold"


def test_further_allowing_rules_are_named_too() -> None:
    p = rules_policy("""\
        - { id: small, effect: allow, action: purchase, constraints: { amount_max: 100 } }
        - id: budget
          effect: allow
          action: purchase
          limits: [{ spend: 500, window: 24h }]
        - { id: books, effect: allow, action: purchase,
            when: { match: { path: "$.payload.category", op: eq, value: books } } }
        - { id: ask_me, effect: allow, action: purchase, obligations: [{ type: HUMAN_APPROVAL }] }
        - { id: later, effect: allow, action: purchase }
        """)
    found = decide(p, purchase(amount_minor=200), usage=(400, 2))
    assert found.explanation == (
        'Rule "ask_me" requires human approval. The nearest allowing rule, "small", does not '
        "hold: `amount_minor` 200 > `amount_max` 100. "
        'Nor does "budget": budget: 400 of 500 used in the last 24h, this 200. '
        'Nor does "books": when: `$.payload.category` eq "books" is false (it is missing).'
    )
    assert found.explanation_details is not None
    assert [a["rule"] for a in found.explanation_details["also"]] == ["budget", "books"]
