"""From an owner's bindings to the one effective policy an agent is judged by.

Bindings fall in three tiers, most specific first: the agent's own, its groups', then the
owner-wide ones. Within a tier, lower ``rank`` (absent reads as 100) comes first and ties keep
their order. The layers' rules are concatenated in that order, so the first matching rule of
the most specific layer wins; only the *default* falls through, past layers whose default is
``passthrough``. ``risk`` and ``counterparties`` entries are concatenated in the same order:
risk takes the highest level of all layers, and among equally specific counterparty entries
the most specific layer's wins.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Sequence
from typing import TypeVar

from openleash.domain.models import Binding
from openleash.policy.model import DefaultEffect, Policy

T = TypeVar("T")

DEFAULT_RANK = 100
RANK_STEP = 100


class Tier(enum.IntEnum):
    AGENT = 0
    GROUP = 1
    OWNER = 2


def tier_for(binding: Binding, agent_principal_id: str, group_ids: Collection[str]) -> Tier | None:
    """The tier of ``binding`` for this agent, or ``None`` when it does not apply to it."""
    if binding.applies_to_agent_principal_id == agent_principal_id:
        return Tier.AGENT
    group = binding.applies_to_group_id
    if group and group in group_ids:
        return Tier.GROUP
    if binding.applies_to_agent_principal_id is None and group is None:
        return Tier.OWNER
    return None


def binding_tier(binding: Binding) -> Tier:
    """The tier a binding belongs to whatever the agent (for listing and ranking)."""
    if binding.applies_to_agent_principal_id:
        return Tier.AGENT
    if binding.applies_to_group_id:
        return Tier.GROUP
    return Tier.OWNER


def rank_of(binding: Binding) -> int:
    return DEFAULT_RANK if binding.rank is None else binding.rank


def order_bindings(
    bindings: Iterable[Binding], agent_principal_id: str, group_ids: Collection[str]
) -> list[Binding]:
    """The bindings that apply to the agent, most specific first. Others are left out."""
    tiers: dict[Tier, list[Binding]] = {tier: [] for tier in Tier}
    for binding in bindings:
        tier = tier_for(binding, agent_principal_id, group_ids)
        if tier is not None:
            tiers[tier].append(binding)
    # sorted() is stable, so equal ranks keep their given order.
    return [b for tier in Tier for b in sorted(tiers[tier], key=rank_of)]


def merge_layers(policies: Sequence[Policy]) -> Policy:
    """One policy: every layer's rules in order; the first default that is not passthrough.

    ``policies`` are the layers most specific first, as :func:`order_bindings` orders them.
    """
    default = next(
        (p.default for p in policies if p.default is not DefaultEffect.PASSTHROUGH),
        DefaultEffect.DENY,
    )
    rules = tuple(rule for policy in policies for rule in policy.rules)
    warnings = tuple(w for policy in policies for w in policy.warnings)
    risk = _concatenated([p.risk for p in policies])
    counterparties = _concatenated([p.counterparties for p in policies])
    return Policy(1, default, rules, warnings, risk=risk, counterparties=counterparties)


def _concatenated(parts: Sequence[tuple[T, ...] | None]) -> tuple[T, ...] | None:
    """The layers' entries in order; ``None`` when no layer has the key at all."""
    if all(part is None for part in parts):
        return None
    return tuple(item for part in parts for item in part or ())


def next_rank_in_tier(bindings: Iterable[Binding], tier: Tier) -> int:
    """Rank for a binding appended to ``tier``: 100 past the highest there, or 100 if empty."""
    ranks = [rank_of(b) for b in bindings if binding_tier(b) is tier]
    return max(ranks) + RANK_STEP if ranks else DEFAULT_RANK
