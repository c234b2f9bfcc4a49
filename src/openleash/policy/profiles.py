"""Starter policies an owner can pick at setup: conservative, balanced, autonomous.

Rule ids are those the TypeScript server's profiles use, so decisions, audit records and
matched_rule_id read the same whichever server generated the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from openleash.domain.jsonvalue import JsonOut
from openleash.policy.syntax import dump_yaml

ProfileName = Literal["conservative", "balanced", "autonomous"]
PROFILES: tuple[ProfileName, ...] = ("conservative", "balanced", "autonomous")


@dataclass(frozen=True, slots=True)
class _Settings:
    purchase_max: int
    appointments: bool
    government: bool


_SETTINGS: dict[str, _Settings] = {
    "conservative": _Settings(purchase_max=10_000, appointments=False, government=False),
    "balanced": _Settings(purchase_max=50_000, appointments=True, government=True),
    "autonomous": _Settings(purchase_max=200_000, appointments=True, government=True),
}


def profile_policy_yaml(profile: ProfileName) -> str:
    """The YAML text of a starter policy; raise ``ValueError`` for an unknown profile."""
    settings = _SETTINGS.get(profile)
    if settings is None:
        raise ValueError(f"unknown policy profile `{profile}`; choose one of {', '.join(PROFILES)}")
    return dump_yaml({"version": 1, "default": "deny", "rules": _rules(settings)})


def _rules(settings: _Settings) -> list[dict[str, JsonOut]]:
    rules = _purchase_rules(settings.purchase_max)
    if settings.appointments:
        rules += _appointment_rules()
    rules.append(_government_rule(settings.government))
    rules.append(
        {
            "id": "communication_deny",
            "effect": "deny",
            "action": "communication.*",
            "description": "Messages on the agent's behalf are not allowed",
        }
    )
    return rules


def _purchase_rules(limit: int) -> list[dict[str, JsonOut]]:
    return [
        {
            "id": "purchase_small_allow",
            "effect": "allow",
            "action": "purchase",
            "description": f"Purchases of at most {limit} minor units go ahead, with a proof",
            "constraints": {"amount_max": limit},
            "proof": {"required": True},
        },
        {
            "id": "purchase_large_approval",
            "effect": "allow",
            "action": "purchase",
            "description": f"Purchases above {limit} minor units need the owner's approval",
            "constraints": {"amount_min": limit + 1},
            "obligations": [{"type": "HUMAN_APPROVAL", "params": {"reason": "Large purchase"}}],
        },
    ]


def _appointment_rules() -> list[dict[str, JsonOut]]:
    return [
        {
            "id": "appointment_hairdresser_allow",
            "effect": "allow",
            "action": "appointment.book",
            "description": "Hairdresser appointments may be booked",
            "when": _category_is("hairdresser"),
        },
        {
            "id": "appointment_healthcare",
            "effect": "allow",
            "action": "appointment.book",
            "description": "Healthcare appointments need substantial assurance",
            "when": _category_is("healthcare"),
            "requirements": {"min_assurance_level": "SUBSTANTIAL"},
        },
    ]


def _category_is(category: str) -> dict[str, JsonOut]:
    return {"match": {"path": "$.payload.category", "op": "eq", "value": category}}


def _government_rule(allowed: bool) -> dict[str, JsonOut]:
    if not allowed:
        return {
            "id": "government_deny",
            "effect": "deny",
            "action": "government.*",
            "description": "No dealings with government services",
        }
    return {
        "id": "government_submit",
        "effect": "allow",
        "action": "government.*",
        "description": "Government submissions need high assurance and a proof",
        "requirements": {"min_assurance_level": "HIGH"},
        "proof": {"required": True},
    }
