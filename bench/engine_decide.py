"""In-process decisions with ``openleash.Engine``: a 20-rule policy, microseconds per decision.

    PYTHONPATH=src python bench/engine_decide.py [--decisions 50000]

Each decision is timed on its own (``perf_counter_ns`` around ``Engine.decide``) and the median,
p90 and p99 are printed. The action matches rule 17 of 20 (so 16 rules are tried and fail
first), is validated as the server validates it, and is recorded (the policy has no limits, so
recording costs nothing); a second run adds a spend limit to the matching rule, with a ledger
that grows by one allowed action per decision.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from openleash import Engine

AGENT = "bench-agent"
OWNER = "00000000-0000-4000-8000-00000000000b"


def policy(with_limit: bool) -> str:
    rules = []
    for i in range(16):
        rules.append(
            f"  - id: rule_{i}\n    effect: allow\n    action: service.op_{i}\n"
            f"    constraints: {{ amount_max: {1000 * (i + 1)}, currency: [USD, EUR] }}\n"
        )
    rules.append("  - id: no_deletes\n    effect: deny\n    action: data.delete\n")
    rules.append(
        "  - id: small_purchases\n    effect: allow\n    action: purchase\n"
        "    constraints: { amount_max: 50000, currency: [USD] }\n"
        + ("    limits:\n      - spend: 1000000000\n        window: 24h\n" if with_limit else "")
    )
    rules.append(
        "  - id: books\n    effect: allow\n    action: purchase\n"
        '    when: { match: { path: "$.payload.category", op: eq, value: books } }\n'
    )
    rules.append(
        "  - id: ask\n    effect: allow\n    action: purchase\n"
        "    obligations: [{ type: HUMAN_APPROVAL }]\n"
    )
    assert len(rules) == 20
    return "version: 1\ndefault: deny\nrules:\n" + "".join(rules)


def action(i: int) -> dict[str, Any]:
    return {
        "action_id": str(uuid.uuid4()),
        "action_type": "purchase",
        "requested_at": "2026-05-04T12:00:00.000Z",
        "principal": {"agent_id": AGENT},
        "subject": {"principal_id": OWNER},
        "payload": {"amount_minor": 100 + i % 1000, "currency": "USD", "item": "paper"},
    }


def run(with_limit: bool, decisions: int) -> dict[str, float]:
    engine = Engine.from_yaml(policy(with_limit))
    start = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
    actions = [action(i) for i in range(decisions)]
    moments = [start + timedelta(milliseconds=i) for i in range(decisions)]
    for i in range(2000):  # warm-up
        engine.decide(actions[i % 100], now=start, record=False)
    timings: list[int] = []
    gc.collect()
    for act, moment in zip(actions, moments, strict=True):
        t0 = time.perf_counter_ns()
        decided = engine.decide(act, now=moment)
        timings.append(time.perf_counter_ns() - t0)
        assert decided.matched_rule_id == "small_purchases", decided
    timings.sort()
    return {
        "median_us": statistics.median(timings) / 1000,
        "p90_us": timings[int(len(timings) * 0.9)] / 1000,
        "p99_us": timings[int(len(timings) * 0.99)] / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=50_000)
    args = parser.parse_args()
    for with_limit in (False, True):
        figures = run(with_limit, args.decisions)
        label = "20 rules, spend limit on the match" if with_limit else "20 rules"
        print(
            f"{label:40s} median {figures['median_us']:6.1f} µs   "
            f"p90 {figures['p90_us']:6.1f} µs   p99 {figures['p99_us']:6.1f} µs"
        )


if __name__ == "__main__":
    main()
