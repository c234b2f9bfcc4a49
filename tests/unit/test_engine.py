"""``openleash.Engine`` decides in-process as the server does, limits included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import openleash
from openleash.domain.errors import OpenLeashError, PolicyError
from openleash.domain.models import Result
from tests.support.actions import action

POLICY = """\
version: 1
default: deny
rules:
  - id: small
    effect: allow
    action: purchase
    constraints: { amount_max: 1000 }
    limits:
      - spend: 2500
        window: 24h
  - id: ask
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def _buy(amount: int) -> dict[str, object]:
    return action("agent-1", "00000000-0000-4000-8000-000000000001", amount_minor=amount)


def test_the_engine_is_exported_and_decides() -> None:
    engine = openleash.Engine.from_yaml(POLICY)
    decided = engine.decide(_buy(500), now=NOW)
    assert decided.result is Result.ALLOW
    assert decided.matched_rule_id == "small"
    assert engine.decide(_buy(5000), now=NOW).result is Result.REQUIRE_APPROVAL


def test_limits_count_what_the_engine_allowed() -> None:
    engine = openleash.Engine.from_yaml(POLICY)
    assert [engine.decide(_buy(1000), now=NOW).result for _ in range(3)] == [
        Result.ALLOW,
        Result.ALLOW,
        Result.REQUIRE_APPROVAL,  # 2000 used; 1000 more would pass the 2500 budget
    ]
    later = NOW + timedelta(hours=24, seconds=1)
    assert engine.decide(_buy(1000), now=later).result is Result.ALLOW
    fresh = openleash.Engine.from_yaml(POLICY)
    assert fresh.decide(_buy(1000), now=NOW, record=False).result is Result.ALLOW
    assert fresh.decide(_buy(1000), now=NOW, record=False).result is Result.ALLOW


def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(PolicyError) as bad_policy:
        openleash.Engine.from_yaml("version: 1\ndefault: maybe\nrules: []\n")
    assert "line 2" in str(bad_policy.value)
    engine = openleash.Engine.from_yaml(POLICY)
    with pytest.raises(OpenLeashError) as bad_action:
        engine.decide({"action_type": "purchase"})
    assert bad_action.value.code == "INVALID_ACTION_REQUEST"
