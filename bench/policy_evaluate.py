"""Micro benchmark of the policy engine: one decision, in microseconds.

    PYTHONPATH=src python bench/policy_evaluate.py

Measures a five-rule policy whose matching rule has a spend and a count limit (usage queries,
server context and evaluation separately), and the same rules without limits.
"""

from __future__ import annotations

import textwrap
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from openleash.policy import (
    EvalContext,
    Usage,
    build_server_context,
    evaluate,
    parse_policy,
    usage_queries,
)

RULES = """\
version: 1
default: deny
rules:
  - {id: no_deletes, effect: deny, action: data.delete}
  - {id: messages, effect: allow, action: communication.*,
     constraints: {allowed_domains: [family.example]}}
  - id: small
    effect: allow
    action: purchase
    constraints: {amount_max: 10000, currency: [USD, EUR]}
    LIMITS
  - {id: books, effect: allow, action: purchase,
     when: {match: {path: "$.payload.category", op: eq, value: books}}}
  - {id: ask, effect: allow, action: purchase, obligations: [{type: HUMAN_APPROVAL}]}
"""
LIMITS = "limits: [{spend: 50000, window: 24h, by: [currency]}, {count: 30, window: 1h}]"

ACTION: dict[str, Any] = {
    "action_type": "purchase",
    "payload": {"amount_minor": 5000, "currency": "USD", "merchant_domain": "shop.example"},
}
NOW = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)


def microseconds(run: Callable[[], object], number: int = 20_000) -> float:
    return min(timeit.repeat(run, number=number, repeat=15)) / number * 1e6


def main() -> None:
    limited = parse_policy(textwrap.dedent(RULES.replace("LIMITS", LIMITS)))
    plain = parse_policy(textwrap.dedent(RULES.replace("LIMITS", "")))
    queries = usage_queries(limited, ACTION, "agent-1", NOW)
    context = EvalContext(
        now=NOW,
        server_context=build_server_context(limited, ACTION, now=NOW, allowed_before=3),
        usage={query.key: Usage(1000, 2) for query in queries},
    )
    assert evaluate(limited, ACTION, context).matched_rule_id == "small"
    v1_context = EvalContext(now=NOW)
    figures = {
        "evaluate, with limits": lambda: evaluate(limited, ACTION, context),
        "evaluate, same rules without limits": lambda: evaluate(plain, ACTION, v1_context),
        "usage_queries": lambda: usage_queries(limited, ACTION, "agent-1", NOW),
        "build_server_context": lambda: build_server_context(
            limited, ACTION, now=NOW, allowed_before=3
        ),
    }
    for name, run in figures.items():
        print(f"{name:38} {microseconds(run):6.2f} µs")


if __name__ == "__main__":
    main()
