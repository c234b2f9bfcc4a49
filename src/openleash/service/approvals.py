"""Approval requests: an agent asks its owner to approve one held action (inv §8.1, fixed).

A request must name a decision of the same agent that asked for a human (REQUIRE_APPROVAL or
REQUIRE_STEP_UP), for the same action hash (PROTOCOL §3.9). The owner's answer records the
assurance it achieved; a step-up needs a second factor. The approval token is derived from the
stored answer (deterministic Ed25519 over fixed claims), so no token is ever stored.

:class:`Approvals` is the use case, built once (:mod:`openleash.bootstrap`); it takes typed
commands and returns domain records or :class:`Approval`; the API renders them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from openleash.crypto import IssuedToken, KeyRing, action_hash, issue_approval_token
from openleash.domain.action import ActionDoc, parse_action
from openleash.domain.errors import ForbiddenError, InvalidInputError, NotFoundError, OpenLeashError
from openleash.domain.ids import new_id
from openleash.domain.jsonvalue import JsonObject, JsonValue
from openleash.domain.models import (
    Agent,
    ApprovalRequest,
    ApprovalStatus,
    AssuranceLevel,
    HeldDecision,
    Result,
)
from openleash.domain.timefmt import iso_ms, parse_timestamp
from openleash.policy import trust_of
from openleash.service.agent_auth import AgentCall, record_nonce
from openleash.service.audit import record
from openleash.service.bodies import Body, action_agent_id, optional_text
from openleash.service.notify import notify_agent
from openleash.service.options import Options
from openleash.service.owner_auth import OwnerCall
from openleash.service.owner_factor import (
    Denial,
    FactorProof,
    FactorTx,
    factor_attempts,
    passphrase_confirmed,
    second_factor,
)
from openleash.service.ports import (
    AgentRepo,
    ApprovalRepo,
    HeldDecisionRepo,
    NonceRepo,
    Units,
    WebhookOutbox,
)
from openleash.service.runtime import Runtime

STATUSES = tuple(ApprovalStatus)
#: How many stored PENDING requests a PENDING or EXPIRED listing looks at.
SCAN_PENDING = 2000


class ApprovalsTx(
    ApprovalRepo, HeldDecisionRepo, AgentRepo, NonceRepo, FactorTx, WebhookOutbox, Protocol
):
    """The roles of the store the approvals use case touches."""


def effective_status(request: ApprovalRequest, now: datetime) -> ApprovalStatus:
    """PENDING past its expiry reads as EXPIRED (nothing sweeps the store)."""
    if request.status == ApprovalStatus.PENDING and request.expires_at <= iso_ms(now):
        return ApprovalStatus.EXPIRED
    return ApprovalStatus(request.status)


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


@dataclass(frozen=True, slots=True)
class Approval:
    """A request as read at a moment: ``status`` is its effective status then (EXPIRED for a
    PENDING one past its expiry); ``token`` its approval token, where the reader is given it."""

    request: ApprovalRequest
    status: ApprovalStatus
    token: IssuedToken | None = None


@dataclass(frozen=True, slots=True)
class ApprovalAsk:
    """An agent's request for its owner's approval of a held decision."""

    decision_id: str
    action: ActionDoc
    justification: str | None
    context: JsonObject | None

    @classmethod
    def from_body(cls, body: Body) -> ApprovalAsk:
        decision_id, raw_action = body.get("decision_id"), body.get("action")
        if not decision_id or raw_action is None:
            raise InvalidInputError("INVALID_REQUEST", "decision_id and action are required")
        if not isinstance(decision_id, str):
            raise InvalidInputError("INVALID_REQUEST", "decision_id must be a string")
        action = parse_action(raw_action)
        justification = optional_text(body, "justification")
        context = body.get("context")
        if context is not None and not isinstance(context, dict):
            raise InvalidInputError("INVALID_REQUEST", "context must be an object")
        return cls(decision_id, action, justification, context)


class Approvals:
    """Agents ask for their owner's approval of a held decision and read their requests; owners
    list, read, approve (an approval token follows) and deny them."""

    def __init__(self, store: Units[ApprovalsTx], runtime: Runtime, options: Options) -> None:
        self._store = store
        self._runtime = runtime
        self._options = options

    async def _keyring(self) -> KeyRing:
        return (await self._runtime.snapshot()).keyring

    # -- the agent's side -----------------------------------------------------------------------

    async def ask(self, call: AgentCall, ask: ApprovalAsk) -> ApprovalRequest:
        """File an approval (or step-up) request for a decision of this agent that was held;
        the same decision asked again returns the request already filed."""
        agent, now = call.agent, call.now
        if action_agent_id(ask.action) != agent.agent_id:
            raise ForbiddenError(
                "AGENT_MISMATCH", "principal.agent_id must equal the signing agent (X-Agent-Id)"
            )
        digest = action_hash(ask.action)
        async with self._store.transaction() as tx:
            await record_nonce(tx, call, self._options)
            held = await _held_decision(tx, agent, ask.decision_id, digest)
            existing = await tx.list_approval_requests(decision_id=ask.decision_id, limit=1)
            if existing:
                # The same decision asked again (a retry): the request already filed answers it.
                return existing[0]
            request = _new_request(agent, ask, held, digest, now, self._options)
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
        return request

    async def for_agent(self, call: AgentCall, approval_request_id: str) -> Approval:
        """One request of the calling agent, with its approval token once approved."""
        async with self._store.transaction() as tx:
            await record_nonce(tx, call, self._options)
            request = await tx.get_approval_request(approval_request_id)
        if request is None or request.agent_principal_id != call.agent.agent_principal_id:
            raise NotFoundError("NOT_FOUND", f"Approval request {approval_request_id} not found")
        token = approval_token(await self._keyring(), request)
        return Approval(request, effective_status(request, call.now), token)

    # -- the owner's side -----------------------------------------------------------------------

    async def counterparty_trust(
        self, agent_id: str, agent_principal_id: str, domain: str | None
    ) -> str | None:
        """How far the owner trusts the counterparty of a request, by the agent's current
        policy; None when that agent registration no longer has one."""
        snap = await self._runtime.snapshot()
        agent = snap.agent(agent_id)
        # The same registration that asked (a re-enrolled agent id may have another policy).
        if agent is None or agent.agent_principal_id != agent_principal_id:
            return None
        try:
            effective = await self._runtime.effective_policy(snap, agent)
        except OpenLeashError:
            return None
        return None if effective is None else trust_of(effective.policy, domain)

    async def list_for_owner(
        self,
        call: OwnerCall,
        *,
        status: str | None,
        limit: int,
        agent_principal_id: str | None = None,
    ) -> list[Approval]:
        """The owner's requests, newest first: at most ``limit`` (1 to 500), of ``status`` (by
        effective status) and of one agent registration when given. No tokens."""
        if status is not None and status not in STATUSES:
            raise InvalidInputError(
                "INVALID_REQUEST", f"status must be one of {', '.join(STATUSES)}"
            )
        if not 1 <= limit <= 500:
            raise InvalidInputError("INVALID_REQUEST", "limit must be between 1 and 500")
        # EXPIRED is not stored: it is PENDING past expiry.
        stored = ApprovalStatus.PENDING if status == ApprovalStatus.EXPIRED else status
        async with self._store.read() as tx:
            # PENDING and EXPIRED share the stored status: look further so the page stays full.
            found = await tx.list_approval_requests(
                owner_id=call.owner_id,
                agent_principal_id=agent_principal_id,
                status=stored,
                limit=limit if stored != ApprovalStatus.PENDING else max(limit, SCAN_PENDING),
            )
        read = [Approval(r, effective_status(r, call.now)) for r in found]
        if status is not None:
            read = [a for a in read if a.status == status]
        return read[:limit]

    async def for_owner(self, call: OwnerCall, approval_request_id: str) -> Approval:
        """One request of the owner; no token (it is shown to the approver once)."""
        async with self._store.read() as tx:
            request = await _owned(tx, call, approval_request_id)
        return Approval(request, effective_status(request, call.now))

    async def approve(
        self, call: OwnerCall, approval_request_id: str, proof: FactorProof
    ) -> Approval:
        """Approve once: the resolved request with its token. A step-up request needs the
        second factor (and the passphrase for HIGH)."""
        async with factor_attempts(self._store, call, self._options):
            passphrase_ok = await passphrase_confirmed(self._store, call, proof)
            resolved = await self._approve(call, approval_request_id, proof, passphrase_ok)
        token = approval_token(await self._keyring(), resolved)
        return Approval(resolved, ApprovalStatus.APPROVED, token)

    async def _approve(
        self, call: OwnerCall, approval_request_id: str, proof: FactorProof, passphrase_ok: bool
    ) -> ApprovalRequest:
        now, options = call.now, self._options
        async with self._store.transaction() as tx:
            request = await _owned(tx, call, approval_request_id)
            # A rule may ask for both an approval and an assurance level: the answer must reach
            # the level, or the approval could never be used (the policy would still ask).
            level = request.min_assurance_level or (
                AssuranceLevel.SUBSTANTIAL if request.kind == "step_up" else None
            )
            achieved = await second_factor(
                tx, call.owner_id, proof, now, options, required_level=level,
                passphrase_ok=passphrase_ok,
            )  # fmt: skip
            _check_pending(request, now)
            token_expires = iso_ms(now + timedelta(seconds=options.approval_token_ttl_seconds))
            await tx.resolve_approval_request(
                approval_request_id,
                status=ApprovalStatus.APPROVED,
                resolved_at=iso_ms(now),
                resolved_by=call.owner_id,
                assurance_level=achieved,
                approval_token_expires_at=token_expires,
            )
            resolved = await _owned(tx, call, approval_request_id)
            await _announce(
                tx,
                call,
                request,
                ApprovalStatus.APPROVED,
                audit={"kind": request.kind, "assurance_level": achieved},
                event={"approval_token_expires_at": token_expires},
            )
        return resolved

    async def deny(
        self, call: OwnerCall, approval_request_id: str, denial: Denial
    ) -> ApprovalRequest:
        """Deny a pending request: the request as resolved."""
        now, reason = call.now, denial.reason
        async with (
            factor_attempts(self._store, call, self._options),
            self._store.transaction() as tx,
        ):
            request = await _owned(tx, call, approval_request_id)
            await second_factor(tx, call.owner_id, denial.proof, now, self._options)
            if request.status != ApprovalStatus.PENDING:
                raise InvalidInputError(
                    "INVALID_STATUS", f"Cannot deny request with status {request.status}"
                )
            await tx.resolve_approval_request(
                approval_request_id,
                status=ApprovalStatus.DENIED,
                resolved_at=iso_ms(now),
                resolved_by=call.owner_id,
                denial_reason=reason,
            )
            await _announce(
                tx,
                call,
                request,
                ApprovalStatus.DENIED,
                audit={"denial_reason": reason},
                event={"denial_reason": reason},
            )
        return replace(
            request,
            status=ApprovalStatus.DENIED,
            resolved_at=iso_ms(now),
            resolved_by=call.owner_id,
            denial_reason=reason,
        )


async def _held_decision(
    tx: ApprovalsTx, agent: Agent, decision_id: str, digest: str
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
    action_type = ask.action["action_type"]  # a non-empty string in every parsed action
    return ApprovalRequest(
        approval_request_id=new_id(),
        owner_type=agent.owner_type,
        owner_id=agent.owner_id,
        agent_principal_id=agent.agent_principal_id,
        agent_id=agent.agent_id,
        decision_id=ask.decision_id,
        action=ask.action,
        action_hash=digest,
        action_type=action_type if isinstance(action_type, str) else str(action_type),
        justification=ask.justification,
        status=ApprovalStatus.PENDING,
        created_at=iso_ms(now),
        expires_at=iso_ms(now + timedelta(seconds=options.approval_request_ttl_seconds)),
        kind="step_up" if held.result == Result.REQUIRE_STEP_UP else "approval",
        min_assurance_level=held.min_assurance_level,
        matched_rule_id=held.matched_rule_id,
        reason=held.reason,
        explanation=held.explanation,
        context=ask.context,
    )


async def _owned(tx: ApprovalsTx, call: OwnerCall, approval_request_id: str) -> ApprovalRequest:
    request = await tx.get_approval_request(approval_request_id)
    if request is None or request.owner_id != call.owner_id:
        raise NotFoundError("NOT_FOUND", f"Approval request {approval_request_id} not found")
    return request


async def _announce(
    tx: ApprovalsTx,
    call: OwnerCall,
    request: ApprovalRequest,
    status: ApprovalStatus,
    *,
    audit: Mapping[str, JsonValue],
    event: Mapping[str, JsonValue],
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
    if request.expires_at <= iso_ms(now):
        raise InvalidInputError(
            "REQUEST_EXPIRED", "The request has expired; the agent must ask again"
        )
