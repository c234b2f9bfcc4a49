"""Small builders shared by the policy tests."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from typing import Any

from openleash.policy import EvalContext, Evaluation, Policy, evaluate, parse_policy

CONTEXT = EvalContext(now=datetime(2024, 1, 15, 10, 30, tzinfo=UTC), default_proof_ttl_seconds=120)


def policy(text: str) -> Policy:
    return parse_policy(textwrap.dedent(text))


def rules_policy(rules_yaml: str, default: str = "deny") -> Policy:
    body = textwrap.indent(textwrap.dedent(rules_yaml), "  ")
    return parse_policy(f"version: 1\ndefault: {default}\nrules:\n{body}")


def action(
    action_type: str = "purchase",
    payload: dict[str, Any] | None = None,
    relying_party: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "action_id": "a0000000-0000-0000-0000-000000000001",
        "action_type": action_type,
        "requested_at": "2024-01-15T10:30:00.000Z",
        "principal": {"agent_id": "demo-agent"},
        "subject": {"principal_id": "b0000000-0000-0000-0000-000000000001"},
        "payload": payload if payload is not None else {},
    }
    if relying_party is not None:
        out["relying_party"] = relying_party
    return out


def decide(p: Policy, a: dict[str, Any], context: EvalContext = CONTEXT) -> Evaluation:
    return evaluate(p, a, context)


def when_policy(expr_yaml: str) -> Policy:
    """A policy whose single allow rule for `*` has the given `when` (flow YAML)."""
    return rules_policy(f"- id: r\n  effect: allow\n  action: '*'\n  when: {expr_yaml}\n")


def holds(expr_yaml: str, payload: dict[str, Any] | None = None, **extra: Any) -> bool:
    """Whether the expression holds for an action with this payload."""
    a = action(payload=payload)
    a.update(extra)
    return decide(when_policy(expr_yaml), a).matched_rule_id == "r"


def match(path: str, op: str, value: Any = ...) -> str:
    """A `match` expression in flow YAML; `value` is written as JSON, which YAML 1.2 reads."""
    parts = [f'path: "{path}"', f"op: {op}"]
    if value is not ...:
        parts.append(f"value: {json.dumps(value)}")
    return "{match: {" + ", ".join(parts) + "}}"
