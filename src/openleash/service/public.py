"""Unauthenticated use cases: health, public keys, proof verification, the playground.

:class:`Public` is the use case, built once (:mod:`openleash.bootstrap`); it takes typed commands
(:class:`ProofCheck`, :class:`PlaygroundRun`) and returns dataclasses, or the playground's
answer (a :class:`PlaygroundAnswer`, which the command line prints too); the API renders them
(:mod:`openleash.api.views.public`).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import TypedDict

from openleash.crypto import action_hash, verify_token
from openleash.domain.action import ActionDoc, parse_action
from openleash.domain.errors import InvalidInputError, TokenError
from openleash.domain.jsonvalue import JsonObject, JsonValue
from openleash.domain.models import ServerKey
from openleash.domain.timefmt import iso_ms
from openleash.policy import EvalContext, TraceEntry, evaluate, parse_policy
from openleash.service.authorize import DecisionBody, decision_body
from openleash.service.options import Options
from openleash.service.policy_work import run_policy_work
from openleash.service.ports import Readiness, StoreState
from openleash.service.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Health:
    """Liveness and readiness: whether the store answers and records writes, and when."""

    store: StoreState
    time: str
    version: str

    @property
    def ready(self) -> bool:
        return self.store == "ok"


@dataclass(frozen=True, slots=True)
class ProofCheck:
    """A proof token to verify, and what its claims must say (each compared when given)."""

    #: None when the body carries no token (or not a non-empty string).
    token: str | None
    expected_action_hash: JsonValue = None
    expected_agent_id: JsonValue = None

    @classmethod
    def from_body(cls, body: object) -> ProofCheck:
        if not isinstance(body, dict):
            return cls(None)
        token = body.get("token")
        return cls(
            token if isinstance(token, str) and token else None,
            body.get("expected_action_hash"),
            body.get("expected_agent_id"),
        )


@dataclass(frozen=True, slots=True)
class ProofVerdict:
    """Whether a proof is valid and, if not, why; its claims once its signature verified."""

    valid: bool
    reason: str | None = None
    claims: JsonObject | None = None


@dataclass(frozen=True, slots=True)
class PlaygroundRun:
    """One action to evaluate against one policy (the YAML is read when the run is made)."""

    policy_yaml: str
    #: The ActionRequest, validated and stripped as ``/v1/authorize`` reads it.
    action: ActionDoc
    action_id: str

    @classmethod
    def from_body(cls, body: object) -> PlaygroundRun:
        if not isinstance(body, dict) or not body.get("policy_yaml") or not body.get("action"):
            raise InvalidInputError("INVALID_REQUEST", "policy_yaml and action are required")
        policy_yaml = body["policy_yaml"]
        if not isinstance(policy_yaml, str):
            raise InvalidInputError("INVALID_REQUEST", "policy_yaml must be a string")
        action = parse_action(body["action"])
        return cls(policy_yaml, action, action["action_id"])


class PlaygroundDebug(TypedDict):
    #: One entry per rule, as the evaluation traced it.
    trace: list[TraceEntry]


class PlaygroundAnswer(TypedDict):
    """The playground's answer: the action's hash, the decision (as ``/v1/authorize`` would
    answer it, without a proof) and the evaluation's trace."""

    action_hash: str
    decision: DecisionBody
    debug: PlaygroundDebug


class PolicyUsed(TypedDict):
    """The stored policy a run used (``policy_id`` None: no policy is stored, the fallback
    was used)."""

    policy_id: str | None
    name: str | None


class StoredPolicyAnswer(PlaygroundAnswer):
    """A playground run against a stored policy: the answer, and the policy it used."""

    policy: PolicyUsed


class Public:
    """What anyone may ask, signed in or not. Nothing here writes."""

    def __init__(self, store: Readiness, runtime: Runtime, options: Options) -> None:
        self._store = store
        self._runtime = runtime
        self._options = options

    async def health(self) -> Health:
        """Liveness and readiness: the store answers and records writes, within a short bound
        of its own (a stalled store makes health answer ``unavailable`` fast, not hang)."""
        state = await self._store.readiness()
        return Health(state, iso_ms(self._options.clock()), f"v{self._options.version}")

    async def public_keys(self) -> tuple[ServerKey, ...]:
        """The proof-signing keys, revoked ones included (marked)."""
        return (await self._runtime.snapshot()).keyring.keys

    async def verify_proof(self, check: ProofCheck) -> ProofVerdict:
        """Always a verdict, never an error; writes nothing."""
        if check.token is None:
            return ProofVerdict(False, "Missing token")
        snap = await self._runtime.snapshot()
        try:
            # Fix (PROTOCOL §3.8): only proof tokens are proofs; session or approval tokens
            # are not.
            claims = verify_token(
                check.token, snap.keyring, now=self._options.clock(), purpose="proof"
            )
        except TokenError as exc:
            return ProofVerdict(False, exc.reason)
        reason = None
        expected_hash, expected_agent = check.expected_action_hash, check.expected_agent_id
        if expected_hash and claims.get("action_hash") != expected_hash:
            reason = "action_hash mismatch"
        if expected_agent and claims.get("agent_id") != expected_agent:
            reason = "agent_id mismatch"
        # Not audited: anyone may call this as often as they like, and the audit chain records
        # what the server decided, not who looked at a proof (the API counts calls as a metric).
        return ProofVerdict(reason is None, reason, claims)

    async def playground(self, run: PlaygroundRun) -> PlaygroundAnswer:
        """:func:`playground_run` for anyone on the network: the policy is untrusted text, so
        it is read and evaluated on a worker thread, within a time bound (see policy_work)."""
        return await playground_run_bounded(run, self._options)


async def playground_run_bounded(run: PlaygroundRun, options: Options) -> PlaygroundAnswer:
    """:func:`playground_run` on a worker thread, within a time bound (see policy_work)."""
    return await run_policy_work(functools.partial(playground_run, run, options))


def playground_run(run: PlaygroundRun, options: Options) -> PlaygroundAnswer:
    """Evaluate one action against one policy: no layering, no proof, nothing recorded.

    CPU work that grows with the policy: from the event loop, use
    :func:`playground_run_bounded`."""
    action = run.action
    policy = parse_policy(run.policy_yaml)
    context = EvalContext(
        now=options.clock(), default_proof_ttl_seconds=options.default_ttl_seconds
    )
    evaluation = evaluate(policy, action, context)
    digest = action_hash(action)
    decision = decision_body(run.action_id, digest, str(uuid.uuid4()), evaluation, None)
    return {
        "action_hash": digest,
        "decision": decision,
        "debug": {"trace": [t.copy() for t in evaluation.trace]},
    }
