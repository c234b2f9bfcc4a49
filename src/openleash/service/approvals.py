"""Approval requests: an agent asks its owner to approve one held action (inv §8.1, fixed).

A request must name a decision of the same agent that asked for a human (REQUIRE_APPROVAL or
REQUIRE_STEP_UP), for the same action hash (PROTOCOL §3.9). The owner's answer records the
assurance it achieved; a step-up needs a second factor. The approval token is derived from the
stored answer (deterministic Ed25519 over fixed claims), so no token is ever stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from openleash.crypto import IssuedToken, KeyRing, action_hash, issue_approval_token
from openleash.domain.action import parse_action
from openleash.domain.errors import ForbiddenError, InvalidInputError, NotFoundError, OpenLeashError
from openleash.domain.ids import new_id
from openleash.domain.models import (
    Agent,
    ApprovalRequest,
    ApprovalStatus,
    AssuranceLevel,
    HeldDecision,
    Result,
)
from openleash.policy import trust_of
from openleash.service.agent_auth import AgentCall, record_nonce
from openleash.service.audit import record
from openleash.service.bodies import optional_text
from openleash.service.notify import notify_agent
from openleash.service.options import Options
from openleash.service.owner_auth import (
    OwnerCall,
    factor_attempts,
    passphrase_confirmed,
    second_factor,
)
from openleash.service.ports import Store, Transaction
from openleash.service.runtime import Runtime
from openleash.service.timefmt import iso, parse_timestamp

STATUSES = tuple(ApprovalStatus)
#: How many stored PENDING requests a PENDING or EXPIRED listing looks at.
SCAN_PENDING = 2000


def effective_status(request: ApprovalRequest, now: datetime) -> str:
    """PENDING past its expiry reads as EXPIRED (nothing sweeps the store)."""
    if request.status == ApprovalStatus.PENDING and request.expires_at <= iso(now):
        return ApprovalStatus.EXPIRED
    return request.status


def approval_token(keyring: KeyRing, request: ApprovalRequest) -> IssuedToken | None:
    """The token of an APPROVED request: the same claims (and bytes) every time it is asked for."""
    if request.status != ApprovalStatus.APPROVED or not request.resolved_at:
        return None
    resolved = parse_timestamp(request.resolved_at)
    expires = parse_timestamp(request.approval_token_expires_at or "")
    if resolved is None or expires is None:
        return None
    ttl = round((expires - resolved).total_seconds())
    return issue_approval_token(
        keyring.active(),
        now=resolved,
        ttl_seconds=max(ttl, 1),
        approval_request_id=request.approval_request_id,
        owner_type=request.owner_type,
        owner_id=request.owner_id,
        agent_id=request.agent_id,
        action_type=request.action_type,
        action_hash=request.action_hash,
        agent_principal_id=request.agent_principal_id,
    )


# -- the agent's side ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApprovalAsk:
    """An agent's request for its owner's approval of a held decision."""

    decision_id: str
    action: dict[str, Any]
    justification: str | None
    context: dict[str, Any] | None

    @classmethod
    def from_body(cls, body: Any) -> ApprovalAsk:
        if not isinstance(body, dict) or not body.get("decision_id") or body.get("action") is None:
            raise InvalidInputError("INVALID_REQUEST", "decision_id and action are required")
        decision_id = body["decision_id"]
        if not isinstance(decision_id, str):
            raise InvalidInputError("INVALID_REQUEST", "decision_id must be a string")
        action = parse_action(body["action"])
        justification = optional_text(body, "justification")
        context = body.get("context")
        if context is not None and not isinstance(context, dict):
            raise InvalidInputError("INVALID_REQUEST", "context must be an object")
        return cls(decision_id, action, justification, context)


async def create_request(
    store: Store, call: AgentCall, body: Any, options: Options
) -> dict[str, Any]:
    """File an approval (or step-up) request for a decision of this agent that was held; the
    same decision asked again returns the request already filed."""
    ask = ApprovalAsk.from_body(body)
    agent, now = call.agent, call.now
    if ask.action["principal"]["agent_id"] != agent.agent_id:
        raise ForbiddenError(
            "AGENT_MISMATCH", "principal.agent_id must equal the signing agent (X-Agent-Id)"
        )
    digest = action_hash(ask.action)
    async with store.transaction() as tx:
        await record_nonce(tx, call, options)
        held = await _held_decision(tx, agent, ask.decision_id, digest)
        existing = await tx.list_approval_requests(decision_id=ask.decision_id, limit=1)
        if existing:
            # The same decision asked again (a retry): the request already filed answers it.
            return _created_view(existing[0])
        request = _new_request(agent, ask, held, digest, now, options)
        await tx.add_approval_request(request)
        await record(
            tx,
            now,
            "APPROVAL_REQUEST_CREATED",
            agent.agent_principal_id,
            approval_request_id=request.approval_request_id,
            decision_id=ask.decision_id,
            kind=request.kind,
            action_type=request.action_type,
            action_hash=digest,
            agent_principal_id=agent.agent_principal_id,
            owner_id=agent.owner_id,
        )
    return _created_view(request)


async def _held_decision(
    tx: Transaction, agent: Agent, decision_id: str, digest: str
) -> HeldDecision:
    """The held decision ``decision_id`` of ``agent``, for the action whose hash is ``digest``."""
    held = await tx.get_held_decision(decision_id)
    if held is None or held.agent_principal_id != agent.agent_principal_id:
        raise InvalidInputError(
            "DECISION_NOT_FOUND",
            "decision_id must name a decision of this agent that required approval or "
            "step-up (the decision_id of that /v1/authorize response)",
        )
    if held.action_hash != digest:
        raise InvalidInputError(
            "DECISION_MISMATCH",
            "The action differs from the one that was decided: send the identical action "
            "(same action_id and requested_at)",
            {"expected_action_hash": held.action_hash, "action_hash": digest},
        )
    return held


def _new_request(
    agent: Agent,
    ask: ApprovalAsk,
    held: HeldDecision,
    digest: str,
    now: datetime,
    options: Options,
) -> ApprovalRequest:
    return ApprovalRequest(
        approval_request_id=new_id(),
        owner_type=agent.owner_type,
        owner_id=agent.owner_id,
        agent_principal_id=agent.agent_principal_id,
        agent_id=agent.agent_id,
        decision_id=ask.decision_id,
        action=ask.action,
        action_hash=digest,
        action_type=ask.action["action_type"],
        justification=ask.justification,
        status=ApprovalStatus.PENDING,
        created_at=iso(now),
        expires_at=iso(now + timedelta(seconds=options.approval_request_ttl_seconds)),
        kind="step_up" if held.result == Result.REQUIRE_STEP_UP else "approval",
        min_assurance_level=held.min_assurance_level,
        matched_rule_id=held.matched_rule_id,
        reason=held.reason,
        explanation=held.explanation,
        context=ask.context,
    )


def _created_view(request: ApprovalRequest) -> dict[str, Any]:
    return {
        "approval_request_id": request.approval_request_id,
        "status": request.status,
        "expires_at": request.expires_at,
    }


async def get_for_agent(
    store: Store, keyring: KeyRing, call: AgentCall, approval_request_id: str, options: Options
) -> dict[str, Any]:
    async with store.transaction() as tx:
        await record_nonce(tx, call, options)
        request = await tx.get_approval_request(approval_request_id)
    if request is None or request.agent_principal_id != call.agent.agent_principal_id:
        raise NotFoundError("NOT_FOUND", f"Approval request {approval_request_id} not found")
    view: dict[str, Any] = {
        "approval_request_id": request.approval_request_id,
        "status": effective_status(request, call.now),
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
    token = approval_token(keyring, request)
    if token is not None:
        view["approval_token"] = token.token
        view["approval_token_expires_at"] = token.expires_at
    return view


# -- the owner's side ---------------------------------------------------------------------------


async def counterparty_trust(
    runtime: Runtime, agent_id: str, agent_principal_id: str, domain: str | None
) -> str | None:
    """How far the owner trusts the counterparty of a request, by the agent's current policy;
    None when that agent registration no longer has one."""
    snap = await runtime.snapshot()
    agent = snap.agent(agent_id)
    # The same registration that asked (a re-enrolled agent id may have another policy).
    if agent is None or agent.agent_principal_id != agent_principal_id:
        return None
    try:
        effective = await runtime.effective_policy(snap, agent)
    except OpenLeashError:
        return None
    return None if effective is None else trust_of(effective.policy, domain)


def owner_view(request: ApprovalRequest, now: datetime) -> dict[str, Any]:
    """Everything the owner needs to decide; no token (it is shown to the approver once)."""
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
        "status": effective_status(request, now),
        "created_at": request.created_at,
        "expires_at": request.expires_at,
        "resolved_at": request.resolved_at,
        "resolved_by": request.resolved_by,
        "denial_reason": request.denial_reason,
        "assurance_level": request.assurance_level,
        "approval_token_expires_at": request.approval_token_expires_at,
        "consumed_at": request.consumed_at,
    }


async def list_for_owner(
    store: Store,
    call: OwnerCall,
    *,
    status: str | None,
    limit: int,
    agent_principal_id: str | None = None,
) -> dict[str, Any]:
    if status is not None and status not in STATUSES:
        raise InvalidInputError("INVALID_REQUEST", f"status must be one of {', '.join(STATUSES)}")
    if not 1 <= limit <= 500:
        raise InvalidInputError("INVALID_REQUEST", "limit must be between 1 and 500")
    # EXPIRED is not stored: it is PENDING past expiry.
    stored = ApprovalStatus.PENDING if status == ApprovalStatus.EXPIRED else status
    async with store.read() as tx:
        # PENDING and EXPIRED share the stored status: look further so the page stays full.
        found = await tx.list_approval_requests(
            owner_id=call.owner_id,
            agent_principal_id=agent_principal_id,
            status=stored,
            limit=limit if stored != ApprovalStatus.PENDING else max(limit, SCAN_PENDING),
        )
    views = [owner_view(r, call.now) for r in found]
    if status is not None:
        views = [v for v in views if v["status"] == status]
    return {"approval_requests": views[:limit]}


async def _owned(tx: Transaction, call: OwnerCall, approval_request_id: str) -> ApprovalRequest:
    request = await tx.get_approval_request(approval_request_id)
    if request is None or request.owner_id != call.owner_id:
        raise NotFoundError("NOT_FOUND", f"Approval request {approval_request_id} not found")
    return request


async def get_for_owner(store: Store, call: OwnerCall, approval_request_id: str) -> dict[str, Any]:
    async with store.read() as tx:
        request = await _owned(tx, call, approval_request_id)
    return owner_view(request, call.now)


async def approve(
    store: Store,
    keyring: KeyRing,
    call: OwnerCall,
    approval_request_id: str,
    body: Any,
    options: Options,
) -> dict[str, Any]:
    """Approve once. A step-up request needs the second factor (and the passphrase for HIGH)."""
    async with factor_attempts(store, call, options):
        passphrase_ok = await passphrase_confirmed(store, call, body)
        resolved, achieved, token_expires = await _approve(
            store, call, approval_request_id, body, options, passphrase_ok
        )
    token = approval_token(keyring, resolved)
    return {
        "approval_request_id": approval_request_id,
        "status": ApprovalStatus.APPROVED,
        "approval_token": token.token if token else None,
        "approval_token_expires_at": token_expires,
        "assurance_level": achieved,
    }


async def _approve(
    store: Store,
    call: OwnerCall,
    approval_request_id: str,
    body: Any,
    options: Options,
    passphrase_ok: bool,
) -> tuple[ApprovalRequest, str, str]:
    now = call.now
    async with store.transaction() as tx:
        request = await _owned(tx, call, approval_request_id)
        # A rule may ask for both an approval and an assurance level: the answer must reach
        # the level, or the approval could never be used (the policy would still ask).
        level = request.min_assurance_level or (
            AssuranceLevel.SUBSTANTIAL if request.kind == "step_up" else None
        )
        achieved = await second_factor(
            tx, call.owner_id, body, now, options, required_level=level, passphrase_ok=passphrase_ok
        )
        _check_pending(request, now)
        token_expires = iso(now + timedelta(seconds=options.approval_token_ttl_seconds))
        if not await tx.resolve_approval_request(
            approval_request_id,
            status=ApprovalStatus.APPROVED,
            resolved_at=iso(now),
            resolved_by=call.owner_id,
            assurance_level=achieved,
            approval_token_expires_at=token_expires,
        ):
            raise InvalidInputError("INVALID_STATUS", "The request was resolved meanwhile")
        resolved = await _owned(tx, call, approval_request_id)
        await _announce(
            tx,
            call,
            request,
            ApprovalStatus.APPROVED,
            audit={"kind": request.kind, "assurance_level": achieved},
            event={"approval_token_expires_at": token_expires},
        )
    return resolved, achieved, token_expires


async def deny(
    store: Store, call: OwnerCall, approval_request_id: str, body: Any, options: Options
) -> dict[str, Any]:
    reason = optional_text(body, "reason")
    now = call.now
    async with factor_attempts(store, call, options), store.transaction() as tx:
        request = await _owned(tx, call, approval_request_id)
        await second_factor(tx, call.owner_id, body, now, options)
        if request.status != ApprovalStatus.PENDING:
            raise InvalidInputError(
                "INVALID_STATUS", f"Cannot deny request with status {request.status}"
            )
        if not await tx.resolve_approval_request(
            approval_request_id,
            status=ApprovalStatus.DENIED,
            resolved_at=iso(now),
            resolved_by=call.owner_id,
            denial_reason=reason,
        ):
            raise InvalidInputError("REQUEST_EXPIRED", "The request has expired")
        await _announce(
            tx,
            call,
            request,
            ApprovalStatus.DENIED,
            audit={"denial_reason": reason},
            event={"denial_reason": reason},
        )
    return {"approval_request_id": approval_request_id, "status": ApprovalStatus.DENIED}


async def _announce(
    tx: Transaction,
    call: OwnerCall,
    request: ApprovalRequest,
    status: ApprovalStatus,
    *,
    audit: dict[str, Any],
    event: dict[str, Any],
) -> None:
    """The audit record of the owner's answer, and the event its agent's webhook receives."""
    await record(
        tx,
        call.now,
        f"APPROVAL_REQUEST_{status}",
        call.owner_id,
        approval_request_id=request.approval_request_id,
        decision_id=request.decision_id,
        **audit,
        action_type=request.action_type,
        agent_principal_id=request.agent_principal_id,
        owner_id=call.owner_id,
    )
    await notify_agent(
        tx,
        await tx.get_agent(request.agent_principal_id),
        f"approval_request.{status.lower()}",
        {
            "approval_request_id": request.approval_request_id,
            "status": status,
            **event,
            "action_type": request.action_type,
        },
        call.now,
    )


def _check_pending(request: ApprovalRequest, now: datetime) -> None:
    if request.status != ApprovalStatus.PENDING:
        raise InvalidInputError(
            "INVALID_STATUS", f"Cannot approve request with status {request.status}"
        )
    if request.expires_at <= iso(now):
        raise InvalidInputError(
            "REQUEST_EXPIRED", "The request has expired; the agent must ask again"
        )
