"""The JSON bodies of the policy routes (admin and owner), built from the use cases' results."""

from __future__ import annotations

from typing import Any

from openleash.domain.models import PolicyRecord
from openleash.service.owner_policies import OwnedPolicy
from openleash.service.policies import PolicyView, policy_view


def stored_policy(policy: PolicyRecord) -> PolicyView:
    """``GET /v1/admin/policies/{id}``: the policy with its YAML."""
    return policy_view(policy, with_yaml=True)


def policy_list(policies: list[PolicyRecord]) -> dict[str, Any]:
    """``GET /v1/admin/policies``."""
    return {"policies": [stored_policy(p) for p in policies]}


def owned_policy(owned: OwnedPolicy) -> dict[str, Any]:
    """An owner's policy with its YAML, where its binding places it (tier, rank) and its mode;
    tier, rank and mode are null for a policy without a binding."""
    return {
        **policy_view(owned.policy, with_yaml=True),
        "applies_to_agent_principal_id": owned.applies_to_agent_principal_id,
        "tier": owned.tier,
        "rank": owned.rank,
        "mode": owned.mode,
    }


def owned_policies(listed: list[OwnedPolicy]) -> dict[str, Any]:
    """``GET /v1/owner/policies``."""
    return {"policies": [owned_policy(p) for p in listed]}


def owned_created(created: PolicyRecord) -> dict[str, Any]:
    """``POST /v1/owner/policies``."""
    return {
        "policy_id": created.policy_id,
        "user_principal_id": created.owner_id,
        "applies_to_agent_principal_id": created.applies_to_agent_principal_id,
    }


def policy_changed(policy_id: str, status: str) -> dict[str, Any]:
    """An update (``updated``) or a deletion (``deleted``) of one policy."""
    return {"policy_id": policy_id, "status": status}


def reordered(ordered: tuple[str, ...]) -> dict[str, Any]:
    """``PUT /v1/owner/policies/order``."""
    return {"reordered": len(ordered)}
