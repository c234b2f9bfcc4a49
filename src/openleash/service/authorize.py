"""``POST /v1/authorize``: verified call -> effective policy -> decision -> record -> proof.

:class:`Authorizer` is the use case, built once (:mod:`openleash.bootstrap`); it takes an
:class:`AuthorizeRequest` (the body, parsed and its approval token verified at the edge) and
returns :class:`Authorized`, which the API renders (:mod:`openleash.api.views.authorize`).

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
from typing import NotRequired, Protocol, TypedDict

from openleash.crypto import APPROVAL, IssuedToken, KeyRing, action_hash, issue_proof, verify_token
from openleash.domain.action import ActionDoc, parse_action
from openleash.domain.errors import (
    AuthenticationError,
    ForbiddenError,
    InvalidInputError,
    TokenError,
)
from openleash.domain.ids import new_id
from openleash.domain.jsonvalue import JsonObject
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
from openleash.policy import Evaluation, GrantedLimit, evaluate
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
from openleash.service.ports import ApprovalRepo, DecisionLog, GroupCommit, LedgerView, NonceUse
from openleash.service.runtime import EffectivePolicy, Runtime, Snapshot


class AuthorizeTx(LedgerView, ApprovalRepo, DecisionLog, Protocol):
    """What deciding touches in its unit of the write transaction: the ledger the limits read,
    the approval a token names, and the records of the decision."""


# -- the command --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApprovalClaims:
    """The verified claims of the approval token a request carries (PROTOCOL §3.9)."""

    approval_request_id: str
    claims: JsonObject


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """An ActionRequest to decide: validated and stripped (``action``, which is hashed), the
    fields the decision reads, and the owner's approval its ``approval_token`` carries."""

    action: ActionDoc
    action_id: str
    action_type: str
    requested_at: str
    #: ``principal.agent_id``: who the action claims to be taken by.
    agent_id: str
    #: ``relying_party.trust_profile``, if the action names one.
    trust_profile: str | None
    approval: ApprovalClaims | None = None

    @classmethod
    def from_body(cls, body: object, keyring: KeyRing, now: datetime) -> AuthorizeRequest:
        """Parse a request body; its approval token (if any) is verified against ``keyring``
        at ``now`` first, as the body's own fields are."""
        if not isinstance(body, dict):
            raise InvalidInputError("INVALID_ACTION_REQUEST", "Request body must be a JSON object")
        approval = _approval_claims(body.get("approval_token"), keyring, now)
        action = parse_action(body)
        party = action.get("relying_party")
        return cls(
            action,
            action["action_id"],
            action["action_type"],
            action["requested_at"],
            action["principal"]["agent_id"],
            party.get("trust_profile") if party is not None else None,
            approval,
        )


def _approval_claims(token: object, keyring: KeyRing, now: datetime) -> ApprovalClaims | None:
    """The verified claims of an approval token (None when the request carries none)."""
    if token is None or token == "":
        return None
    if not isinstance(token, str):
        raise AuthenticationError("INVALID_APPROVAL_TOKEN", "approval_token must be a string")
    try:
        claims = verify_token(token, keyring, now=now, purpose=APPROVAL)
    except TokenError as exc:
        raise AuthenticationError("INVALID_APPROVAL_TOKEN", exc.reason) from None
    request_id = claims.get("approval_request_id")
    if not isinstance(request_id, str):
        raise InvalidInputError("APPROVAL_REQUEST_NOT_FOUND", "Approval request not found")
    return ApprovalClaims(request_id, claims)


# -- the results --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Authorized:
    """A decision as recorded: the action, its hash, the decision's id and evaluation, the
    owner's approval it used up (the approval-token path), and its proof token (an ALLOW that
    asks for one)."""

    request: AuthorizeRequest
    decision_id: str
    digest: str
    evaluation: Evaluation
    approval: ApprovalRequest | None
    proof: IssuedToken | None


class ApprovalProvenance(TypedDict):
    """Who approved, when, and how surely: carried in the proof, the response and the audit."""

    approval_request_id: str
    approved_by: str | None
    approved_at: str | None
    assurance_level: str | None


class ObligationBody(TypedDict):
    obligation_id: str
    type: str
    status: str
    details_json: JsonObject


class DecisionBody(TypedDict):
    """The AuthorizeResponse: the wire fields in their order, then our extensions."""

    decision_id: str
    action_id: str
    action_hash: str
    result: str
    matched_rule_id: str | None
    reason: str
    proof_token: str | None
    proof_expires_at: str | None
    obligations: list[ObligationBody]
    risk_level: str | None
    limits: NotRequired[list[GrantedLimit]]
    explanation: NotRequired[str]
    approval: NotRequired[ApprovalProvenance]


def decision_body(
    action_id: str,
    digest: str,
    decision_id: str,
    evaluation: Evaluation,
    proof: IssuedToken | None,
) -> DecisionBody:
    """The AuthorizeResponse of a decision (without the approval it used, which the caller
    adds): the response of ``/v1/authorize`` and the playground's decision."""
    body: DecisionBody = {
        "decision_id": decision_id,
        "action_id": action_id,
        "action_hash": digest,
        "result": evaluation.result.value,
        "matched_rule_id": evaluation.matched_rule_id,
        "reason": evaluation.reason,
        "proof_token": proof.token if proof is not None else None,
        "proof_expires_at": proof.expires_at if proof is not None else None,
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
        body["limits"] = [limit.copy() for limit in evaluation.limits]
    if evaluation.explanation is not None:
        body["explanation"] = evaluation.explanation
    return body


def provenance(request: ApprovalRequest) -> ApprovalProvenance:
    """Who approved, when, and how surely."""
    return {
        "approval_request_id": request.approval_request_id,
        "approved_by": request.resolved_by,
        "approved_at": request.resolved_at,
        "assurance_level": request.assurance_level,
    }


# -- the use case -------------------------------------------------------------------------------

#: Obligations an owner's approval does not discharge (only a step-up to the level does).
_NOT_DISCHARGED = frozenset({"STEP_UP_AUTH", "DEPOSIT"})
APPROVED_REASON = "Approved by owner"


class Authorizer:
    """Decides a signed agent's action under its effective policy, records the decision with
    the call's nonce, and signs a proof for an ALLOW that asks for one."""

    __slots__ = ("_options", "_runtime", "_store")

    def __init__(self, store: GroupCommit[AuthorizeTx], runtime: Runtime, options: Options) -> None:
        self._store = store
        self._runtime = runtime
        self._options = options

    async def authorize(
        self, snap: Snapshot, call: AgentCall, request: AuthorizeRequest
    ) -> Authorized:
        """Decide ``request`` for the agent of ``call`` (verified against ``snap``) and record
        it in one unit of the write transaction.

        Most policies need nothing from the ledger for an action (no limit applies, no count of
        earlier actions with the counterparty): then, unless an approval is to be checked, the
        decision and its records are made before the write transaction, which only records. It
        holds every writer's lock (on PostgreSQL every replica's)."""
        agent = call.agent
        if request.agent_id != agent.agent_id:
            # Fix (PROTOCOL §3.4): an agent may not act (or get proofs) in another agent's name.
            raise ForbiddenError(
                "AGENT_MISMATCH", "principal.agent_id must equal the signing agent (X-Agent-Id)"
            )
        effective = await self._runtime.effective_policy(snap, agent)
        if effective is None:
            raise ForbiddenError("NO_POLICY", "No policy bound to this agent or owner")
        unit = _unit(call, request, effective, self._options)
        if request.approval is None and not unit.reads_ledger():
            decided = await self._store.submit(unit.decide_ahead().write)
        else:
            decided = await self._store.submit(unit.decide)
        proof = _proof(snap, call, unit, decided, self._options)
        evaluation, approval = decided.evaluation, decided.approval
        return Authorized(request, unit.decision_id, unit.digest, evaluation, approval, proof)


def _unit(
    call: AgentCall, request: AuthorizeRequest, effective: EffectivePolicy, options: Options
) -> _Unit:
    agent, now, action = call.agent, call.now, request.action
    observed = effective.observed
    return _Unit(
        agent=agent,
        now=now,
        request=request,
        digest=action_hash(action),
        decision_id=new_id(),
        nonce=nonce_use(call, options),
        # Redacted outside the transaction (it holds every process's write lock); hashed before.
        stored_action=redact(action, options.audit_redact) if options.audit_redact else action,
        effective=effective,
        plan=_plan(effective, action, agent, now),
        shadow_plan=_plan(observed, action, agent, now) if observed is not None else None,
        default_ttl_seconds=options.default_ttl_seconds,
    )


def _plan(layered: EffectivePolicy, action: ActionDoc, agent: Agent, now: datetime) -> ContextPlan:
    return plan_context(layered.policy, action, agent.owner_id, agent.agent_principal_id, now)


def _discharged(evaluation: Evaluation) -> bool:
    """Whether an approval lets this decision through: the policy still allows the action or
    asks for exactly what the owner gave (approval; a step-up only to the level confirmed)."""
    if evaluation.result not in (Result.ALLOW, Result.REQUIRE_APPROVAL):
        return False
    return not any(kind in _NOT_DISCHARGED for kind, _ in evaluation.obligations)


async def _approved_request(
    tx: ApprovalRepo, approval: ApprovalClaims, agent: Agent, digest: str
) -> ApprovalRequest:
    """The approval the token names, checked against the calling agent and action (§3.9)."""
    claims = approval.claims
    request = await tx.get_approval_request(approval.approval_request_id)
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


@dataclass(frozen=True, slots=True)
class _Unit:
    """One decision as it stands before the write transaction: who asks for what and when,
    under which policies, and what each of them needs from the ledger."""

    agent: Agent
    now: datetime
    request: AuthorizeRequest
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

    def reads_ledger(self) -> bool:
        shadow = self.shadow_plan
        return self.plan.reads_ledger or (shadow is not None and shadow.reads_ledger)

    def evaluate(
        self, plan: ContextPlan, context: DecisionContext, assurance: str | None = None
    ) -> Evaluation:
        return evaluate(
            plan.policy,
            self.request.action,
            context.evaluation(
                self.now,
                default_proof_ttl_seconds=self.default_ttl_seconds,
                assurance_level=assurance,
            ),
        )

    def decide_ahead(self) -> _Decided:
        """The decision when no plan reads the ledger."""
        evaluation = self.evaluate(self.plan, ledger_free_context(self.plan))
        shadow_plan = self.shadow_plan
        shadow = None
        if shadow_plan is not None:
            shadow = self.evaluate(shadow_plan, ledger_free_context(shadow_plan))
        return self.decided(evaluation, shadow)

    async def decide(self, tx: AuthorizeTx) -> _Decided:
        """In the write transaction: check the approval, read the ledger, evaluate, record."""
        approval = self.request.approval
        request = None
        if approval is not None:
            request = await _approved_request(tx, approval, self.agent, self.digest)
        assurance = request.assurance_level if request is not None else None
        evaluation = self.evaluate(self.plan, await read_context(tx, self.plan), assurance)
        shadow = None
        if self.shadow_plan is not None:
            shadow = self.evaluate(self.shadow_plan, await read_context(tx, self.shadow_plan))
        if request is None or not _discharged(evaluation):
            return await self.decided(evaluation, shadow).write(tx)
        used = await self._use_approval(tx, request)
        approved = _approved(evaluation, self.default_ttl_seconds)
        event = _approval_used_event(self.agent, self.now, self.decision_id, used, self.digest)
        return await self.decided(approved, shadow, used).write(tx, (event,))

    async def _use_approval(self, tx: ApprovalRepo, request: ApprovalRequest) -> ApprovalRequest:
        """Use up the owner's approval (the decision becomes an ALLOW that says so)."""
        at = iso_ms(self.now)
        # INVARIANT: one approval, one action: of racing requests exactly one consumes it.
        await tx.consume_approval(request.approval_request_id, at)
        return replace(request, consumed_at=at)

    def decided(
        self,
        evaluation: Evaluation,
        shadow: Evaluation | None,
        approval: ApprovalRequest | None = None,
    ) -> _Decided:
        """The decision with what recording it writes."""
        agent, result = self.agent, evaluation.result
        allowed = None
        if result is Result.ALLOW:
            allowed = allowed_action(
                self.decision_id,
                agent.owner_id,
                agent.agent_principal_id,
                self.request.action,
                self.now,
            )
        held = None
        if result in (Result.REQUIRE_APPROVAL, Result.REQUIRE_STEP_UP):
            held = _held(self, evaluation)
        event = _audit_event(self, evaluation, shadow, approval)
        return _Decided(evaluation, approval, self.nonce, allowed, held, event)


@dataclass(frozen=True, slots=True)
class _Decided:
    """A decision and what recording it writes besides its nonce. A decision taken before the
    write transaction hands :meth:`write` to it: its unit there only records."""

    evaluation: Evaluation
    #: The owner's approval this decision used up (the approval-token path).
    approval: ApprovalRequest | None
    nonce: NonceUse | None
    allowed: AllowedAction | None
    held: HeldDecision | None
    event: AuditEvent

    async def write(self, tx: DecisionLog, before: Sequence[AuditEvent] = ()) -> _Decided:
        """The nonce, the allowed action or held decision, and the audit records, at once; a
        used nonce raises and so undoes the whole unit (an approval consumed in it included)."""
        await tx.record_decision(
            nonce=self.nonce, allowed=self.allowed, held=self.held, events=[*before, self.event]
        )
        return self


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
    snap: Snapshot, call: AgentCall, unit: _Unit, decided: _Decided, options: Options
) -> IssuedToken | None:
    evaluation = decided.evaluation
    if evaluation.result is not Result.ALLOW or not evaluation.proof_required:
        return None
    # INVARIANT: the parser refuses ttl_seconds <= 0, so a proof never starts out expired.
    ttl = min(
        math.ceil(evaluation.proof_ttl_seconds or options.default_ttl_seconds),
        options.max_ttl_seconds,
    )
    agent, request = call.agent, unit.request
    extra: dict[str, object] = {
        "policy_hash": unit.effective.policy_hash,
        "risk_level": evaluation.risk_level,
    }
    if decided.approval is not None:
        extra.update(provenance(decided.approval))
    counterparty = counterparty_of(request.action)
    if counterparty is not None:
        # The audience: the service this action deals with, as the policy judged it. A
        # counterparty verifier accepts the proof only if it is that service (PROTOCOL §4:
        # after the standard claims, so the official SDK verifiers ignore it).
        extra["counterparty"] = counterparty
    return issue_proof(
        snap.keyring.active(),
        now=call.now,
        ttl_seconds=ttl,
        decision_id=unit.decision_id,
        owner_type=agent.owner_type,
        owner_id=agent.owner_id,
        agent_id=agent.agent_id,
        action_type=request.action_type,
        action_hash=unit.digest,
        matched_rule_id=evaluation.matched_rule_id,
        trust_profile=request.trust_profile,
        extra=extra,
    )


def _audit_event(
    unit: _Unit,
    evaluation: Evaluation,
    shadow: Evaluation | None,
    approval: ApprovalRequest | None,
) -> AuditEvent:
    agent, request, effective = unit.agent, unit.request, unit.effective
    return AuditEvent(
        event_id=new_id(),
        timestamp=iso_ms(unit.now),
        event_type="DECISION_CREATED",
        principal_id=agent.agent_principal_id,
        action_id=request.action_id,
        decision_id=unit.decision_id,
        metadata_json={
            "decision_id": unit.decision_id,
            "result": evaluation.result.value,
            "matched_rule_id": evaluation.matched_rule_id,
            "reason": evaluation.reason,
            "action_hash": unit.digest,
            "action_type": request.action_type,
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
            "policy_id": effective.policy_ids[0],
            "policy_ids": list(effective.policy_ids),
            "policy_hash": effective.policy_hash,
            "proof_required": evaluation.proof_required,
            "action": unit.stored_action,
            "trace": {"rules": [dict(t) for t in evaluation.trace]},
            "shadow": _shadow(effective, evaluation, shadow),
            "approval": None if approval is None else provenance(approval),
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
            **provenance(request),
            "decision_id": decision_id,
            "action_hash": digest,
            "action_type": request.action_type,
            "agent_principal_id": agent.agent_principal_id,
            "owner_id": agent.owner_id,
        },
    )


def _held(unit: _Unit, evaluation: Evaluation) -> HeldDecision:
    """The record an approval request for this decision will be checked against."""
    agent = unit.agent
    levels = [
        details.get("min_assurance_level")
        for kind, details in evaluation.obligations
        if kind == "STEP_UP_AUTH" and isinstance(details, dict)
    ]
    strongest = strongest_assurance(levels)
    return HeldDecision(
        decision_id=unit.decision_id,
        owner_id=agent.owner_id,
        agent_principal_id=agent.agent_principal_id,
        action_hash=unit.digest,
        result=evaluation.result.value,
        matched_rule_id=evaluation.matched_rule_id,
        min_assurance_level=strongest.value if strongest else None,
        reason=evaluation.reason,
        explanation=evaluation.explanation,
        created_at=iso_ms(unit.now),
    )


class ShadowRecord(TypedDict):
    """What the observed policy would have decided, as the audit record keeps it."""

    result: str
    matched_rule_id: str | None
    reason: str
    explanation: str | None
    policy_ids: list[str]
    policy_hash: str
    differs: bool


def _shadow(
    effective: EffectivePolicy, evaluation: Evaluation, shadow: Evaluation | None
) -> ShadowRecord | None:
    """What the observed policy would have decided; recorded, never enforced."""
    observed = effective.observed
    if shadow is None or observed is None:
        return None
    return {
        "result": shadow.result.value,
        "matched_rule_id": shadow.matched_rule_id,
        "reason": shadow.reason,
        "explanation": shadow.explanation,
        "policy_ids": list(observed.policy_ids),
        "policy_hash": observed.policy_hash,
        "differs": shadow.result is not evaluation.result,
    }
