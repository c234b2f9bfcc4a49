"""Starter profiles, and the bundled playground scenarios against the balanced one."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from openleash.domain.action import parse_action
from openleash.domain.models import Result
from openleash.policy import PROFILES, DefaultEffect, parse_policy, profile_policy_yaml

from .helpers import decide

SCENARIOS = {
    "small_purchase_allowed": (Result.ALLOW, "purchase_small_allow", True),
    "large_purchase_requires_approval": (Result.REQUIRE_APPROVAL, "purchase_large_approval", False),
    "hairdresser_booking_allowed": (Result.ALLOW, "appointment_hairdresser_allow", False),
    "doctor_booking_requires_stepup": (Result.REQUIRE_STEP_UP, "appointment_healthcare", True),
    "government_submit_requires_high": (Result.REQUIRE_STEP_UP, "government_submit", True),
    "communication_new_domain_denied": (Result.DENY, "communication_deny", False),
}


def scenario(name: str) -> dict[str, Any]:
    text = resources.files("openleash.playground").joinpath(f"{name}.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_the_bundle_holds_exactly_the_six_scenarios() -> None:
    files = {
        entry.name.removesuffix(".json")
        for entry in resources.files("openleash.playground").iterdir()
        if entry.name.endswith(".json")
    }
    assert files == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_decide_as_documented_under_the_balanced_profile(name: str) -> None:
    expected_result, expected_rule, expected_proof = SCENARIOS[name]
    action = parse_action(scenario(name))  # also proves the scenario is a valid request
    evaluation = decide(parse_policy(profile_policy_yaml("balanced")), action)
    assert evaluation.result is expected_result
    assert evaluation.matched_rule_id == expected_rule
    assert evaluation.proof_required is expected_proof


def test_scenarios_use_the_documented_identifiers() -> None:
    for n, name in enumerate(
        [
            "small_purchase_allowed",
            "large_purchase_requires_approval",
            "hairdresser_booking_allowed",
            "doctor_booking_requires_stepup",
            "government_submit_requires_high",
            "communication_new_domain_denied",
        ],
        start=1,
    ):
        data = scenario(name)
        assert data["action_id"] == f"a0000000-0000-0000-0000-{n:012d}"
        assert data["principal"] == {"agent_id": "demo-agent"}
        assert data["subject"] == {"principal_id": "b0000000-0000-0000-0000-000000000001"}
        assert data["requested_at"] == "2024-01-15T10:30:00.000Z"


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_parse_and_share_their_shape(profile: str) -> None:
    policy = parse_policy(profile_policy_yaml(profile))  # type: ignore[arg-type]  # str from PROFILES
    ids = [r.id for r in policy.rules]
    assert policy.default is DefaultEffect.DENY
    assert ids[:2] == ["purchase_small_allow", "purchase_large_approval"]
    assert ids[-1] == "communication_deny"
    small, large = policy.rules[:2]
    assert small.constraints is not None
    assert large.constraints is not None
    assert large.constraints.amount_min == (small.constraints.amount_max or 0) + 1
    assert small.proof is not None
    assert small.proof.required is True
    assert large.obligations is not None
    assert large.obligations[0].type == "HUMAN_APPROVAL"


@pytest.mark.parametrize(
    ("profile", "limit", "ids"),
    [
        (
            "conservative",
            10_000,
            [
                "purchase_small_allow",
                "purchase_large_approval",
                "government_deny",
                "communication_deny",
            ],
        ),
        (
            "balanced",
            50_000,
            [
                "purchase_small_allow",
                "purchase_large_approval",
                "appointment_hairdresser_allow",
                "appointment_healthcare",
                "government_submit",
                "communication_deny",
            ],
        ),
        (
            "autonomous",
            200_000,
            [
                "purchase_small_allow",
                "purchase_large_approval",
                "appointment_hairdresser_allow",
                "appointment_healthcare",
                "government_submit",
                "communication_deny",
            ],
        ),
    ],
)
def test_profile_contents(profile: Any, limit: int, ids: list[str]) -> None:
    policy = parse_policy(profile_policy_yaml(profile))
    assert [r.id for r in policy.rules] == ids
    assert policy.rules[0].constraints is not None
    assert policy.rules[0].constraints.amount_max == limit


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown policy profile"):
        profile_policy_yaml("reckless")  # type: ignore[arg-type]  # proving the refusal
