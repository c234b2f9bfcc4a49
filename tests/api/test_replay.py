"""Replay: recorded decisions, made through the real service over SQLite, re-decided under a
candidate policy at their recorded times, with usage rebuilt from what the candidate allows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from openleash.cli.main import cli
from openleash.domain.errors import OpenLeashError, PolicyError
from openleash.service.replay import ReplayQuery, ReplayReport, replay
from tests.api.conftest import Api
from tests.api.test_limits import buy

T0 = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)

STRICTER = """\
version: 1
default: deny
rules:
  - id: small_purchases
    effect: allow
    action: purchase
    constraints: { amount_max: 5000 }
  - id: large_purchases
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""

BUDGET = """\
version: 1
default: deny
rules:
  - id: daily_budget
    effect: allow
    action: purchase
    limits: [{ spend: 10000, window: 24h }]
"""


def decide_at(api: Api, moment: datetime, amount: int) -> dict[str, Any]:
    api.clock.set(moment)
    return buy(api, amount)


def run_replay(api: Api, candidate: str, **query: Any) -> ReplayReport:
    report: ReplayReport = api.run(
        replay(api.services.store, candidate, ReplayQuery(**query), now=api.clock())
    )
    return report


def test_counts_each_transition_and_keeps_examples(api: Api) -> None:
    small = decide_at(api, T0, 2000)
    large = [decide_at(api, T0 + timedelta(minutes=i + 1), 7000) for i in range(3)]
    assert small["result"] == "ALLOW"
    assert {d["result"] for d in large} == {"ALLOW"}

    report = run_replay(api, STRICTER, examples=2)

    assert report.replayed == 4
    assert report.unchanged == 1
    assert report.transitions == {"ALLOW\u2192REQUIRE_APPROVAL": 3}
    examples = report.examples["ALLOW\u2192REQUIRE_APPROVAL"]
    assert [e.decision_id for e in examples] == [d["decision_id"] for d in large[1:]]
    first = examples[0]
    assert (first.old_rule, first.new_rule) == ("small_purchases", "large_purchases")
    assert first.action_type == "purchase"
    assert first.agent_id == "agent-1"
    assert first.explanation is not None
    assert "`amount_minor` 7000 > `amount_max` 5000" in first.explanation


def test_budgets_count_what_the_candidate_would_have_allowed(api: Api) -> None:
    for i in range(4):
        assert decide_at(api, T0 + timedelta(hours=i), 4000)["result"] == "ALLOW"
    # A day after the first two, the candidate's budget is free again.
    assert decide_at(api, T0 + timedelta(hours=25), 4000)["result"] == "ALLOW"

    report = run_replay(api, BUDGET)

    # 4000 + 4000 fit; 12000 would not, and denied purchases use no budget, so the fourth is
    # denied too; at +25h only the purchase at +1h is in the window.
    assert report.transitions == {"ALLOW\u2192DENY": 2}
    assert report.unchanged == 3
    denied = report.examples["ALLOW\u2192DENY"]
    assert [e.at for e in denied] == ["2026-07-01T11:00:00.000Z", "2026-07-01T12:00:00.000Z"]
    assert denied[0].explanation is not None
    assert "budget: 8000 of 10000 used in the last 24h, this 4000" in denied[0].explanation


def test_since_replays_earlier_decisions_to_rebuild_usage(api: Api) -> None:
    decide_at(api, T0, 6000)
    decide_at(api, T0 + timedelta(hours=2), 6000)

    report = run_replay(api, BUDGET, since="2026-07-01T10:00:00Z")

    assert report.since == "2026-07-01T10:00:00.000Z"
    assert report.replayed == 1
    assert report.warm_up == 1
    # Without the warm-up the 6000 would fit the empty budget and look unchanged.
    assert report.transitions == {"ALLOW\u2192DENY": 1}


def test_since_as_a_span_back_from_now(api: Api) -> None:
    decide_at(api, T0, 100)
    decide_at(api, T0 + timedelta(days=3), 100)
    api.clock.set(T0 + timedelta(days=3, hours=1))

    assert run_replay(api, STRICTER, since="2d").replayed == 1
    assert run_replay(api, STRICTER, since="2026-07-01").replayed == 2
    with pytest.raises(OpenLeashError, match="since must be"):
        run_replay(api, STRICTER, since="last tuesday")


def test_filters_by_agent_and_owner(api: Api) -> None:
    decide_at(api, T0, 100)
    assert run_replay(api, STRICTER, agent="agent-1").replayed == 1
    assert run_replay(api, STRICTER, agent="someone-else").replayed == 0
    assert run_replay(api, STRICTER, owner=api.agent.owner_id).replayed == 1
    assert run_replay(api, STRICTER, owner="no-such-owner").replayed == 0


def test_an_invalid_candidate_is_refused(api: Api) -> None:
    with pytest.raises(PolicyError):
        run_replay(api, "version: 1\ndefault: perhaps\nrules: []\n")


def test_the_cli_prints_transitions_and_examples(api: Api, tmp_path: Path) -> None:
    decide_at(api, T0, 2000)
    decided = decide_at(api, T0 + timedelta(minutes=1), 7000)
    candidate = tmp_path / "stricter.yaml"
    candidate.write_text(STRICTER)
    args = ["policy", "replay", "--candidate", str(candidate), "--data-dir", str(api.data_dir)]

    text = CliRunner().invoke(cli, args, catch_exceptions=False)
    as_json = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)

    assert text.exit_code == 0, text.output
    assert "Replayed 2 decisions under" in text.output
    assert "  unchanged: 1\n" in text.output
    assert "  ALLOW\u2192REQUIRE_APPROVAL: 1\n" in text.output
    assert f"decision {decided['decision_id']}" in text.output
    assert 'was ALLOW by "small_purchases"; now REQUIRE_APPROVAL by "large_purchases"' in (
        text.output
    )
    wire = json.loads(as_json.output)
    assert wire["replayed"] == 2
    assert wire["changed"] == 1
    assert wire["transitions"] == {"ALLOW\u2192REQUIRE_APPROVAL": 1}
    example = wire["examples"]["ALLOW\u2192REQUIRE_APPROVAL"][0]
    assert example["new"] == {"result": "REQUIRE_APPROVAL", "rule": "large_purchases"}
