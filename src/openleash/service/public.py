"""Unauthenticated use cases: health, public keys, proof verification, the playground."""

from __future__ import annotations

import functools
import logging
import uuid
from typing import Any

from openleash.crypto import action_hash, verify_token
from openleash.domain.action import parse_action
from openleash.domain.errors import InvalidInputError, TokenError
from openleash.domain.timefmt import iso_ms
from openleash.policy import EvalContext, evaluate, parse_policy
from openleash.service.authorize import decision_body
from openleash.service.options import Options
from openleash.service.policy_work import run_policy_work
from openleash.service.ports import Store
from openleash.service.runtime import Runtime

log = logging.getLogger("openleash")


async def health(store: Store, options: Options) -> tuple[bool, dict[str, Any]]:
    """Liveness and readiness: the store answers and records writes, within a short bound of
    its own (a stalled store makes health answer ``unavailable`` fast, not hang).
    ``(ready, body)``."""
    state = await store.readiness()
    ready = state == "ok"
    body = {
        "status": "ok" if ready else "unavailable",
        "time": iso_ms(options.clock()),
        "version": f"v{options.version}",
        "store": state,
    }
    return ready, body


async def public_keys(runtime: Runtime) -> dict[str, Any]:
    snap = await runtime.snapshot()
    return {"keys": [key.public_view() for key in snap.keyring.keys]}


async def verify_proof(runtime: Runtime, body: Any, options: Options) -> dict[str, Any]:
    """Always a verdict, never an error: ``{valid, reason?, claims?}``; writes nothing."""
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        return {"valid": False, "reason": "Missing token"}
    snap = await runtime.snapshot()
    now = options.clock()
    try:
        # Fix (PROTOCOL §3.8): only proof tokens are proofs; session or approval tokens are not.
        claims = verify_token(token, snap.keyring, now=now, purpose="proof")
    except TokenError as exc:
        return {"valid": False, "reason": exc.reason}
    verdict: dict[str, Any] = {"valid": True, "claims": claims}
    expected_hash = body.get("expected_action_hash")
    expected_agent = body.get("expected_agent_id")
    if expected_hash and claims.get("action_hash") != expected_hash:
        verdict.update(valid=False, reason="action_hash mismatch")
    if expected_agent and claims.get("agent_id") != expected_agent:
        verdict.update(valid=False, reason="agent_id mismatch")
    # Not audited: anyone may call this as often as they like, and the audit chain records
    # what the server decided, not who looked at a proof (the API counts calls as a metric).
    return {
        "valid": verdict["valid"],
        **({"reason": verdict["reason"]} if "reason" in verdict else {}),
        "claims": claims,
    }


async def playground_run_bounded(body: Any, options: Options) -> dict[str, Any]:
    """:func:`playground_run` for anyone on the network: the policy is untrusted text, so it
    is read and evaluated on a worker thread, within a time bound (see policy_work)."""
    return await run_policy_work(functools.partial(playground_run, body, options))


def playground_run(body: Any, options: Options) -> dict[str, Any]:
    """Evaluate one action against one policy: no layering, no proof, nothing recorded.

    CPU work that grows with the policy: from the event loop, use
    :func:`playground_run_bounded`."""
    if not isinstance(body, dict) or not body.get("policy_yaml") or not body.get("action"):
        raise InvalidInputError("INVALID_REQUEST", "policy_yaml and action are required")
    if not isinstance(body["policy_yaml"], str):
        raise InvalidInputError("INVALID_REQUEST", "policy_yaml must be a string")
    action = parse_action(body["action"])
    policy = parse_policy(body["policy_yaml"])
    context = EvalContext(
        now=options.clock(), default_proof_ttl_seconds=options.default_ttl_seconds
    )
    evaluation = evaluate(policy, action, context)
    digest = action_hash(action)
    decision = decision_body(action, digest, str(uuid.uuid4()), evaluation, None, None)
    return {
        "action_hash": digest,
        "decision": decision,
        "debug": {"trace": [dict(t) for t in evaluation.trace]},
    }
