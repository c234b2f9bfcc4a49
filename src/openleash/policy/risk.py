"""``risk``: the owner's own risk classes of actions.

An action's risk is the highest ``level`` among the entries of the effective policy (all
layers) whose action pattern and ``when`` hold, ``low`` when none does. A level an agent writes
into its request is never read. A risk entry's ``when`` may read the server context, except
``$.context.risk``, which is what the entries compute.
"""

from __future__ import annotations

from collections.abc import Mapping

from openleash.domain.jsonvalue import JsonValue
from openleash.policy.checker import Checker, optional
from openleash.policy.expressions import eval_expr, matches_of, parse_when
from openleash.policy.model import (
    RISK_LEVELS,
    RISK_RANK,
    Expr,
    Policy,
    RiskEntry,
    compile_action_pattern,
)
from openleash.policy.syntax import Path

RISK_KEYS = ("action", "level", "when")
RISK_REQUIRED = ("action", "level")
LOWEST = RISK_LEVELS[0]
HIGHEST = RISK_LEVELS[-1]
_HIGHEST_RANK = len(RISK_LEVELS) - 1


def risk_of(
    policy: Policy, action: Mapping[str, object], server_context: Mapping[str, object] | None
) -> str:
    """The risk level of ``action``; ``server_context`` answers ``$.context`` paths."""
    if not policy.risk:
        return LOWEST
    action_type = action.get("action_type")
    rank = 0
    for entry in policy.risk:
        if RISK_RANK[entry.level] <= rank or not entry.action.matches(action_type):
            continue
        if entry.when is None or eval_expr(entry.when, action, server_context):
            rank = RISK_RANK[entry.level]
            if rank == _HIGHEST_RANK:
                break
    return RISK_LEVELS[rank]


def parse_risk(c: Checker, data: JsonValue, path: Path) -> tuple[RiskEntry, ...] | None:
    return c.each(data, path, _entry)


def _entry(c: Checker, data: JsonValue, path: Path) -> RiskEntry | None:
    before = c.count()
    node = c.mapping(data, path, keys=RISK_KEYS, required=RISK_REQUIRED)
    if node is None:
        return None
    pattern = optional(c, node, path, "action", Checker.string)
    level = optional(c, node, path, "level", parse_risk_level)
    # Built directly: a type checker solves `optional`'s type variable poorly for a union.
    when = parse_when(c, node["when"], (*path, "when")) if "when" in node else None
    if when is not None:
        _refuse_own_risk(c, when, (*path, "when"))
    if c.count() != before or pattern is None or level is None:
        return None
    return RiskEntry(compile_action_pattern(pattern), level, when)


def _refuse_own_risk(c: Checker, when: Expr, path: Path) -> None:
    for match in matches_of(when):
        if match.path.segments[:2] == ("context", "risk"):
            c.fail(path, f"`{match.path.text}` is what `risk` computes; it cannot be read here")


def parse_risk_level(c: Checker, data: JsonValue, path: Path) -> str | None:
    return c.choice(data, path, RISK_LEVELS)
