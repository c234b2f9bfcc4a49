"""The JSON bodies of approval requests: as filed, as the agent reads one, as the owner reads
them, and the owner's answers."""

from __future__ import annotations

from typing import NotRequired, TypedDict

from openleash.domain.action import ActionDoc
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import ApprovalRequest
from openleash.service.approvals import Approval


class ApprovalCreatedJson(TypedDict):
    """``ApprovalRequestCreated`` of the document."""

    approval_request_id: str
    status: str
    expires_at: str


class AgentApprovalJson(TypedDict):
    """``AgentApprovalRequest`` of the document: the token and its expiry once approved."""

    approval_request_id: str
    status: str
    action_type: str
    action_hash: str
    justification: str | None
    created_at: str
    expires_at: str
    resolved_at: str | None
    denial_reason: str | None
    kind: str
    assurance_level: str | None
    consumed_at: str | None
    approval_token: NotRequired[str]
    approval_token_expires_at: NotRequired[str]


class OwnerApprovalJson(TypedDict):
    """``OwnerApprovalRequest`` of the document."""

    approval_request_id: str
    decision_id: str
    owner_type: str
    owner_id: str
    agent_principal_id: str
    agent_id: str
    kind: str
    min_assurance_level: str | None
    action_type: str
    action_hash: str
    action: ActionDoc
    justification: str | None
    context: JsonObject | None
    matched_rule_id: str | None
    reason: str | None
    explanation: str | None
    status: str
    created_at: str
    expires_at: str
    resolved_at: str | None
    resolved_by: str | None
    denial_reason: str | None
    assurance_level: str | None
    approval_token_expires_at: str | None
    consumed_at: str | None


class OwnerApprovalListJson(TypedDict):
    """``OwnerApprovalRequestList`` of the document."""

    approval_requests: list[OwnerApprovalJson]


class ApprovedJson(TypedDict):
    """``OwnerApprovalApproved`` of the document."""

    approval_request_id: str
    status: str
    approval_token: str | None
    approval_token_expires_at: str | None
    assurance_level: str | None


class DeniedJson(TypedDict):
    """``OwnerApprovalDenied`` of the document."""

    approval_request_id: str
    status: str


def created(request: ApprovalRequest) -> ApprovalCreatedJson:
    """``POST /v1/agent/approval-requests``."""
    return {
        "approval_request_id": request.approval_request_id,
        "status": request.status,
        "expires_at": request.expires_at,
    }


def for_agent(approval: Approval) -> AgentApprovalJson:
    """What the agent reads of its request; the token and its expiry only once approved."""
    request = approval.request
    body: AgentApprovalJson = {
        "approval_request_id": request.approval_request_id,
        "status": approval.status,
        "action_type": request.action_type,
        "action_hash": request.action_hash,
        "justification": request.justification,
        "created_at": request.created_at,
        "expires_at": request.expires_at,
        "resolved_at": request.resolved_at,
        "denial_reason": request.denial_reason,
        "kind": request.kind,
        "assurance_level": request.assurance_level,
        "consumed_at": request.consumed_at,
    }
    if approval.token is not None:
        body["approval_token"] = approval.token.token
        body["approval_token_expires_at"] = approval.token.expires_at
    return body


def for_owner(approval: Approval) -> OwnerApprovalJson:
    """Everything the owner needs to decide; no token (it is shown to the approver once)."""
    request = approval.request
    return {
        "approval_request_id": request.approval_request_id,
        "decision_id": request.decision_id,
        "owner_type": request.owner_type,
        "owner_id": request.owner_id,
        "agent_principal_id": request.agent_principal_id,
        "agent_id": request.agent_id,
        "kind": request.kind,
        "min_assurance_level": request.min_assurance_level,
        "action_type": request.action_type,
        "action_hash": request.action_hash,
        "action": request.action,
        "justification": request.justification,
        "context": request.context,
        "matched_rule_id": request.matched_rule_id,
        "reason": request.reason,
        "explanation": request.explanation,
        "status": approval.status,
        "created_at": request.created_at,
        "expires_at": request.expires_at,
        "resolved_at": request.resolved_at,
        "resolved_by": request.resolved_by,
        "denial_reason": request.denial_reason,
        "assurance_level": request.assurance_level,
        "approval_token_expires_at": request.approval_token_expires_at,
        "consumed_at": request.consumed_at,
    }


def owner_list(approvals: list[Approval]) -> OwnerApprovalListJson:
    """``GET /v1/owner/approval-requests``."""
    return {"approval_requests": [for_owner(a) for a in approvals]}


def approved(approval: Approval) -> ApprovedJson:
    """The owner's approval: the token, shown this once."""
    request = approval.request
    return {
        "approval_request_id": request.approval_request_id,
        "status": approval.status,
        "approval_token": approval.token.token if approval.token else None,
        "approval_token_expires_at": request.approval_token_expires_at,
        "assurance_level": request.assurance_level,
    }


def denied(request: ApprovalRequest) -> DeniedJson:
    """The owner's denial."""
    return {"approval_request_id": request.approval_request_id, "status": request.status}
