"""``openleash.Engine``: decide actions in-process, without a server or HTTP.

For a Python agent (or a test) that wants the policy language without the sidecar. Decisions
are the server's decisions for the same policy, action, time and history: limits and
"allowed before" count the actions this engine allowed (kept in memory, per engine); there is no
audit log, nonce, proof token or approval flow (those need the server).

    engine = Engine.from_yaml(policy_text)
    decision = engine.decide(action)
    if decision.result is Result.ALLOW: ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from openleash.domain.action import parse_action
from openleash.domain.models import Result
from openleash.policy import Evaluation, Policy, evaluate, parse_policy
from openleash.service.decision_context import plan_context
from openleash.service.memory_ledger import MemoryLedger, offline_context
from openleash.service.options import utc_now

__all__ = ["Engine", "Evaluation", "Result"]


class Engine:
    """One policy (parsed once) and the memory of what it allowed."""

    __slots__ = ("_agent", "_clock", "_ledger", "_owner", "_ttl", "policy")

    def __init__(
        self,
        policy: Policy,
        *,
        owner_id: str = "local-owner",
        agent_principal_id: str = "local-agent",
        clock: Callable[[], datetime] = utc_now,
        default_proof_ttl_seconds: int = 120,
    ) -> None:
        self.policy = policy
        self._owner = owner_id
        self._agent = agent_principal_id
        self._clock = clock
        self._ttl = default_proof_ttl_seconds
        self._ledger = MemoryLedger()

    @classmethod
    def from_yaml(cls, policy_yaml: str, **options: Any) -> Engine:
        """Parse and validate ``policy_yaml`` (``PolicyError`` names each problem and line)."""
        return cls(parse_policy(policy_yaml), **options)

    @classmethod
    def from_file(cls, path: str | Path, **options: Any) -> Engine:
        return cls.from_yaml(Path(path).read_text(encoding="utf-8"), **options)

    def decide(
        self,
        action: Mapping[str, object],
        *,
        now: datetime | None = None,
        validate: bool = True,
        record: bool = True,
    ) -> Evaluation:
        """The decision for ``action`` (an ActionRequest, as sent to ``/v1/authorize``).

        ``validate`` checks and strips the action as the server does (``OpenLeashError`` with
        ``INVALID_ACTION_REQUEST``); pass False for actions already validated. With ``record``,
        an allowed action counts towards later limits."""
        checked = parse_action(dict(action)) if validate else action
        moment = now or self._clock()
        plan = plan_context(self.policy, checked, self._owner, self._agent, moment)
        context = offline_context(self._ledger, plan)
        evaluation = evaluate(
            self.policy,
            checked,
            context.evaluation(moment, default_proof_ttl_seconds=self._ttl),
        )
        if record and evaluation.result is Result.ALLOW:
            self._ledger.record(self._owner, self._agent, checked, moment)
        return evaluation
