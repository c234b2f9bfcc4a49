"""`openleash playground`: the six bundled scenarios against the profiles and stored policies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Cli

#: inv §11: what each scenario gives with the balanced profile.
BALANCED = {
    "small_purchase_allowed": ("ALLOW", "purchase_small_allow"),
    "large_purchase_requires_approval": ("REQUIRE_APPROVAL", "purchase_large_approval"),
    "hairdresser_booking_allowed": ("ALLOW", None),
    "doctor_booking_requires_stepup": ("REQUIRE_STEP_UP", None),
    "government_submit_requires_high": ("REQUIRE_STEP_UP", None),
    "communication_new_domain_denied": ("DENY", "communication_deny"),
}


def test_list_names_the_six_scenarios(run: Cli) -> None:
    result = run("playground", "list", store=False)

    assert result.exit_code == 0
    assert sorted(result.output.split()) == sorted(BALANCED)


@pytest.mark.parametrize(("scenario", "expected"), BALANCED.items())
def test_balanced_profile(run: Cli, scenario: str, expected: tuple[str, str | None]) -> None:
    result = run("playground", "run", scenario, "--profile", "balanced", "--json")

    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    decision = answer["decision"]
    assert decision["result"] == expected[0]
    if expected[1]:
        assert decision["matched_rule_id"] == expected[1]
    assert len(answer["action_hash"]) == 64
    assert decision["proof_token"] is None
    assert answer["debug"]["trace"]


def test_run_prints_hash_result_reason_obligations_and_trace(run: Cli) -> None:
    result = run("playground", "run", "large_purchase_requires_approval", store=False)

    assert result.exit_code == 0, result.output
    out = result.output
    assert "policy:       balanced profile" in out
    assert "result:       REQUIRE_APPROVAL" in out
    assert "action hash:  " in out
    assert "reason:" in out
    assert "  - HUMAN_APPROVAL" in out
    assert "MATCH  purchase_large_approval" in out
    assert "communication_deny" in out  # every rule is traced, matched or not
    assert not (run.root / "data").exists()  # nothing stored, no data folder made


def test_conservative_profile_denies_appointments(run: Cli) -> None:
    result = run(
        "playground", "run", "hairdresser_booking_allowed", "--profile", "conservative", "--json"
    )

    assert json.loads(result.output)["decision"]["result"] == "DENY"


def test_policy_file(run: Cli, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\ndefault: allow\nrules: []\n")

    result = run("playground", "run", "communication_new_domain_denied", "--policy", str(policy))

    assert result.exit_code == 0, result.output
    assert "result:       ALLOW" in result.output
    assert "(the policy has no rules)" in result.output


def test_stored_policies_by_id_and_by_default(run: Cli, tmp_path: Path) -> None:
    assert (
        run(
            "init", "--owner-name", "A", "--agent-id", "bot", "--policy-profile", "conservative"
        ).exit_code
        == 0
    )
    allow_all = tmp_path / "allow.yaml"
    allow_all.write_text("version: 1\ndefault: allow\nrules: []\n")
    upserted = run("policy", "upsert", "--file", str(allow_all), "--name", "open")
    assert upserted.exit_code == 0, upserted.output
    listed = json.loads(run("policy", "list", "--json").output)["policies"]
    conservative = next(p["policy_id"] for p in listed if p["name"] != "open")

    latest = run("playground", "run", "hairdresser_booking_allowed")
    by_id = run("playground", "run", "hairdresser_booking_allowed", "--policy-id", conservative)

    assert "result:       ALLOW" in latest.output
    assert "(open), the one added last" in latest.output
    assert "result:       DENY" in by_id.output
    assert f"stored policy {conservative}" in by_id.output


def test_empty_store_falls_back_to_balanced(run: Cli) -> None:
    assert run("keys", "list").exit_code == 0  # makes the store

    result = run("playground", "run", "small_purchase_allowed")

    assert "balanced profile (no policy is stored)" in result.output


def test_unknown_scenario_lists_the_names(run: Cli) -> None:
    result = run("playground", "run", "nope")

    assert result.exit_code == 2
    assert "small_purchase_allowed" in result.output


def test_unknown_policy_id(run: Cli) -> None:
    result = run("playground", "run", "small_purchase_allowed", "--policy-id", "missing")

    assert result.exit_code == 1
    assert "POLICY_NOT_FOUND" in result.stderr


def test_one_policy_source_at_most(run: Cli) -> None:
    result = run(
        "playground", "run", "small_purchase_allowed", "--profile", "balanced", "--policy-id", "x"
    )

    assert result.exit_code == 2
