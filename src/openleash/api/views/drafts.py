"""The JSON bodies of policy drafts: as the owner reads them, as the proposing agent reads them,
and the answers to proposing, approving and denying."""

from __future__ import annotations

from typing import Any

from openleash.domain.models import PolicyDraft

#: The fields each reader sees, in the order the wire gives them.
_FOR_OWNER = (
    "policy_draft_id",
    "agent_principal_id",
    "agent_id",
    "owner_type",
    "owner_id",
    "status",
    "name",
    "description",
    "policy_yaml",
    "applies_to_agent_principal_id",
    "justification",
    "created_at",
    "resolved_at",
    "resolved_by",
    "denial_reason",
    "resulting_policy_id",
)
#: The proposing agent: not who owns or resolved it.
_FOR_AGENT = tuple(
    name
    for name in _FOR_OWNER
    if name not in ("agent_principal_id", "agent_id", "owner_type", "owner_id", "resolved_by")
)
#: A draft in the agent's list: no policy text, no target.
_SUMMARY = tuple(
    name for name in _FOR_AGENT if name not in ("policy_yaml", "applies_to_agent_principal_id")
)


def _fields(draft: PolicyDraft, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(draft, name) for name in names}


def for_owner(draft: PolicyDraft) -> dict[str, Any]:
    """Everything about a draft, for its owner."""
    return _fields(draft, _FOR_OWNER)


def owner_list(drafts: list[PolicyDraft]) -> dict[str, Any]:
    """``GET /v1/owner/policy-drafts``."""
    return {"policy_drafts": [for_owner(d) for d in drafts]}


def for_agent(draft: PolicyDraft) -> dict[str, Any]:
    """One draft as the agent that proposed it reads it: not who owns or resolved it."""
    return _fields(draft, _FOR_AGENT)


def summary(draft: PolicyDraft) -> dict[str, Any]:
    """A draft in the agent's list: no policy text, no target."""
    return _fields(draft, _SUMMARY)


def agent_list(drafts: list[PolicyDraft]) -> dict[str, Any]:
    """``GET /v1/agent/policy-drafts``."""
    return {"policy_drafts": [summary(d) for d in drafts]}


def created(draft: PolicyDraft) -> dict[str, Any]:
    """``POST /v1/agent/policy-drafts``."""
    return {
        "policy_draft_id": draft.policy_draft_id,
        "status": draft.status,
        "created_at": draft.created_at,
    }


def approved(draft: PolicyDraft) -> dict[str, Any]:
    """The owner's approval: the policy it created and what it is bound to."""
    return {
        "policy_draft_id": draft.policy_draft_id,
        "status": draft.status,
        "policy_id": draft.resulting_policy_id,
        "applies_to_agent_principal_id": draft.applies_to_agent_principal_id,
    }


def denied(draft: PolicyDraft) -> dict[str, Any]:
    """The owner's denial."""
    return {"policy_draft_id": draft.policy_draft_id, "status": draft.status}
