"""``POST /v1/authorize``: verified call -> effective policy -> decision -> record -> proof.

A decision is plan -> read -> evaluate -> record (:mod:`openleash.service.decision_context`).
The plans (what the enforced and the observed policy need from the ledger for this action) are
made before the write transaction; when they need nothing, so are the decision and its records,
and the transaction only records them. Otherwise the ledger is read and the action evaluated in
the write transaction that records it: the nonce, the usage the limits read, the allowed action
they will count next time and the audit record commit together, so concurrent requests in any
number of processes see each other's effect exactly. Signing the proof happens after the
commit, outside the lock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from openleash.crypto import APPROVAL, KeyRing, action_hash, issue_proof, verify_token
from openleash.domain.action import ActionDoc, parse_action
from openleash.domain.errors import (
    AuthenticationError,
    ForbiddenError,
    InvalidInputError,
    TokenError,
)
from openleash.domain.ids import new_id
from openleash.domain.models import (
    Agent,
    AllowedAction,
    ApprovalRequest,
    ApprovalStatus,
    AuditEvent,
    HeldDecision,
    Result,
    strongest_assurance,
)
from openleash.domain.redaction import redact
from openleash.domain.timefmt import iso_ms
from openleash.policy import Evaluation, evaluate
from openleash.policy.trust import counterparty_of
from openleash.service.agent_auth import AgentCall, nonce_use
from openleash.service.decision_context import (
    ContextPlan,
    DecisionContext,
    ledger_free_context,
    plan_context,
    read_context,
)
from openleash.service.limits import allowed_action
from openleash.service.options import Options
from openleash.service.ports import NonceUse, Transaction
from openleash.service.runtime import EffectivePolicy, Runtime, Snapshot


@dataclass(frozen=True, slots=True)
class Decided:
    action: ActionDoc
    digest: str
    decision_id: str
    evaluation: Evaluation
    effective: EffectivePolicy
    #: The would-be decision of the observed (shadow) policy, if the agent has one.
    shadow: Evaluation | None = None
    #: The owner's approval this decision used up (the approval-token path).
    approval: ApprovalRequest | None = None


#: Obligations an owner's approval does not discharge (only a step-up to the level does).
_NOT_DISCHARGED = frozenset({"STEP_UP_AUTH", "DEPOSIT"})
APPROVED_REASON = "Approved by owner"


async def authorize(
    runtime: Runtime, snap: Snapshot, call: AgentCall, body: Any, options: Options
) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInputError("INVALID_ACTION_REQUEST", "Request body must be a JSON object")
    approval = _approval_claims(body.get("approval_token"), snap.keyring, call.now)
    action = parse_action(body)
    agent = call.agent
    if action["principal"]["agent_id"] != agent.agent_id:
        # Fix (PROTOCOL §3.4): an agent may not act (or get proofs) in another agent's name.
        raise ForbiddenError(
            "AGENT_MISMATCH", "principal.agent_id must equal the signing agent (X-Agent-Id)"
        )
    effective = await runtime.effective_policy(snap, agent)
    if effective is None:
        raise ForbiddenError("NO_POLICY", "No policy bound to this agent or owner")
    decided = await _decide_and_record(runtime, call, action, effective, options, approval)
    token, expires_at = _proof(snap, call, decided, options)
    response = decision_body(
        action, decided.digest, decided.decision_id, decided.evaluation, token, expires_at
    )
    if decided.approval is not None:
        response["approval"] = _provenance(decided.approval)
    return response


def _approval_claims(token: Any, keyring: KeyRing, now: datetime) -> dict[str, Any] | None:
    """The verified claims of an approval token (None when the request carries none)."""
    if token is None or token == "":
        return None
    if not isinstance(token, str):
        raise AuthenticationError("INVALID_APPROVAL_TOKEN", "approval_token must be a string")
    try:
        claims = verify_token(token, keyring, now=now, purpose=APPROVAL)
    except TokenError as exc:
        raise AuthenticationError("INVALID_APPROVAL_TOKEN", exc.reason) from None
    if not isinstance(claims.get("approval_request_id"), str):
        raise InvalidInputError("APPROVAL_REQUEST_NOT_FOUND", "Approval request not found")
    return claims


def _provenance(request: ApprovalRequest) -> dict[str, Any]:
    """Who approved, when, and how surely: carried in the proof and the response."""
    return {
        "approval_request_id": request.approval_request_id,
        "approved_by": request.resolved_by,
        "approved_at": request.resolved_at,
        "assurance_level": request.assurance_level,
    }


async def _approved_request(
    tx: Transaction, claims: dict[str, Any], agent: Agent, digest: str
) -> ApprovalRequest:
    """The approval the token names, checked against the calling agent and action (§3.9)."""
    request = await tx.get_approval_request(claims["approval_request_id"])
    if request is None:
        raise InvalidInputError("APPROVAL_REQUEST_NOT_FOUND", "Approval request not found")
    if (
        request.agent_principal_id != agent.agent_principal_id
        or request.owner_id != agent.owner_id
        or claims.get("agent_id") != agent.agent_id
        or claims.get("agent_principal_id", agent.agent_principal_id) != agent.agent_principal_id
    ):
        raise ForbiddenError("AGENT_MISMATCH", "The approval was given to another agent or owner")
    if request.status != ApprovalStatus.APPROVED:
        raise InvalidInputError(
            "INVALID_APPROVAL_STATUS", f"Approval request status is {request.status}"
        )
    if request.consumed_at is not None:
        raise InvalidInputError("APPROVAL_TOKEN_CONSUMED", "Approval token has already been used")
    if claims.get("action_hash") != digest or request.action_hash != digest:
        raise InvalidInputError(
            "ACTION_HASH_MISMATCH",
            "The action differs from the approved one: send the identical action",
        )
    return request


def _discharged(evaluation: Evaluation) -> bool:
    """Whether an approval lets this decision through: the policy still allows the action or
    asks for exactly what the owner gave (approval; a step-up only to the level confirmed)."""
    if evaluation.result not in (Result.ALLOW, Result.REQUIRE_APPROVAL):
        return False
    return not any(kind in _NOT_DISCHARGED for kind, _ in evaluation.obligations)


async def _decide_and_record(
    runtime: Runtime,
    call: AgentCall,
    action: ActionDoc,
    effective: EffectivePolicy,
    options: Options,
    approval: dict[str, Any] | None = None,
) -> Decided:
    """Decide and record in one unit of the write transaction.

    Most policies need nothing from the ledger for an action (no limit applies, no count of
    earlier actions with the counterparty): then, unless an approval is to be checked, the
    decision and its records are made before the write transaction, which only records. It
    holds every writer's lock (on PostgreSQL every replica's)."""
    unit = _unit(call, action, effective, options, approval)
    if approval is None and not unit.reads_ledger():
        decided = unit.decide_ahead()
        return await runtime.store.submit(_Prepared(unit, decided, unit.rows(decided)).record)
    return await runtime.store.submit(unit.decide)


def _unit(
    call: AgentCall,
    action: ActionDoc,
    effective: EffectivePolicy,
    options: Options,
    approval: dict[str, Any] | None,
) -> _Unit:
    agent, now = call.agent, call.now
    observed = effective.observed
    return _Unit(
        agent=agent,
        now=now,
        action=action,
        digest=action_hash(action),
        decision_id=new_id(),
        nonce=nonce_use(call, options),
        # Redacted outside the transaction (it holds every process's write lock); hashed before.
        stored_action=redact(action, options.audit_redact) if options.audit_redact else action,
        effective=effective,
        plan=_plan(effective, action, agent, now),
        shadow_plan=_plan(observed, action, agent, now) if observed is not None else None,
        default_ttl_seconds=options.default_ttl_seconds,
        approval=approval,
    )


def _plan(layered: EffectivePolicy, action: ActionDoc, agent: Agent, now: datetime) -> ContextPlan:
    return plan_context(layered.policy, action, agent.owner_id, agent.agent_principal_id, now)


@dataclass(frozen=True, slots=True)
class _Rows:
    """What recording a decision writes besides its nonce."""

    allowed: AllowedAction | None
    held: HeldDecision | None
    event: AuditEvent


@dataclass(frozen=True, slots=True)
class _Unit:
    """One decision as it stands before the write transaction: who asks for what and when,
    under which policies, and what each of them needs from the ledger."""

    agent: Agent
    now: datetime
    action: ActionDoc
    digest: str
    decision_id: str
    nonce: NonceUse | None
    #: The action as the audit log keeps it (redacted when the log redacts fields).
    stored_action: Mapping[str, object]
    effective: EffectivePolicy
    plan: ContextPlan
    #: The plan of the observed (shadow) policy, if the agent has one.
    shadow_plan: ContextPlan | None
    default_ttl_seconds: int
    #: The verified claims of the approval token the request carries.
    approval: dict[str, Any] | None

    def reads_ledger(self) -> bool:
        shadow = self.shadow_plan
        return self.plan.reads_ledger or (shadow is not None and shadow.reads_ledger)

    def evaluate(
        self, plan: ContextPlan, context: DecisionContext, assurance: str | None = None
    ) -> Evaluation:
        return evaluate(
            plan.policy,
            self.action,
            context.evaluation(
                self.now,
                default_proof_ttl_seconds=self.default_ttl_seconds,
                assurance_level=assurance,
            ),
        )

    def decided(self, evaluation: Evaluation, shadow: Evaluation | None) -> Decided:
        return Decided(
            self.action, self.digest, self.decision_id, evaluation, self.effective, shadow
        )

    def decide_ahead(self) -> Decided:
        """The decision when no plan reads the ledger."""
        evaluation = self.evaluate(self.plan, ledger_free_context(self.plan))
        shadow_plan = self.shadow_plan
        shadow = None
        if shadow_plan is not None:
            shadow = self.evaluate(shadow_plan, ledger_free_context(shadow_plan))
        return self.decided(evaluation, shadow)

    async def decide(self, tx: Transaction) -> Decided:
        """In the write transaction: check the approval, read the ledger, evaluate, record."""
        request = None
        if self.approval is not None:
            request = await _approved_request(tx, self.approval, self.agent, self.digest)
        assurance = request.assurance_level if request is not None else None
        evaluation = self.evaluate(self.plan, await read_context(tx, self.plan), assurance)
        shadow = None
        if self.shadow_plan is not None:
            shadow = self.evaluate(self.shadow_plan, await read_context(tx, self.shadow_plan))
        decided = self.decided(evaluation, shadow)
        before: list[AuditEvent] = []
        if request is not None and _discharged(evaluation):
            decided, used = await self._use_approval(tx, request, decided)
            before.append(used)
        await self.record(tx, self.rows(decided), before)
        return decided

    async def _use_approval(
        self, tx: Transaction, request: ApprovalRequest, decided: Decided
    ) -> tuple[Decided, AuditEvent]:
        """Use up the owner's approval: the decision becomes an ALLOW that says so."""
        at = iso_ms(self.now)
        # INVARIANT: one approval, one action: of racing requests exactly one consumes it.
        if not await tx.consume_approval(request.approval_request_id, at):
            raise InvalidInputError(
                "APPROVAL_TOKEN_CONSUMED", "Approval token has already been used"
            )
        used = replace(request, consumed_at=at)
        approved = replace(
            decided,
            evaluation=_approved(decided.evaluation, self.default_ttl_seconds),
            approval=used,
        )
        return approved, _approval_used_event(
            self.agent, self.now, self.decision_id, used, self.digest
        )

    def rows(self, decided: Decided) -> _Rows:
        agent, result = self.agent, decided.evaluation.result
        allowed = None
        if result is Result.ALLOW:
            allowed = allowed_action(
                self.decision_id, agent.owner_id, agent.agent_principal_id, self.action, self.now
            )
        held = None
        if result in (Result.REQUIRE_APPROVAL, Result.REQUIRE_STEP_UP):
            held = _held(agent, self.now, decided)
        return _Rows(allowed, held, _audit_event(agent, self.now, decided, self.stored_action))

    async def record(self, tx: Transaction, rows: _Rows, before: Sequence[AuditEvent] = ()) -> None:
        """The nonce, the allowed action or held decision, and the audit records, at once; a
        used nonce raises and so undoes the whole unit (an approval consumed in it included)."""
        events = [*before, rows.event]
        await tx.record_decision(
            nonce=self.nonce, allowed=rows.allowed, held=rows.held, events=events
        )


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A decision taken before the write transaction, with its records: its unit of the
    transaction only records."""

    unit: _Unit
    decided: Decided
    rows: _Rows

    async def record(self, tx: Transaction) -> Decided:
        await self.unit.record(tx, self.rows)
        return self.decided


def _approved(evaluation: Evaluation, default_ttl_seconds: int) -> Evaluation:
    """The decision an owner's approval makes of ``evaluation``."""
    return replace(
        evaluation,
        result=Result.ALLOW,
        matched_rule_id=None,
        reason=APPROVED_REASON,
        obligations=(),
        proof_required=True,
        proof_ttl_seconds=default_ttl_seconds,
        explanation=None,
        explanation_details=None,
    )


def _proof(
    snap: Snapshot, call: AgentCall, decided: Decided, options: Options
) -> tuple[str | None, str | None]:
    evaluation = decided.evaluation
    if evaluation.result is not Result.ALLOW or not evaluation.proof_required:
        return None, None
    # INVARIANT: the parser refuses ttl_seconds <= 0, so a proof never starts out expired.
    ttl = min(
        math.ceil(evaluation.proof_ttl_seconds or options.default_ttl_seconds),
        options.max_ttl_seconds,
    )
    agent, action = call.agent, decided.action
    trust = (action.get("relying_party") or {}).get("trust_profile")
    extra: dict[str, Any] = {
        "policy_hash": decided.effective.policy_hash,
        "risk_level": evaluation.risk_level,
    }
    if decided.approval is not None:
        extra.update(_provenance(decided.approval))
    counterparty = counterparty_of(action)
    if counterparty is not None:
        # The audience: the service this action deals with, as the policy judged it. A
        # counterparty verifier accepts the proof only if it is that service (PROTOCOL §4:
        # after the standard claims, so the official SDK verifiers ignore it).
        extra["counterparty"] = counterparty
    return issue_proof(
        snap.keyring.active(),
        now=call.now,
        ttl_seconds=ttl,
        decision_id=decided.decision_id,
        owner_type=agent.owner_type,
        owner_id=agent.owner_id,
        agent_id=agent.agent_id,
        action_type=action["action_type"],
        action_hash=decided.digest,
        matched_rule_id=evaluation.matched_rule_id,
        trust_profile=trust,
        extra=extra,
    )


def decision_body(
    action: ActionDoc,
    digest: str,
    decision_id: str,
    evaluation: Evaluation,
    proof_token: str | None,
    proof_expires_at: str | None,
) -> dict[str, Any]:
    """The AuthorizeResponse: the wire fields in their order, then our extensions."""
    body: dict[str, Any] = {
        "decision_id": decision_id,
        "action_id": action["action_id"],
        "action_hash": digest,
        "result": evaluation.result.value,
        "matched_rule_id": evaluation.matched_rule_id,
        "reason": evaluation.reason,
        "proof_token": proof_token,
        "proof_expires_at": proof_expires_at,
        "obligations": [
            {
                "obligation_id": new_id(),
                "type": kind,
                "status": "PENDING",
                "details_json": details,
            }
            for kind, details in evaluation.obligations
        ],
        "risk_level": evaluation.risk_level,
    }
    if evaluation.result is Result.ALLOW and evaluation.limits:
        body["limits"] = [dict(limit) for limit in evaluation.limits]
    if evaluation.explanation is not None:
        body["explanation"] = evaluation.explanation
    return body


def _audit_event(
    agent: Agent, now: datetime, decided: Decided, stored_action: Mapping[str, object]
) -> AuditEvent:
    evaluation, action = decided.evaluation, decided.action
    return AuditEvent(
        event_id=new_id(),
        timestamp=iso_ms(now),
        event_type="DECISION_CREATED",
        principal_id=agent.agent_principal_id,
        action_id=action["action_id"],
        decision_id=decided.decision_id,
        metadata_json={
            "decision_id": decided.decision_id,
            "result": evaluation.result.value,
            "matched_rule_id": evaluation.matched_rule_id,
            "reason": evaluation.reason,
            "action_hash": decided.digest,
            "action_type": action["action_type"],
            "agent_id": agent.agent_id,
            "agent_principal_id": agent.agent_principal_id,
            "owner_type": agent.owner_type,
            "owner_id": agent.owner_id,
            "obligations": [
                {"type": kind, "details_json": details} for kind, details in evaluation.obligations
            ],
            "risk_level": evaluation.risk_level,
            "explanation": evaluation.explanation,
            "explanation_details": evaluation.explanation_details,
            "limits": [dict(limit) for limit in evaluation.limits],
            "policy_id": decided.effective.policy_ids[0],
            "policy_ids": list(decided.effective.policy_ids),
            "policy_hash": decided.effective.policy_hash,
            "proof_required": evaluation.proof_required,
            "action": stored_action,
            "trace": {"rules": [dict(t) for t in evaluation.trace]},
            "shadow": _shadow(decided),
            "approval": None if decided.approval is None else _provenance(decided.approval),
        },
    )


def _approval_used_event(
    agent: Agent, now: datetime, decision_id: str, request: ApprovalRequest, digest: str
) -> AuditEvent:
    return AuditEvent(
        event_id=new_id(),
        timestamp=iso_ms(now),
        event_type="APPROVAL_TOKEN_USED",
        principal_id=agent.agent_principal_id,
        action_id=request.action.get("action_id"),
        decision_id=decision_id,
        metadata_json={
            **_provenance(request),
            "decision_id": decision_id,
            "action_hash": digest,
            "action_type": request.action_type,
            "agent_principal_id": agent.agent_principal_id,
            "owner_id": agent.owner_id,
        },
    )


def _held(agent: Agent, now: datetime, decided: Decided) -> HeldDecision:
    """The record an approval request for this decision will be checked against."""
    evaluation = decided.evaluation
    levels = [
        details.get("min_assurance_level")
        for kind, details in evaluation.obligations
        if kind == "STEP_UP_AUTH" and isinstance(details, dict)
    ]
    strongest = strongest_assurance(levels)
    return HeldDecision(
        decision_id=decided.decision_id,
        owner_id=agent.owner_id,
        agent_principal_id=agent.agent_principal_id,
        action_hash=decided.digest,
        result=evaluation.result.value,
        matched_rule_id=evaluation.matched_rule_id,
        min_assurance_level=strongest.value if strongest else None,
        reason=evaluation.reason,
        explanation=evaluation.explanation,
        created_at=iso_ms(now),
    )


def _shadow(decided: Decided) -> dict[str, Any] | None:
    """What the observed policy would have decided; recorded, never enforced."""
    shadow, observed = decided.shadow, decided.effective.observed
    if shadow is None or observed is None:
        return None
    return {
        "result": shadow.result.value,
        "matched_rule_id": shadow.matched_rule_id,
        "reason": shadow.reason,
        "explanation": shadow.explanation,
        "policy_ids": list(observed.policy_ids),
        "policy_hash": observed.policy_hash,
        "differs": shadow.result is not decided.evaluation.result,
    }
