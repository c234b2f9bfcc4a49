"""``POST /v1/authorize``: verified call -> effective policy -> decision -> record -> proof."""

from __future__ import annotations

import math
import uuid
from typing import Any

from openleash.crypto import action_hash, issue_proof
from openleash.domain.action import parse_action
from openleash.domain.errors import OpenLeashError
from openleash.domain.models import Agent, AuditEvent, Result
from openleash.policy import EvalContext, Evaluation, evaluate
from openleash.service.agent_auth import AgentCall, record_nonce
from openleash.service.options import Options
from openleash.service.runtime import EffectivePolicy, Runtime, Snapshot
from openleash.service.timefmt import iso


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
    context = EvalContext(now=call.now, default_proof_ttl_seconds=options.default_ttl_seconds)
    evaluation = evaluate(effective.policy, action, context)
    digest = action_hash(action)
    decision_id = str(uuid.uuid4())
    proof_token, proof_expires_at = _proof(
        snap, call, action, digest, decision_id, evaluation, options
    )
    response = decision_body(action, digest, decision_id, evaluation, proof_token, proof_expires_at)
    event = _audit_event(call, agent, action, effective, response, evaluation)
    async with runtime.store.transaction() as tx:
        await record_nonce(tx, call, options)
        await tx.append([event])
    return response


def _proof(
    snap: Snapshot,
    call: AgentCall,
    action: dict[str, Any],
    digest: str,
    decision_id: str,
    evaluation: Evaluation,
    options: Options,
) -> tuple[str | None, str | None]:
    if evaluation.result is not Result.ALLOW or not evaluation.proof_required:
        return None, None
    # INVARIANT: the parser refuses ttl_seconds <= 0, so a proof never starts out expired.
    ttl = min(
        math.ceil(evaluation.proof_ttl_seconds or options.default_ttl_seconds),
        options.max_ttl_seconds,
    )
    agent = call.agent
    trust = (action.get("relying_party") or {}).get("trust_profile")
    return issue_proof(
        snap.keyring.active(),
        now=call.now,
        ttl_seconds=ttl,
        decision_id=decision_id,
        owner_type=agent.owner_type,
        owner_id=agent.owner_id,
        agent_id=agent.agent_id,
        action_type=action["action_type"],
        action_hash=digest,
        matched_rule_id=evaluation.matched_rule_id,
        trust_profile=trust,
    )


def decision_body(
    action: dict[str, Any],
    digest: str,
    decision_id: str,
    evaluation: Evaluation,
    proof_token: str | None,
    proof_expires_at: str | None,
) -> dict[str, Any]:
    return {
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
                "obligation_id": str(uuid.uuid4()),
                "type": kind,
                "status": "PENDING",
                "details_json": details,
            }
            for kind, details in evaluation.obligations
        ],
    }


def _audit_event(
    call: AgentCall,
    agent: Agent,
    action: dict[str, Any],
    effective: EffectivePolicy,
    response: dict[str, Any],
    evaluation: Evaluation,
) -> AuditEvent:
    return AuditEvent(
        event_id=str(uuid.uuid4()),
        timestamp=iso(call.now),
        event_type="DECISION_CREATED",
        principal_id=agent.agent_principal_id,
        action_id=action["action_id"],
        decision_id=response["decision_id"],
        metadata_json={
            "decision_id": response["decision_id"],
            "result": response["result"],
            "matched_rule_id": response["matched_rule_id"],
            "reason": response["reason"],
            "action_hash": response["action_hash"],
            "action_type": action["action_type"],
            "agent_id": agent.agent_id,
            "agent_principal_id": agent.agent_principal_id,
            "owner_type": agent.owner_type,
            "owner_id": agent.owner_id,
            "obligations": response["obligations"],
            "policy_id": effective.policy_ids[0],
            "policy_ids": list(effective.policy_ids),
            "proof_issued": response["proof_token"] is not None,
            "proof_expires_at": response["proof_expires_at"],
            "action": action,
            "trace": {"rules": [dict(t) for t in evaluation.trace]},
        },
    )
