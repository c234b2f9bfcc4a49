"""Limits: the usage queries an action needs, and decisions over the answers."""

from __future__ import annotations

import math
import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from openleash.domain.errors import PolicyError
from openleash.domain.models import Result
from openleash.policy import (
    EvalContext,
    Evaluation,
    Policy,
    Usage,
    UsageQuery,
    merge_layers,
    parse_policy,
    usage_queries,
    usage_record,
)

from .helpers import CONTEXT, action, decide, rules_policy

NOW = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)
AGENT = "agent-1"

BUDGET = """\
- id: within_budget
  effect: allow
  action: purchase
  limits:
    - {spend: 1000, window: 24h, by: [currency]}
    - {count: 3, window: day, per: owner, timezone: Europe/Stockholm}
- id: over_budget_asks_owner
  effect: allow
  action: purchase
  obligations: [{type: HUMAN_APPROVAL}]
"""


def purchase(amount: Any = 100, **payload: Any) -> dict[str, Any]:
    return action("purchase", payload={"amount_minor": amount, "currency": "USD", **payload})


def with_usage(policy: Policy, a: dict[str, Any], amount: float, count: int) -> Evaluation:
    """Decide with every query answered alike."""
    queries = usage_queries(policy, a, AGENT, NOW)
    usage = {q.key: Usage(amount, count) for q in queries}
    return decide(policy, a, replace(CONTEXT, now=NOW, usage=usage))


# ---- queries --------------------------------------------------------------------------------


def test_queries_name_each_limit_of_each_matching_rule() -> None:
    p = rules_policy(BUDGET)
    spend, count = usage_queries(p, purchase(), AGENT, NOW)
    assert spend == UsageQuery(
        key=(0, 0),
        kind="spend",
        per="agent",
        agent_principal_id=AGENT,
        action_pattern=p.rules[0].action,
        by=(("currency", "USD"),),
        since=NOW - timedelta(hours=24),
        window="24h",
    )
    assert (count.key, count.kind, count.per, count.agent_principal_id) == (
        (0, 1),
        "count",
        "owner",
        None,
    )
    assert count.by == ()
    # Monday 2026-03-30 began in Stockholm at 22:00 UTC on Sunday (summer time).
    assert count.since == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    assert count.window == "day"
    assert len({spend, count}) == 2  # hashable


def test_queries_skip_rules_whose_pattern_does_not_match_but_keep_the_rest() -> None:
    p = rules_policy(
        """\
        - {id: a, effect: allow, action: refund, limits: [{count: 1, window: 1h}]}
        - id: b
          effect: allow
          action: "*"
          when: {match: {path: "$.payload.never", op: exists}}
          limits: [{count: 1, window: 1h}]
        - {id: c, effect: allow, action: "purchase.*", limits: [{count: 1, window: 90s}]}
        - {id: d, effect: allow, action: purchase}
        """
    )
    queries = usage_queries(p, purchase(), AGENT, NOW)
    assert [q.key for q in queries] == [(1, 0), (2, 0)]
    assert [q.action_pattern.kind for q in queries] == ["any", "prefix"]
    assert queries[1].action_pattern.prefix == "purchase"
    assert queries[1].since == NOW - timedelta(seconds=90)


def test_a_policy_without_limits_needs_no_queries() -> None:
    assert (
        usage_queries(
            rules_policy("- {id: r, effect: allow, action: '*'}\n"), purchase(), AGENT, NOW
        )
        == ()
    )


@pytest.mark.parametrize(
    ("payload", "relying_party", "expected"),
    [
        (
            {"currency": "EUR", "merchant_domain": "Shop.Example"},
            None,
            (("currency", "EUR"), ("counterparty", "shop.example"), ("action_type", "purchase")),
        ),
        (
            {"currency": 978, "domain": ""},
            {"domain": "RP.example"},
            (("currency", None), ("counterparty", "rp.example"), ("action_type", "purchase")),
        ),
        ({}, None, (("currency", None), ("counterparty", None), ("action_type", "purchase"))),
    ],
)
def test_by_filters_carry_this_actions_values(
    payload: dict[str, Any], relying_party: dict[str, Any] | None, expected: tuple[Any, ...]
) -> None:
    p = rules_policy(
        "- {id: r, effect: allow, action: '*', limits: "
        "[{spend: 5, window: 1h, by: [currency, counterparty, action_type]}]}\n"
    )
    a = action("purchase", payload=payload, relying_party=relying_party)
    (query,) = usage_queries(p, a, AGENT, NOW)
    assert query.by == expected


def test_equal_selections_can_share_one_count() -> None:
    p = rules_policy(
        "- {id: a, effect: allow, action: purchase, limits: [{spend: 5, window: 1h}]}\n"
        "- {id: b, effect: allow, action: purchase, limits: [{count: 5, window: 60m}]}\n"
        "- {id: c, effect: allow, action: purchase, limits: [{count: 5, window: 1h, per: owner}]}\n"
    )
    a, b, c = usage_queries(p, purchase(), AGENT, NOW)
    assert a.key != b.key
    assert a.selection == b.selection
    assert a.selection != c.selection


def test_keys_index_the_merged_policy() -> None:
    agent_layer = rules_policy("- {id: a, effect: allow, action: x}\n", default="passthrough")
    owner_layer = rules_policy(
        "- {id: o, effect: allow, action: '*', limits: [{count: 1, window: 1h}]}\n"
    )
    merged = merge_layers([agent_layer, owner_layer])
    (query,) = usage_queries(merged, purchase(), AGENT, NOW)
    assert query.key == (1, 0)


def test_usage_record_normalizes_as_queries_do() -> None:
    record = usage_record(
        action(
            "purchase",
            payload={"amount_minor": 250, "currency": "SEK", "merchant_domain": "Shop.Example"},
        )
    )
    assert (record.action_type, record.amount_minor, record.currency, record.counterparty) == (
        "purchase",
        250,
        "SEK",
        "shop.example",
    )
    odd = usage_record(action("x", payload={"amount_minor": -5, "currency": 1}))
    assert (odd.amount_minor, odd.currency, odd.counterparty) == (None, None, None)


# ---- decisions ------------------------------------------------------------------------------


def test_within_limits_the_rule_allows_and_reports_what_remains() -> None:
    evaluation = with_usage(rules_policy(BUDGET), purchase(100), amount=400, count=1)
    assert (evaluation.result, evaluation.matched_rule_id) == (Result.ALLOW, "within_budget")
    assert evaluation.limits == (
        {
            "kind": "spend",
            "max": 1000,
            "used": 400,
            "this": 100,
            "remaining": 500,
            "window": "24h",
            "per": "agent",
            "by": {"currency": "USD"},
        },
        {
            "kind": "count",
            "max": 3,
            "used": 1,
            "this": 1,
            "remaining": 1,
            "window": "day",
            "per": "owner",
            "by": {},
        },
    )
    entry = evaluation.trace[0]
    assert entry["schedule_match"] is True
    assert entry["limits_match"] is True
    assert entry["limits"][0] == {
        "kind": "spend",
        "used": 400,
        "this": 100,
        "max": 1000,
        "window": "24h",
        "per": "agent",
        "by": {"currency": "USD"},
        "holds": True,
    }


def test_a_limit_holds_up_to_its_maximum_counting_this_action() -> None:
    p = rules_policy(BUDGET)
    assert with_usage(p, purchase(100), amount=900, count=2).matched_rule_id == "within_budget"
    assert with_usage(p, purchase(101), amount=900, count=0).matched_rule_id != "within_budget"
    assert with_usage(p, purchase(1), amount=0, count=3).matched_rule_id != "within_budget"


def test_over_budget_falls_through_to_the_next_rule() -> None:
    evaluation = with_usage(rules_policy(BUDGET), purchase(700), amount=400, count=0)
    assert evaluation.result is Result.REQUIRE_APPROVAL
    assert evaluation.matched_rule_id == "over_budget_asks_owner"
    assert evaluation.limits == ()
    first = evaluation.trace[0]
    assert (first["limits_match"], first["final_match"]) == (False, False)
    assert [limit["holds"] for limit in first["limits"]] == [False, True]


@pytest.mark.parametrize(("default", "result"), [("deny", Result.DENY), ("allow", Result.ALLOW)])
def test_over_budget_falls_through_to_the_default(default: str, result: Result) -> None:
    p = rules_policy(BUDGET.split("- id: over")[0], default=default)
    evaluation = with_usage(p, purchase(700), amount=400, count=0)
    assert (evaluation.result, evaluation.matched_rule_id) == (result, None)


def test_missing_usage_fails_closed() -> None:
    p = rules_policy(BUDGET.split("- id: over")[0], default="deny")
    evaluation = decide(p, purchase(1), replace(CONTEXT, now=NOW))
    assert evaluation.result is Result.DENY
    entry = evaluation.trace[0]
    assert entry["limits_match"] is False
    assert [limit["used"] for limit in entry["limits"]] == [None, None]


def test_one_missing_answer_is_enough_to_fail() -> None:
    p = rules_policy(BUDGET.split("- id: over")[0])
    usage = {(0, 0): Usage(0, 0)}
    evaluation = decide(p, purchase(1), replace(CONTEXT, now=NOW, usage=usage))
    assert evaluation.result is Result.DENY


@pytest.mark.parametrize(
    "amount", [None, -1, -0.5, True, False, "100", math.nan, math.inf, [100], {"v": 1}]
)
def test_spend_needs_a_non_negative_number(amount: Any) -> None:
    p = rules_policy("- {id: r, effect: allow, action: '*', limits: [{spend: 1000, window: 1h}]}\n")
    evaluation = with_usage(p, purchase(amount), amount=0, count=0)
    assert evaluation.result is Result.DENY
    assert evaluation.trace[0]["limits"][0]["this"] is None


def test_spend_without_any_amount_fails_but_count_does_not_care() -> None:
    spend = rules_policy(
        "- {id: r, effect: allow, action: '*', limits: [{spend: 10, window: 1h}]}\n"
    )
    count = rules_policy(
        "- {id: r, effect: allow, action: '*', limits: [{count: 10, window: 1h}]}\n"
    )
    assert with_usage(spend, action(payload={}), amount=0, count=0).result is Result.DENY
    assert with_usage(count, action(payload={}), amount=0, count=0).result is Result.ALLOW


def test_zero_and_fractional_amounts_count() -> None:
    p = rules_policy("- {id: r, effect: allow, action: '*', limits: [{spend: 10, window: 1h}]}\n")
    assert with_usage(p, purchase(0), amount=10, count=5).result is Result.ALLOW
    assert with_usage(p, purchase(0.5), amount=9.5, count=5).result is Result.ALLOW
    assert with_usage(p, purchase(0.5), amount=9.75, count=5).result is Result.DENY


@pytest.mark.parametrize(
    "usage", [Usage(-1, 0), Usage(math.nan, 0), Usage(0, -1), Usage(True, 0), Usage(0, True)]
)
def test_answers_that_cannot_be_totals_fail_closed(usage: Usage) -> None:
    p = rules_policy(
        "- {id: r, effect: allow, action: '*', limits: "
        "[{spend: 100, window: 1h}, {count: 100, window: 1h}]}\n"
    )
    context = replace(CONTEXT, usage={(0, 0): usage, (0, 1): usage})
    assert decide(p, purchase(1), context).result is Result.DENY


def test_limits_are_not_reached_when_the_schedule_fails() -> None:
    p = rules_policy(
        "- {id: r, effect: allow, action: '*', schedule: {days: [sat]}, "
        "limits: [{count: 1, window: 1h}]}\n"
    )
    monday = replace(CONTEXT, now=NOW, usage={(0, 0): Usage(0, 0)})
    entry = decide(p, purchase(), monday).trace[0]
    assert (entry["schedule_match"], entry["limits_match"]) == (False, None)
    assert "limits" not in entry


def test_later_rules_limits_are_traced_too() -> None:
    p = rules_policy(
        "- {id: a, effect: allow, action: '*'}\n"
        "- {id: b, effect: allow, action: '*', limits: [{count: 1, window: 1h}]}\n"
    )
    evaluation = with_usage(p, purchase(), amount=0, count=0)
    assert evaluation.matched_rule_id == "a"
    assert evaluation.limits == ()
    assert evaluation.trace[1]["limits_match"] is True


def test_a_deny_rule_with_limits_reports_none() -> None:
    p = rules_policy(
        "- {id: too_often, effect: deny, action: '*', limits: [{count: 0, window: 1h}]}\n",
        default="allow",
    )
    assert with_usage(p, purchase(), amount=0, count=0).result is Result.ALLOW
    p = rules_policy("- {id: r, effect: deny, action: '*', limits: [{count: 5, window: 1h}]}\n")
    evaluation = with_usage(p, purchase(), amount=0, count=0)
    assert (evaluation.result, evaluation.limits) == (Result.DENY, ())


def test_empty_limits_always_hold() -> None:
    p = rules_policy("- {id: r, effect: allow, action: '*', limits: []}\n")
    evaluation = decide(p, purchase())
    assert evaluation.result is Result.ALLOW
    assert evaluation.trace[0]["limits"] == []
    assert evaluation.limits == ()


def test_the_usage_of_another_key_does_not_count() -> None:
    p = rules_policy("- {id: r, effect: allow, action: '*', limits: [{count: 5, window: 1h}]}\n")
    context = EvalContext(now=NOW, usage={(1, 0): Usage(0, 0)})
    assert decide(p, purchase(), context).result is Result.DENY


# ---- validation -----------------------------------------------------------------------------


def refusal(limit: str) -> str:
    text = f"""\
        version: 1
        default: deny
        rules:
          - id: r
            effect: allow
            action: x
            limits:
              - {limit}
        """
    with pytest.raises(PolicyError) as caught:
        parse_policy(textwrap.dedent(text))
    assert all(issue["line"] == 8 for issue in caught.value.issues), caught.value.issues
    return str(caught.value)


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("{spend: 5, window: 5w}", "rules[0].limits[0].window: unknown window unit `w` in `5w`"),
        ("{spend: 5, window: 24H}", "unknown window unit `H`"),
        ("{spend: 5, window: 0s}", "rules[0].limits[0].window: `0s` is empty"),
        ("{spend: 5, window: 000m}", "`000m` is empty"),
        ("{spend: 5, window: '24'}", "`24` has no unit"),
        ("{spend: 5, window: 1.5h}", "must be `day`, `week`, `month` or a duration"),
        ("{spend: 5, window: -1h}", "must be `day`, `week`, `month` or a duration"),
        ("{spend: 5, window: Day}", "must be `day`, `week`, `month` or a duration"),
        ("{spend: 5, window: 367d}", "`367d` is longer than the longest window, 366d"),
        ("{spend: 5, window: 8785h}", "longer than the longest window"),
        ("{spend: 5, window: 24}", "rules[0].limits[0].window: must be a string, not a number"),
        ("{spend: 5}", "rules[0].limits[0]: missing required key `window`"),
        ("{spend: 5, window: day, timezone: Mars/Olympus}", "unknown time zone `Mars/Olympus`"),
        ("{spend: five, window: 1h}", "rules[0].limits[0].spend: must be a number, not a string"),
        ("{spend: -1, window: 1h}", "spend: must be a number of minor units, 0 or more, not `-1`"),
        ("{spend: .inf, window: 1h}", "must be a number of minor units, 0 or more"),
        ("{spend: true, window: 1h}", "spend: must be a number, not a boolean"),
        ("{count: 2.5, window: 1h}", "count: must be a whole number of actions, 0 or more"),
        ("{count: -1, window: 1h}", "count: must be a whole number of actions, 0 or more"),
        ("{spend: 5, count: 1, window: 1h}", "has both `spend` and `count`"),
        ("{window: 1h}", "rules[0].limits[0]: needs `spend` (a budget) or `count`"),
        ("{spend: 5, window: 1h, per: team}", "per: must be one of agent, owner, not `team`"),
        ("{spend: 5, window: 1h, by: [merchant]}", "by[0]: unknown field `merchant`"),
        ("{spend: 5, window: 1h, by: [currency, currency]}", "by[1]: duplicate field `currency`"),
        ("{spend: 5, window: 1h, by: currency}", "by: must be a list, not a string"),
        ("{spend: 5, window: 1h, max: 3}", "rules[0].limits[0]: unknown key `max`"),
    ],
)
def test_limit_errors_are_located(limit: str, message: str) -> None:
    assert message in refusal(limit)


def test_limits_must_be_a_list() -> None:
    with pytest.raises(PolicyError, match=r"rules\[0\]\.limits: must be a list, not an object"):
        rules_policy("- {id: r, effect: allow, action: x, limits: {count: 1, window: 1h}}\n")


def test_parsed_limits() -> None:
    p = rules_policy(
        "- {id: r, effect: allow, action: x, limits: "
        "[{count: 2.0, window: 01h}, {spend: 9.5, window: month, timezone: Asia/Tokyo}]}\n"
    )
    count, spend = p.rules[0].limits or ()
    assert (count.kind, count.max, count.window.seconds, count.per, count.by) == (
        "count",
        2,
        3600,
        "agent",
        (),
    )
    assert (spend.kind, spend.max, spend.window.calendar, spend.timezone) == (
        "spend",
        9.5,
        "month",
        "Asia/Tokyo",
    )
    assert type(count.max) is int


def test_a_time_zone_on_a_rolling_window_is_a_warning() -> None:
    p = rules_policy(
        "- {id: r, effect: allow, action: x, limits: [{count: 2, window: 24h, timezone: UTC}]}\n"
    )
    assert p.warnings[0]["path"] == "rules[0].limits[0].timezone"
    assert "no effect" in p.warnings[0]["message"]
