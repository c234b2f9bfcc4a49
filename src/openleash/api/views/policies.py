"""The JSON bodies of the policy routes (admin and owner), built from the use cases' results."""

from __future__ import annotations

from typing import Literal, TypedDict

from openleash.domain.models import PolicyRecord
from openleash.service.owner_policies import OwnedPolicy


class StoredPolicyJson(TypedDict):
    """``StoredPolicy`` of the document: a policy with its YAML."""

    policy_id: str
    owner_type: str
    owner_id: str
    applies_to_agent_principal_id: str | None
    name: str | None
    description: str | None
    created_at: str
    updated_at: str
    policy_yaml: str


class OwnedPolicyJson(StoredPolicyJson):
    """``OwnerPolicy`` of the document: where its binding places it, and its mode."""

    tier: str | None
    rank: int | None
    mode: str | None


class PolicyListJson(TypedDict):
    """``PolicyList`` of the document."""

    policies: list[StoredPolicyJson]


class OwnedPolicyListJson(TypedDict):
    """``OwnerPolicyList`` of the document."""

    policies: list[OwnedPolicyJson]


class OwnedCreatedJson(TypedDict):
    """``OwnerPolicyCreated`` of the document."""

    policy_id: str
    user_principal_id: str
    applies_to_agent_principal_id: str | None


class PolicyChangedJson(TypedDict):
    """``OwnerPolicyUpdated`` and ``OwnerPolicyDeleted`` of the document."""

    policy_id: str
    status: Literal["updated", "deleted"]


class ReorderedJson(TypedDict):
    """``OwnerPoliciesReordered`` of the document."""

    reordered: int


def stored_policy(policy: PolicyRecord) -> StoredPolicyJson:
    """``GET /v1/admin/policies/{id}``: the policy with its YAML."""
    return {
        "policy_id": policy.policy_id,
        "owner_type": policy.owner_type,
        "owner_id": policy.owner_id,
        "applies_to_agent_principal_id": policy.applies_to_agent_principal_id,
        "name": policy.name,
        "description": policy.description,
        "created_at": policy.created_at,
        "updated_at": policy.updated_at,
        "policy_yaml": policy.policy_yaml,
    }


def policy_list(policies: list[PolicyRecord]) -> PolicyListJson:
    """``GET /v1/admin/policies``."""
    return {"policies": [stored_policy(p) for p in policies]}


def owned_policy(owned: OwnedPolicy) -> OwnedPolicyJson:
    """An owner's policy with its YAML, where its binding places it (tier, rank) and its mode;
    tier, rank and mode are null for a policy without a binding. The binding's target replaces
    the policy's own, in its place."""
    return {
        **stored_policy(owned.policy),
        "applies_to_agent_principal_id": owned.applies_to_agent_principal_id,
        "tier": owned.tier,
        "rank": owned.rank,
        "mode": owned.mode,
    }


def owned_policies(listed: list[OwnedPolicy]) -> OwnedPolicyListJson:
    """``GET /v1/owner/policies``."""
    return {"policies": [owned_policy(p) for p in listed]}


def owned_created(created: PolicyRecord) -> OwnedCreatedJson:
    """``POST /v1/owner/policies``."""
    return {
        "policy_id": created.policy_id,
        "user_principal_id": created.owner_id,
        "applies_to_agent_principal_id": created.applies_to_agent_principal_id,
    }


def policy_changed(policy_id: str, status: Literal["updated", "deleted"]) -> PolicyChangedJson:
    """An update (``updated``) or a deletion (``deleted``) of one policy."""
    return {"policy_id": policy_id, "status": status}


def reordered(ordered: tuple[str, ...]) -> ReorderedJson:
    """``PUT /v1/owner/policies/order``."""
    return {"reordered": len(ordered)}
