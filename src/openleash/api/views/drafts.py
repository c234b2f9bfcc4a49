"""The JSON bodies of policy drafts: as the owner reads them, as the proposing agent reads them,
and the answers to proposing, approving and denying."""

from __future__ import annotations

from typing import TypedDict

from openleash.domain.models import PolicyDraft


class DraftSummaryJson(TypedDict):
    """``PolicyDraftSummary`` of the document: a draft in the agent's list, no policy text,
    no target."""

    policy_draft_id: str
    status: str
    name: str | None
    description: str | None
    justification: str | None
    created_at: str
    resolved_at: str | None
    denial_reason: str | None
    resulting_policy_id: str | None


class AgentDraftJson(DraftSummaryJson):
    """``AgentPolicyDraft`` of the document: one draft as the agent that proposed it reads it."""

    policy_yaml: str
    applies_to_agent_principal_id: str | None


class OwnerDraftJson(AgentDraftJson):
    """``OwnerPolicyDraft`` of the document: everything about a draft, for its owner."""

    agent_principal_id: str
    agent_id: str
    owner_type: str
    owner_id: str
    resolved_by: str | None


class OwnerDraftListJson(TypedDict):
    """``OwnerPolicyDraftList`` of the document."""

    policy_drafts: list[OwnerDraftJson]


class AgentDraftListJson(TypedDict):
    """``PolicyDraftList`` of the document."""

    policy_drafts: list[DraftSummaryJson]


class DraftCreatedJson(TypedDict):
    """``PolicyDraftCreated`` of the document."""

    policy_draft_id: str
    status: str
    created_at: str


class DraftApprovedJson(TypedDict):
    """``OwnerDraftApproved`` of the document."""

    policy_draft_id: str
    status: str
    policy_id: str | None
    applies_to_agent_principal_id: str | None


class DraftDeniedJson(TypedDict):
    """``OwnerDraftDenied`` of the document."""

    policy_draft_id: str
    status: str


def for_owner(draft: PolicyDraft) -> OwnerDraftJson:
    """Everything about a draft, for its owner."""
    return {
        "policy_draft_id": draft.policy_draft_id,
        "agent_principal_id": draft.agent_principal_id,
        "agent_id": draft.agent_id,
        "owner_type": draft.owner_type,
        "owner_id": draft.owner_id,
        "status": draft.status,
        "name": draft.name,
        "description": draft.description,
        "policy_yaml": draft.policy_yaml,
        "applies_to_agent_principal_id": draft.applies_to_agent_principal_id,
        "justification": draft.justification,
        "created_at": draft.created_at,
        "resolved_at": draft.resolved_at,
        "resolved_by": draft.resolved_by,
        "denial_reason": draft.denial_reason,
        "resulting_policy_id": draft.resulting_policy_id,
    }


def owner_list(drafts: list[PolicyDraft]) -> OwnerDraftListJson:
    """``GET /v1/owner/policy-drafts``."""
    return {"policy_drafts": [for_owner(d) for d in drafts]}


def for_agent(draft: PolicyDraft) -> AgentDraftJson:
    """One draft as the agent that proposed it reads it: not who owns or resolved it."""
    return {
        "policy_draft_id": draft.policy_draft_id,
        "status": draft.status,
        "name": draft.name,
        "description": draft.description,
        "policy_yaml": draft.policy_yaml,
        "applies_to_agent_principal_id": draft.applies_to_agent_principal_id,
        "justification": draft.justification,
        "created_at": draft.created_at,
        "resolved_at": draft.resolved_at,
        "denial_reason": draft.denial_reason,
        "resulting_policy_id": draft.resulting_policy_id,
    }


def summary(draft: PolicyDraft) -> DraftSummaryJson:
    """A draft in the agent's list: no policy text, no target."""
    return {
        "policy_draft_id": draft.policy_draft_id,
        "status": draft.status,
        "name": draft.name,
        "description": draft.description,
        "justification": draft.justification,
        "created_at": draft.created_at,
        "resolved_at": draft.resolved_at,
        "denial_reason": draft.denial_reason,
        "resulting_policy_id": draft.resulting_policy_id,
    }


def agent_list(drafts: list[PolicyDraft]) -> AgentDraftListJson:
    """``GET /v1/agent/policy-drafts``."""
    return {"policy_drafts": [summary(d) for d in drafts]}


def created(draft: PolicyDraft) -> DraftCreatedJson:
    """``POST /v1/agent/policy-drafts``."""
    return {
        "policy_draft_id": draft.policy_draft_id,
        "status": draft.status,
        "created_at": draft.created_at,
    }


def approved(draft: PolicyDraft) -> DraftApprovedJson:
    """The owner's approval: the policy it created and what it is bound to."""
    return {
        "policy_draft_id": draft.policy_draft_id,
        "status": draft.status,
        "policy_id": draft.resulting_policy_id,
        "applies_to_agent_principal_id": draft.applies_to_agent_principal_id,
    }


def denied(draft: PolicyDraft) -> DraftDeniedJson:
    """The owner's denial."""
    return {"policy_draft_id": draft.policy_draft_id, "status": draft.status}
