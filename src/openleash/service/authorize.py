"""``POST /v1/authorize``: verified call -> effective policy -> decision -> record -> proof.

The decision is taken inside the write transaction that records it: the nonce, the usage the
limits read, the allowed action they will count next time and the audit record commit
together, so concurrent requests in any number of processes see each other's effect exactly.
Signing the proof happens after the commit, outside the lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openleash.crypto import action_hash, issue_proof
from openleash.domain.action import parse_action
from openleash.domain.errors import OpenLeashError
from openleash.domain.ids import new_id
from openleash.domain.models import Agent, AuditEvent, Result
from openleash.policy import EvalContext, Evaluation, evaluate
from openleash.service.agent_auth import AgentCall, record_nonce
from openleash.service.limits import allowed_action, decision_context
from openleash.service.options import Options
from openleash.service.ports import Transaction
from openleash.service.redaction import redact
from openleash.service.runtime import EffectivePolicy, Runtime, Snapshot
from openleash.service.timefmt import iso


@dataclass(frozen=True, slots=True)
class Decided:
    action: dict[str, Any]
    digest: str
    decision_id: str
    evaluation: Evaluation
    effective: EffectivePolicy
    #: The would-be decision of the observed (shadow) policy, if the agent has one.
    shadow: Evaluation | None = None


async def authorize(
    runtime: Runtime, snap: Snapshot, call: AgentCall, body: Any, options: Options
) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise OpenLeashError("INVALID_ACTION_REQUEST", "Request body must be a JSON object")
    if body.get("approval_token"):
        # Fail closed until approval tokens can be verified and consumed.
        raise OpenLeashError("INVALID_APPROVAL_TOKEN", "Approval tokens are not accepted yet")
    action = parse_action(body)
    agent = call.agent
    if action["principal"]["agent_id"] != agent.agent_id:
        # Fix (PROTOCOL §3.4): an agent may not act (or get proofs) in another agent's name.
        raise OpenLeashError(
            "AGENT_MISMATCH", "principal.agent_id must equal the signing agent (X-Agent-Id)"
        )
    effective = await runtime.effective_policy(snap, agent)
    if effective is None:
        raise OpenLeashError("NO_POLICY", "No policy bound to this agent or owner")
    decided = await _decide_and_record(runtime, call, action, effective, options)
    token, expires_at = _proof(snap, call, decided, options)
    return decision_body(
        action, decided.digest, decided.decision_id, decided.evaluation, token, expires_at
    )


async def _decide_and_record(
    runtime: Runtime,
    call: AgentCall,
    action: dict[str, Any],
    effective: EffectivePolicy,
    options: Options,
) -> Decided:
    agent, now = call.agent, call.now
    digest = action_hash(action)
    decision_id = new_id()
    # Redacted outside the transaction (it holds every process's write lock); hashed before.
    stored_action = redact(action, options.audit_redact) if options.audit_redact else action

    async def decide(tx: Transaction, policy: EffectivePolicy) -> Evaluation:
        server_context, usage = await decision_context(
            tx, policy.policy, action, agent.owner_id, agent.agent_principal_id, now
        )
        context = EvalContext(
            now=now,
            default_proof_ttl_seconds=options.default_ttl_seconds,
            server_context=server_context,
            usage=usage,
        )
        return evaluate(policy.policy, action, context)

    async def work(tx: Transaction) -> Decided:
        await record_nonce(tx, call, options)
        evaluation = await decide(tx, effective)
        shadow = await decide(tx, effective.observed) if effective.observed else None
        decided = Decided(action, digest, decision_id, evaluation, effective, shadow)
        if evaluation.result is Result.ALLOW:
            await tx.record_allowed(
                allowed_action(decision_id, agent.owner_id, agent.agent_principal_id, action, now)
            )
        await tx.append([_audit_event(agent, now, decided, stored_action)])
        return decided

    return await runtime.store.submit(work)


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
    action: dict[str, Any],
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
    agent: Agent, now: datetime, decided: Decided, stored_action: dict[str, Any]
) -> AuditEvent:
    evaluation, action = decided.evaluation, decided.action
    return AuditEvent(
        event_id=new_id(),
        timestamp=iso(now),
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
        },
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
