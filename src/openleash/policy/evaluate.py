"""The decision: ``evaluate(policy, action, context) -> Evaluation``, a pure function.

Every rule is evaluated, for the trace; the first rule whose action pattern, ``when``,
``constraints``, ``schedule`` and ``limits`` all hold decides. Without one, the policy's default
decides. Nothing here reads a clock, a file or the network: time, the server context and the
usage counted for limits arrive in :class:`EvalContext`.

The server context answers ``$.context`` paths. The server builds it with
:func:`build_server_context`; whatever it leaves out that the engine can work out (``now``,
``risk``, the counterparty's ``domain`` and ``trust``) is filled in, and whatever it gives is
used as given, so that ``when``, ``constraints`` and the response read the same values.

Before any rule, the values of the action that some rule for its type depends on must be
usable (:mod:`.inputs`): a negative amount under an amount limit, or a currency with no ISO
4217 spelling under ``by: [currency]``, is DENY with the reason. An allow rule with an
obligation type the server does not know is DENY too: it cannot be discharged, and silently
allowing a misspelt ``HUMAN_APROVAL`` would be the opposite of what the owner wrote.

Regular expressions of one decision share one work budget (:func:`.regex.regex_budget`).

A result other than ALLOW comes with an explanation in the owner's terms (:mod:`.explain`):
what decided, and which condition kept the nearest allowing rule from holding.

Fail closed: should anything unexpected go wrong while evaluating, the answer is DENY.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple, NotRequired, TypedDict, assert_never

from openleash.domain.jsonvalue import JsonObject, JsonValue
from openleash.domain.models import Result, assurance_rank
from openleash.policy.constraints import constraints_hold, field_of
from openleash.policy.explain import Scene, explain
from openleash.policy.expressions import eval_expr
from openleash.policy.inputs import unusable_input
from openleash.policy.limits import Usage, UsageKey, check_limits
from openleash.policy.model import (
    OBLIGATION_TYPES,
    RISK_RANK,
    TRUST_RANK,
    ActionPattern,
    DefaultEffect,
    Effect,
    Policy,
    Rule,
)
from openleash.policy.regex import RegexBudgetError, regex_budget
from openleash.policy.risk import HIGHEST, LOWEST, risk_of
from openleash.policy.schedule import schedule_holds
from openleash.policy.trace import ExplanationDetails, GrantedLimit, LimitReport, TraceEntry
from openleash.policy.trust import UNKNOWN, counterparty_of, trust_of
from openleash.policy.windows import iso_utc

#: ``(type, details_json)``: the details are the obligation's ``params`` as the policy wrote
#: them (a copy), or what the server adds (``min_assurance_level``).
Obligations = tuple[tuple[str, JsonObject], ...]


class CounterpartyContext(TypedDict):
    """``$.context.counterparty``."""

    #: Absent when the action names no counterparty.
    domain: NotRequired[str]
    trust: str
    #: Absent when the caller did not count (conditions on it then do not hold).
    allowed_before: NotRequired[int]


class ServerContext(TypedDict):
    """``$.context``, as :func:`build_server_context` works it out."""

    now: str
    risk: str
    counterparty: CounterpartyContext


HUMAN_APPROVAL = "HUMAN_APPROVAL"
STEP_UP_AUTH = "STEP_UP_AUTH"
DEPOSIT = "DEPOSIT"
PROOF_TRUST_PROFILES = frozenset({"HIGH", "REGULATED"})
FAILED_CLOSED_REASON = "Evaluation failed; denied"


@dataclass(frozen=True, slots=True)
class EvalContext:
    """What the server knows that the action does not say."""

    now: datetime
    #: The server's default proof lifetime (``tokens.default_ttl_seconds``).
    default_proof_ttl_seconds: int | None = None
    #: Values computed by the server for ``$.context`` paths (see :func:`build_server_context`).
    #: ``None`` keeps v1 behaviour, where such paths read the action itself (from which the
    #: request parser strips ``context``). Given values are used as given, checked (risk and
    #: trust must be levels) or not (anything else is what conditions read).
    server_context: Mapping[str, object] | None = None
    #: The answers to :func:`~openleash.policy.limits.usage_queries`, by query key. A limit
    #: without an answer does not hold.
    usage: Mapping[UsageKey, Usage] = field(default_factory=dict)
    #: The assurance the owner confirmed for this very action (an approval's step-up); None is
    #: LOW. What the agent writes into its payload is never trusted for this (PROTOCOL §3.12).
    assurance_level: str | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    result: Result
    matched_rule_id: str | None
    reason: str
    #: ``(type, details_json)`` in order; ids and status are assigned by the caller.
    obligations: Obligations
    #: Whether an ALLOW needs a proof token (the caller issues one only for ALLOW).
    proof_required: bool
    proof_ttl_seconds: int | float | None
    #: One entry per rule: rule_id, pattern_match, when_match, constraints_match, then, when
    #: some rule of the policy has a schedule or limits, schedule_match, limits_match and (once
    #: evaluated) limits; last final_match.
    trace: tuple[TraceEntry, ...]
    #: Set only when evaluation failed closed: what went wrong, for the server's log.
    error: str | None = None
    #: When an allow rule matched under limits, for each: kind, max, used, this, remaining
    #: (``max - used - this``), window, per, by.
    limits: tuple[GrantedLimit, ...] = ()
    #: The action's risk level; ``None`` only when evaluation failed closed.
    risk_level: str | None = LOWEST
    #: For a result other than ALLOW: why, in the owner's terms (see :mod:`.explain`).
    explanation: str | None = None
    #: The same as data: ``decided_by``, ``nearest_allow_rule``, ``failed``, ``condition``.
    explanation_details: ExplanationDetails | None = None


class _Facts(NamedTuple):
    """What the server context says, once per evaluation."""

    #: What ``$.context`` paths read; ``None`` for v1 behaviour.
    view: Mapping[str, object] | None
    risk: str
    trust: str


def evaluate(policy: Policy, action: Mapping[str, object], context: EvalContext) -> Evaluation:
    """Decide ``action`` under ``policy``. Never raises; never allows by accident."""
    try:
        with regex_budget():
            return _evaluate(policy, action, context)
    except Exception as exc:  # fail closed on any surprise, by design
        return _denied(FAILED_CLOSED_REASON, None, error=f"{type(exc).__name__}: {exc}")


def _denied(reason: str, risk: str | None, *, error: str | None = None) -> Evaluation:
    return Evaluation(
        result=Result.DENY,
        matched_rule_id=None,
        reason=reason,
        obligations=(),
        proof_required=False,
        proof_ttl_seconds=None,
        trace=(),
        error=error,
        risk_level=risk,
        explanation=reason,
    )


def build_server_context(
    policy: Policy,
    action: Mapping[str, object],
    *,
    now: datetime,
    allowed_before: int | None = None,
) -> ServerContext:
    """The values of ``$.context`` for ``action``: now, risk and the counterparty.

    ``allowed_before`` is how many earlier actions of the owner with this counterparty were
    allowed (the caller counts them); ``None`` leaves it out, so conditions on it do not hold.
    """
    domain = counterparty_of(action)
    trust = trust_of(policy, domain)
    counterparty: CounterpartyContext = (
        {"trust": trust} if domain is None else {"domain": domain, "trust": trust}
    )
    if allowed_before is not None:
        counterparty["allowed_before"] = allowed_before
    moment = iso_utc(now)
    partial: Mapping[str, object] = {"now": moment, "counterparty": counterparty}
    try:
        with regex_budget():
            risk = risk_of(policy, action, partial)
    except RegexBudgetError:
        risk = HIGHEST  # fail closed: unknown risk is treated as the highest
    return {"now": moment, "risk": risk, "counterparty": counterparty}


def _evaluate(policy: Policy, action: Mapping[str, object], context: EvalContext) -> Evaluation:
    facts = _facts(policy, action, context)
    action_type = action.get("action_type")
    trace: list[TraceEntry] = []
    matched: Rule | None = None
    matched_entry: TraceEntry | None = None
    for index, rule in enumerate(policy.rules):
        entry = _trace_rule(index, rule, action, action_type, context, facts, policy.stateful)
        trace.append(entry)
        if matched is None and entry["final_match"]:
            matched, matched_entry = rule, entry
    problem = unusable_input(policy, action)
    if problem is not None:
        return _refused_input(problem, trace, facts.risk)
    result, reason, obligations = _decide(matched, policy.default, context.assurance_level)
    explained = None
    if result is not Result.ALLOW:
        scene = Scene(context.now, facts.view, facts.risk, facts.trust)
        explained = explain(policy, action, scene, trace, matched, result, obligations)
    return Evaluation(
        result=result,
        matched_rule_id=matched.id if matched is not None else None,
        reason=reason,
        obligations=obligations,
        proof_required=_proof_required(matched, action),
        proof_ttl_seconds=_proof_ttl(matched, context),
        trace=tuple(trace),
        limits=_granted(matched, matched_entry),
        risk_level=facts.risk,
        explanation=explained.text if explained is not None else None,
        explanation_details=explained.details if explained is not None else None,
    )


def _refused_input(problem: str, trace: list[TraceEntry], risk: str) -> Evaluation:
    """DENY, whatever the rules say, for an action some rule cannot judge (see inputs.py)."""
    details: ExplanationDetails = {
        "decided_by": None,
        "nearest_allow_rule": None,
        "failed": "input",
        "condition": problem,
    }
    return replace(_denied(problem, risk), trace=tuple(trace), explanation_details=details)


def _facts(policy: Policy, action: Mapping[str, object], context: EvalContext) -> _Facts:
    view = context.server_context
    if view is None:
        known = trust_of(policy, counterparty_of(action)) if policy.counterparties else UNKNOWN
        return _Facts(None, risk_of(policy, action, None), known)
    counterparty = view.get("counterparty")
    if not (
        "now" in view
        and "risk" in view
        and isinstance(counterparty, Mapping)
        and "trust" in counterparty
    ):
        view, counterparty = _completed(policy, action, context.now, view)
    risk, trust = view["risk"], counterparty["trust"]
    if type(risk) is not str or risk not in RISK_RANK:
        raise ValueError(f"server context: risk {risk!r} is not a risk level")
    if type(trust) is not str or trust not in TRUST_RANK:
        raise ValueError(f"server context: counterparty trust {trust!r} is not a trust level")
    return _Facts(view, risk, trust)


def _completed(
    policy: Policy, action: Mapping[str, object], now: datetime, given: Mapping[str, object]
) -> tuple[dict[str, object], dict[str, object]]:
    """``given`` with what it leaves out worked out, and its counterparty."""
    view = dict(given)
    view.setdefault("now", iso_utc(now))
    given_counterparty = given.get("counterparty", {})
    if not isinstance(given_counterparty, Mapping):
        raise ValueError("server context: counterparty must be an object")
    counterparty: dict[str, object] = dict(given_counterparty)
    domain = counterparty.get("domain", counterparty_of(action))
    if "domain" not in counterparty and domain is not None:
        counterparty["domain"] = domain
    if "trust" not in counterparty:
        counterparty["trust"] = trust_of(policy, domain if type(domain) is str else None)
    view["counterparty"] = counterparty
    if "risk" not in view:
        view["risk"] = risk_of(policy, action, view)
    return view, counterparty


def _trace_rule(
    index: int,
    rule: Rule,
    action: Mapping[str, object],
    action_type: object,
    context: EvalContext,
    facts: _Facts,
    stateful: bool,
) -> TraceEntry:
    pattern_match = rule.action.matches(action_type)
    when_match = constraints_match = None
    if pattern_match:
        when_match = rule.when is None or eval_expr(rule.when, action, facts.view)
        if when_match:
            constraints_match = rule.constraints is None or constraints_hold(
                rule.constraints, action, risk=facts.risk, trust=facts.trust
            )
    if stateful:
        matched = (pattern_match, when_match, constraints_match)
        return _stateful_entry(index, rule, action, context, matched)
    return {
        "rule_id": rule.id,
        "pattern_match": pattern_match,
        "when_match": when_match,
        "constraints_match": constraints_match,
        "final_match": bool(pattern_match and when_match and constraints_match),
    }


def _stateful_entry(
    index: int,
    rule: Rule,
    action: Mapping[str, object],
    context: EvalContext,
    matched: tuple[bool, bool | None, bool | None],
) -> TraceEntry:
    """The trace entry of a policy where some rule has a schedule or limits: these are
    checked once the rule's pattern, ``when`` and ``constraints`` hold (``matched``)."""
    pattern_match, when_match, constraints_match = matched
    schedule_match = limits_match = None
    report: list[LimitReport] | None = None
    if constraints_match:
        schedule_match = rule.schedule is None or schedule_holds(rule.schedule, context.now)
        if schedule_match and rule.limits is None:
            limits_match = True
        elif schedule_match and rule.limits is not None:
            limits_match, report = check_limits(index, rule.limits, action, context.usage)
    final = bool(
        pattern_match and when_match and constraints_match and schedule_match and limits_match
    )
    if report is None:
        return {
            "rule_id": rule.id,
            "pattern_match": pattern_match,
            "when_match": when_match,
            "constraints_match": constraints_match,
            "schedule_match": schedule_match,
            "limits_match": limits_match,
            "final_match": final,
        }
    return {
        "rule_id": rule.id,
        "pattern_match": pattern_match,
        "when_match": when_match,
        "constraints_match": constraints_match,
        "schedule_match": schedule_match,
        "limits_match": limits_match,
        "limits": report,
        "final_match": final,
    }


def action_matches(pattern: ActionPattern, action_type: object) -> bool:
    """``*`` matches all; ``x.*`` matches ``x`` and ``x.<anything>``; otherwise exact."""
    return pattern.matches(action_type)


def _granted(rule: Rule | None, entry: TraceEntry | None) -> tuple[GrantedLimit, ...]:
    if rule is None or entry is None or rule.effect is not Effect.ALLOW or "limits" not in entry:
        return ()
    return tuple(_grant(limit) for limit in entry["limits"])


def _grant(limit: LimitReport) -> GrantedLimit:
    used, this = limit["used"], limit["this"]
    if used is None or this is None:
        # INVARIANT: every limit of the rule that decided holds, so both are known.
        raise ValueError("a limit of the deciding rule has no total")
    return {
        "kind": limit["kind"],
        "max": limit["max"],
        "used": used,
        "this": this,
        "remaining": limit["max"] - used - this,
        "window": limit["window"],
        "per": limit["per"],
        "by": dict(limit["by"]),
    }


# ---- decision -------------------------------------------------------------------------------


def _decide(
    rule: Rule | None, default: DefaultEffect, assurance: str | None
) -> tuple[Result, str, Obligations]:
    if rule is None:
        return _by_default(default)
    match rule.effect:
        case Effect.DENY:
            # A deny rule carries no obligations, whatever it lists.
            return Result.DENY, f'Denied by rule "{rule.id}"', ()
        case Effect.ALLOW:
            unknown = [o.type for o in rule.obligations or () if o.type not in OBLIGATION_TYPES]
            if unknown:
                # Fail closed: an obligation nobody can discharge must not turn into ALLOW.
                return Result.DENY, _unknown_obligation(rule, unknown[0]), ()
            obligations = _obligations(rule, assurance)
            result = _blocking_result(obligations)
            if result is Result.ALLOW:
                return result, f'Allowed by rule "{rule.id}"', obligations
            return result, f'Rule "{rule.id}" requires: {result}', obligations
        case _:
            assert_never(rule.effect)


def _unknown_obligation(rule: Rule, kind: str) -> str:
    known = ", ".join(OBLIGATION_TYPES)
    return f'Rule "{rule.id}" has an obligation of unknown type "{kind}" (known: {known}); denied'


def _by_default(default: DefaultEffect) -> tuple[Result, str, Obligations]:
    reason = f"No rule matched; default policy: {default}"
    match default:
        case DefaultEffect.ALLOW:
            return Result.ALLOW, reason, ()
        case DefaultEffect.REQUIRE_APPROVAL:
            return Result.REQUIRE_APPROVAL, reason, ((HUMAN_APPROVAL, {}),)
        case DefaultEffect.DENY:
            return Result.DENY, reason, ()
        case DefaultEffect.PASSTHROUGH:
            # Layer merging resolves passthrough; only a lone policy (playground) gets here.
            return Result.DENY, f"{reason} (no further layer — denied)", ()
        case _:
            assert_never(default)


def _blocking_result(obligations: Obligations) -> Result:
    """Strongest blocking obligation wins; other types are listed but do not block."""
    types = {kind for kind, _ in obligations}
    if HUMAN_APPROVAL in types:
        return Result.REQUIRE_APPROVAL
    if STEP_UP_AUTH in types:
        return Result.REQUIRE_STEP_UP
    if DEPOSIT in types:
        return Result.REQUIRE_DEPOSIT
    return Result.ALLOW


def _obligations(rule: Rule, assurance: str | None) -> Obligations:
    listed: list[tuple[str, JsonObject]] = [
        (o.type, _copy_object(o.params) if o.params is not None else {})
        for o in rule.obligations or ()
    ]
    required = rule.requirements.min_assurance_level if rule.requirements else None
    if required is not None and assurance_rank(assurance) < assurance_rank(required):
        listed.append((STEP_UP_AUTH, {"min_assurance_level": required}))
    return tuple(listed)


def _proof_required(rule: Rule | None, action: Mapping[str, object]) -> bool:
    if rule is not None and rule.proof is not None and rule.proof.required is True:
        return True
    trust = field_of(action.get("relying_party"), "trust_profile")
    return type(trust) is str and trust in PROOF_TRUST_PROFILES


def _proof_ttl(rule: Rule | None, context: EvalContext) -> int | float | None:
    if rule is not None and rule.proof is not None and rule.proof.ttl_seconds is not None:
        return rule.proof.ttl_seconds
    return context.default_proof_ttl_seconds


def _copy_object(value: JsonObject) -> JsonObject:
    # Callers own what they get back; the policy must stay as parsed.
    return {k: _copy(v) for k, v in value.items()}


def _copy(value: JsonValue) -> JsonValue:
    if isinstance(value, dict):
        return _copy_object(value)
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
