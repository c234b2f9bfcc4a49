"""Bindings to layers: tiers, rank, passthrough."""

from __future__ import annotations

from openleash.domain.models import Binding, Result
from openleash.policy import (
    DefaultEffect,
    Tier,
    binding_tier,
    merge_layers,
    next_rank_in_tier,
    order_bindings,
)

from .helpers import action, decide, rules_policy

AGENT = "agent-1"
GROUPS = {"g1", "g2"}


def bind(
    name: str,
    agent: str | None = None,
    group: str | None = None,
    rank: int | None = None,
) -> Binding:
    return Binding(name, "user", "owner-1", f"policy-{name}", agent, group, rank)


def names(bindings: list[Binding]) -> list[str]:
    return [b.binding_id for b in bindings]


def test_tiers_agent_then_group_then_owner() -> None:
    bindings = [
        bind("owner"),
        bind("group", group="g1"),
        bind("agent", agent=AGENT),
        bind("other-agent", agent="agent-2"),
        bind("other-group", group="g9"),
        bind("other-agent-in-my-group", agent="agent-2", group="g2"),
        bind("empty-group", group=""),
    ]
    assert names(order_bindings(bindings, AGENT, GROUPS)) == [
        "agent",
        "group",
        "other-agent-in-my-group",
        "owner",
    ]


def test_agent_tier_wins_even_when_a_group_is_also_set() -> None:
    ordered = order_bindings([bind("both", agent=AGENT, group="g9")], AGENT, GROUPS)
    assert names(ordered) == ["both"]


def test_rank_sorts_within_a_tier_stably_with_absent_as_100() -> None:
    bindings = [
        bind("o-none-1"),
        bind("o-50", rank=50),
        bind("o-100", rank=100),
        bind("o-none-2"),
        bind("o-150", rank=150),
        bind("g-200", group="g2", rank=200),
        bind("g-1", group="g1", rank=1),
        bind("a-999", agent=AGENT, rank=999),
    ]
    assert names(order_bindings(bindings, AGENT, GROUPS)) == [
        "a-999",
        "g-1",
        "g-200",
        "o-50",
        "o-none-1",
        "o-100",
        "o-none-2",
        "o-150",
    ]


def test_merge_concatenates_rules_in_layer_order() -> None:
    agent_layer = rules_policy(
        "- {id: agent_deny, effect: deny, action: purchase}\n", "passthrough"
    )
    owner_layer = rules_policy("- {id: owner_allow, effect: allow, action: '*'}\n", "allow")
    merged = merge_layers([agent_layer, owner_layer])
    assert [r.id for r in merged.rules] == ["agent_deny", "owner_allow"]
    assert decide(merged, action("purchase")).reason == 'Denied by rule "agent_deny"'
    assert decide(merged, action("refund")).reason == 'Allowed by rule "owner_allow"'


def test_merged_default_is_the_first_that_is_not_passthrough() -> None:
    layers = [rules_policy("[]", d) for d in ("passthrough", "require_approval", "allow")]
    merged = merge_layers(layers)
    assert merged.default is DefaultEffect.REQUIRE_APPROVAL
    assert merged.version == 1
    assert decide(merged, action()).result is Result.REQUIRE_APPROVAL


def test_all_passthrough_or_nothing_merges_to_deny() -> None:
    merged = merge_layers([rules_policy("[]", "passthrough"), rules_policy("[]", "passthrough")])
    assert merged.default is DefaultEffect.DENY
    assert decide(merged, action()).reason == "No rule matched; default policy: deny"
    assert merge_layers([]).default is DefaultEffect.DENY
    assert merge_layers([]).rules == ()


def test_same_policy_twice_appears_twice() -> None:
    p = rules_policy("- {id: r, effect: allow, action: x}\n")
    assert [r.id for r in merge_layers([p, p]).rules] == ["r", "r"]


def test_binding_tier_for_listing() -> None:
    assert binding_tier(bind("a", agent="x")) is Tier.AGENT
    assert binding_tier(bind("g", group="g")) is Tier.GROUP
    assert binding_tier(bind("o")) is Tier.OWNER


def test_next_rank_in_tier() -> None:
    bindings = [bind("o1"), bind("o2", rank=300), bind("a", agent="x", rank=700)]
    assert next_rank_in_tier(bindings, Tier.OWNER) == 400
    assert next_rank_in_tier(bindings, Tier.AGENT) == 800
    assert next_rank_in_tier(bindings, Tier.GROUP) == 100
    assert next_rank_in_tier([bind("o")], Tier.OWNER) == 200
