"""``openleash policy replay``: how recorded decisions would change under a candidate policy.

Every ``DECISION_CREATED`` record holds the action as decided (after redaction, when the audit
log redacts fields), the server time of the decision, the owner and the agent. Replay decides
each recorded action again under the candidate, at its recorded time, in time order.

Usage is rebuilt, not copied: the actions the *candidate* allows are counted in an in-memory
ledger as they are replayed, and budgets, rate limits and ``allowed_before`` are answered from
it. A candidate with a tighter budget therefore sees only the spending it would itself have
allowed, and one with a looser budget sees more. To start with the right totals, records from
before ``since`` are replayed too (without being reported), as far back as the candidate's
longest limit window, or from the first record when a condition reads ``allowed_before``.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict

from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import AuditEvent, Result
from openleash.domain.timefmt import iso_ms, parse_timestamp
from openleash.policy import Evaluation, Policy, evaluate, parse_policy
from openleash.service.decision_context import plan_context
from openleash.service.memory_ledger import MemoryLedger, offline_context
from openleash.service.ports import AuditFilter, AuditLog, Units
from openleash.service.replay_window import parse_since, warm_up_start

#: Records read per read unit.
BATCH = 1000
ARROW = "\u2192"


@dataclass(frozen=True, slots=True)
class ReplayQuery:
    """Which decisions to report; ``agent`` is an agent id or an agent principal id and
    ``since`` an ISO-8601 time, a date, or a span back from now (``7d``)."""

    owner: str | None = None
    agent: str | None = None
    since: str | None = None
    #: Examples kept per transition (the latest ones).
    examples: int = 5


class Outcome(TypedDict):
    result: str
    rule: str | None


class ExampleWire(TypedDict):
    """:meth:`ReplayExample.to_wire`."""

    decision_id: str | None
    at: str
    agent_id: str | None
    action_type: str | None
    old: Outcome
    new: Outcome
    explanation: str | None


class ReportWire(TypedDict):
    """:meth:`ReplayReport.to_wire` (``openleash policy replay --json``)."""

    since: str | None
    replayed: int
    unchanged: int
    rule_changed: int
    changed: int
    skipped: int
    warm_up: int
    transitions: dict[str, int]
    examples: dict[str, list[ExampleWire]]


@dataclass(frozen=True, slots=True)
class ReplayExample:
    decision_id: str | None
    at: str
    agent_id: str | None
    action_type: str | None
    old_result: str
    old_rule: str | None
    new_result: str
    new_rule: str | None
    #: Why the candidate decided as it did: its explanation, or its reason for an ALLOW.
    explanation: str | None

    def to_wire(self) -> ExampleWire:
        return {
            "decision_id": self.decision_id,
            "at": self.at,
            "agent_id": self.agent_id,
            "action_type": self.action_type,
            "old": {"result": self.old_result, "rule": self.old_rule},
            "new": {"result": self.new_result, "rule": self.new_rule},
            "explanation": self.explanation,
        }


@dataclass
class ReplayReport:
    since: str | None
    #: Decisions re-decided and reported.
    replayed: int = 0
    #: Of those, how many got the same result (``rule_changed`` of them by another rule).
    unchanged: int = 0
    rule_changed: int = 0
    #: Records that could not be re-decided: no recorded action, owner, agent or time.
    skipped: int = 0
    #: Records before ``since`` replayed only to rebuild the usage the candidate would count.
    warm_up: int = 0
    #: ``"ALLOW→DENY"``: how many decisions would change so.
    transitions: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[ReplayExample]] = field(default_factory=dict)

    def to_wire(self) -> ReportWire:
        return {
            "since": self.since,
            "replayed": self.replayed,
            "unchanged": self.unchanged,
            "rule_changed": self.rule_changed,
            "changed": sum(self.transitions.values()),
            "skipped": self.skipped,
            "warm_up": self.warm_up,
            "transitions": dict(self.transitions.most_common()),
            "examples": {
                key: [example.to_wire() for example in found]
                for key, found in self.examples.items()
            },
        }


@dataclass(frozen=True, slots=True)
class _Recorded:
    event: AuditEvent
    meta: Mapping[str, object]
    at: datetime
    action: JsonObject
    owner_id: str
    agent_principal_id: str
    old_result: str


async def replay(
    store: Units[AuditLog], candidate_yaml: str, query: ReplayQuery, *, now: datetime
) -> ReplayReport:
    """Re-decide the recorded decisions ``query`` selects under the candidate policy."""
    candidate = parse_policy(candidate_yaml)
    since = parse_since(query.since, now)
    start = warm_up_start(candidate, since)
    report = ReplayReport(since=iso_ms(since) if since is not None else None)
    kept: dict[str, deque[ReplayExample]] = {}
    ledger = MemoryLedger()
    for event in await _decisions(store, query.owner, start):
        recorded = _recorded(event)
        reported = _selected(event, query.agent, since)
        if recorded is None:
            report.skipped += int(reported)
            continue
        evaluation = _redecide(candidate, recorded, ledger)
        if reported:
            _tally(report, kept, recorded, evaluation, query.examples)
        else:
            report.warm_up += 1
    report.examples = {key: list(found) for key, found in kept.items()}
    return report


async def _decisions(
    store: Units[AuditLog], owner: str | None, start: datetime | None
) -> list[AuditEvent]:
    """Every decision record of the owner (of all owners when ``None``) from ``start`` on, in
    time order; read in batches, each in its own read unit."""
    filters = AuditFilter(
        owner_id=owner or None,
        event_type="DECISION_CREATED",
        since=iso_ms(start) if start is not None else None,
    )
    async with store.read() as tx:
        end = await tx.last_seq()
    found: list[tuple[str, int, AuditEvent]] = []
    after = 0
    while after < end:
        async with store.read() as tx:
            rows = await tx.audit_rows(after_seq=after, limit=BATCH, filters=filters)
        found += [(row.timestamp, row.seq, row.event()) for row in rows if row.seq <= end]
        if len(rows) < BATCH:
            break
        after = rows[-1].seq
    # Commit order and server time agree but for concurrent requests; time decides.
    found.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in found]


def _recorded(event: AuditEvent) -> _Recorded | None:
    meta = event.metadata_json
    action, owner, agent = meta.get("action"), meta.get("owner_id"), meta.get("agent_principal_id")
    at = parse_timestamp(event.timestamp)
    result = meta.get("result")
    if not isinstance(action, dict) or not isinstance(owner, str) or not isinstance(agent, str):
        return None
    if at is None or not isinstance(result, str) or result not in Result.__members__:
        return None
    return _Recorded(event, meta, at, action, owner, agent, result)


def _selected(event: AuditEvent, agent: str | None, since: datetime | None) -> bool:
    if since is not None and event.timestamp < iso_ms(since):
        return False
    meta = event.metadata_json
    return agent is None or agent in (meta.get("agent_principal_id"), meta.get("agent_id"))


def _redecide(candidate: Policy, recorded: _Recorded, ledger: MemoryLedger) -> Evaluation:
    owner, agent, at = recorded.owner_id, recorded.agent_principal_id, recorded.at
    plan = plan_context(candidate, recorded.action, owner, agent, at)
    context = offline_context(ledger, plan)
    evaluation = evaluate(candidate, recorded.action, context.evaluation(at))
    if evaluation.result is Result.ALLOW:
        ledger.record(owner, agent, recorded.action, at)
    return evaluation


def _tally(
    report: ReplayReport,
    kept: dict[str, deque[ReplayExample]],
    recorded: _Recorded,
    evaluation: Evaluation,
    examples: int,
) -> None:
    report.replayed += 1
    old_rule = recorded.meta.get("matched_rule_id")
    new_result = evaluation.result.value
    if new_result == recorded.old_result:
        report.unchanged += 1
        report.rule_changed += int(old_rule != evaluation.matched_rule_id)
        return
    key = f"{recorded.old_result}{ARROW}{new_result}"
    report.transitions[key] += 1
    if examples > 0:
        kept.setdefault(key, deque(maxlen=examples)).append(_example(recorded, evaluation))


def _example(recorded: _Recorded, evaluation: Evaluation) -> ReplayExample:
    meta, action = recorded.meta, recorded.action
    return ReplayExample(
        decision_id=recorded.event.decision_id,
        at=recorded.event.timestamp,
        agent_id=_text(meta.get("agent_id")),
        action_type=_text(action.get("action_type")),
        old_result=recorded.old_result,
        old_rule=_text(meta.get("matched_rule_id")),
        new_result=evaluation.result.value,
        new_rule=evaluation.matched_rule_id,
        explanation=evaluation.explanation or evaluation.reason,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
