"""The decision: ``evaluate(policy, action, context) -> Evaluation``, a pure function.

Every rule is evaluated, for the trace; the first rule whose action pattern, ``when`` and
``constraints`` all hold decides. Without one, the policy's default decides. Nothing here reads
a clock, a file or the network: time and server knowledge arrive in :class:`EvalContext`.

Fail closed: should anything unexpected go wrong while evaluating, the answer is DENY.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, assert_never

from openleash.domain.models import Result
from openleash.policy.model import (
    ASSURANCE_LEVELS,
    ActionPattern,
    AllOf,
    AnyOf,
    Constraints,
    DefaultEffect,
    Effect,
    Expr,
    Match,
    Not,
    Op,
    Policy,
    Rule,
)
from openleash.policy.paths import (
    UNDEFINED,
    is_js_number,
    js_includes,
    js_regex_test,
    js_strict_equal,
    resolve_segments,
)

Obligations = tuple[tuple[str, dict[str, Any]], ...]

HUMAN_APPROVAL = "HUMAN_APPROVAL"
STEP_UP_AUTH = "STEP_UP_AUTH"
DEPOSIT = "DEPOSIT"
PROOF_TRUST_PROFILES = frozenset({"HIGH", "REGULATED"})
FAILED_CLOSED_REASON = "Evaluation failed; denied"

_LEVEL_RANK = {level: rank for rank, level in enumerate(ASSURANCE_LEVELS)}


@dataclass(frozen=True, slots=True)
class EvalContext:
    """What the server knows that the action does not say."""

    now: datetime
    #: The server's default proof lifetime (``tokens.default_ttl_seconds``).
    default_proof_ttl_seconds: int | None = None
    #: Values computed by the server for ``$.context`` paths. ``None`` keeps v1 behaviour, where
    #: such paths read the action itself (from which the request parser strips ``context``).
    server_context: Mapping[str, Any] | None = None


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
    #: One entry per rule: rule_id, pattern_match, when_match, constraints_match, final_match.
    trace: tuple[dict[str, Any], ...]
    #: Set only when evaluation failed closed: what went wrong, for the server's log.
    error: str | None = None


def evaluate(policy: Policy, action: Mapping[str, Any], context: EvalContext) -> Evaluation:
    """Decide ``action`` under ``policy``. Never raises; never allows by accident."""
    try:
        return _evaluate(policy, action, context)
    except Exception as exc:  # fail closed on any surprise, by design
        return Evaluation(
            result=Result.DENY,
            matched_rule_id=None,
            reason=FAILED_CLOSED_REASON,
            obligations=(),
            proof_required=False,
            proof_ttl_seconds=None,
            trace=(),
            error=f"{type(exc).__name__}: {exc}",
        )


def _evaluate(policy: Policy, action: Mapping[str, Any], context: EvalContext) -> Evaluation:
    action_type = action.get("action_type")
    trace: list[dict[str, Any]] = []
    matched: Rule | None = None
    for rule in policy.rules:
        entry = _trace_rule(rule, action, action_type, context)
        trace.append(entry)
        if matched is None and entry["final_match"]:
            matched = rule
    result, reason, obligations = _decide(matched, policy.default, action)
    return Evaluation(
        result=result,
        matched_rule_id=matched.id if matched is not None else None,
        reason=reason,
        obligations=obligations,
        proof_required=_proof_required(matched, action),
        proof_ttl_seconds=_proof_ttl(matched, context),
        trace=tuple(trace),
    )


def _trace_rule(
    rule: Rule, action: Mapping[str, Any], action_type: Any, context: EvalContext
) -> dict[str, Any]:
    pattern_match = action_matches(rule.action, action_type)
    when_match = None
    constraints_match = None
    if pattern_match:
        when_match = rule.when is None or eval_expr(rule.when, action, context)
        if when_match:
            constraints_match = rule.constraints is None or constraints_hold(
                rule.constraints, action
            )
    return {
        "rule_id": rule.id,
        "pattern_match": pattern_match,
        "when_match": when_match,
        "constraints_match": constraints_match,
        "final_match": bool(pattern_match and when_match and constraints_match),
    }


def action_matches(pattern: ActionPattern, action_type: Any) -> bool:
    """``*`` matches all; ``x.*`` matches ``x`` and ``x.<anything>``; otherwise exact."""
    if pattern.any:
        return True
    if type(action_type) is not str:
        return False
    if pattern.prefix is not None:
        prefix = pattern.prefix
        return action_type == prefix or action_type.startswith(prefix + ".")
    return action_type == pattern.text


# ---- decision -------------------------------------------------------------------------------


def _decide(
    rule: Rule | None, default: DefaultEffect, action: Mapping[str, Any]
) -> tuple[Result, str, Obligations]:
    if rule is None:
        return _by_default(default)
    match rule.effect:
        case Effect.DENY:
            # A deny rule carries no obligations, whatever it lists.
            return Result.DENY, f'Denied by rule "{rule.id}"', ()
        case Effect.ALLOW:
            obligations = _obligations(rule, action)
            result = _blocking_result(obligations)
            if result is Result.ALLOW:
                return result, f'Allowed by rule "{rule.id}"', obligations
            return result, f'Rule "{rule.id}" requires: {result}', obligations
        case _:
            assert_never(rule.effect)


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


def _obligations(rule: Rule, action: Mapping[str, Any]) -> Obligations:
    listed = [
        (o.type, _copy(o.params) if o.params is not None else {}) for o in rule.obligations or ()
    ]
    required = rule.requirements.min_assurance_level if rule.requirements else None
    if required is not None and _assurance_rank(action) < _LEVEL_RANK[required]:
        listed.append((STEP_UP_AUTH, {"min_assurance_level": required}))
    return tuple(listed)


def _assurance_rank(action: Mapping[str, Any]) -> int:
    # v1: the level is what the agent wrote in its payload (LOW when absent); unknown is LOW.
    level = _field(action.get("payload"), "assurance_level")
    return _LEVEL_RANK.get(level, 0) if type(level) is str else 0


def _proof_required(rule: Rule | None, action: Mapping[str, Any]) -> bool:
    if rule is not None and rule.proof is not None and rule.proof.required is True:
        return True
    trust = _field(action.get("relying_party"), "trust_profile")
    return type(trust) is str and trust in PROOF_TRUST_PROFILES


def _proof_ttl(rule: Rule | None, context: EvalContext) -> int | float | None:
    if rule is not None and rule.proof is not None and rule.proof.ttl_seconds is not None:
        return rule.proof.ttl_seconds
    return context.default_proof_ttl_seconds


def _copy(value: Any) -> Any:
    # Callers own what they get back; the policy must stay as parsed.
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _field(container: Any, key: str) -> Any:
    return container.get(key, UNDEFINED) if isinstance(container, dict) else UNDEFINED


# ---- expressions ----------------------------------------------------------------------------


def eval_expr(expr: Expr, action: Mapping[str, Any], context: EvalContext) -> bool:
    match expr:
        case Match():
            return _OPS[expr.op](_actual(expr, action, context), expr)
        case AllOf(items):
            return all(eval_expr(item, action, context) for item in items)
        case AnyOf(items):
            return any(eval_expr(item, action, context) for item in items)
        case Not(item):
            return not eval_expr(item, action, context)
        case _:
            assert_never(expr)


def _actual(expr: Match, action: Mapping[str, Any], context: EvalContext) -> Any:
    segments = expr.path.segments
    if context.server_context is not None and segments and segments[0] == "context":
        return resolve_segments(segments[1:], context.server_context)
    return resolve_segments(segments, action)


def _op_eq(actual: Any, m: Match) -> bool:
    return js_strict_equal(actual, m.value)


def _op_neq(actual: Any, m: Match) -> bool:
    return not js_strict_equal(actual, m.value)


def _op_in(actual: Any, m: Match) -> bool:
    return isinstance(m.value, list) and js_includes(m.value, actual)


def _op_nin(actual: Any, m: Match) -> bool:
    # Not the negation of `in`: a value that is not a list makes both false.
    return isinstance(m.value, list) and not js_includes(m.value, actual)


def _numeric(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Match], bool]:
    def op(actual: Any, m: Match) -> bool:
        return is_js_number(actual) and is_js_number(m.value) and compare(actual, m.value)

    return op


def _op_regex(actual: Any, m: Match) -> bool:
    return type(actual) is str and m.regex is not None and js_regex_test(m.regex, actual)


def _op_exists(actual: Any, m: Match) -> bool:
    return actual is not UNDEFINED and actual is not None


_OPS: dict[Op, Callable[[Any, Match], bool]] = {
    Op.EQ: _op_eq,
    Op.NEQ: _op_neq,
    Op.IN: _op_in,
    Op.NIN: _op_nin,
    Op.LT: _numeric(lambda a, b: a < b),
    Op.LTE: _numeric(lambda a, b: a <= b),
    Op.GT: _numeric(lambda a, b: a > b),
    Op.GTE: _numeric(lambda a, b: a >= b),
    Op.REGEX: _op_regex,
    Op.EXISTS: _op_exists,
}


# ---- constraints ----------------------------------------------------------------------------


def constraints_hold(constraints: Constraints, action: Mapping[str, Any]) -> bool:
    payload = action.get("payload")
    return (
        _amount_ok(constraints, payload)
        and _in_list(constraints.currency, _field(payload, "currency"))
        and _in_list(constraints.merchant_domain, _domain(payload, action, "merchant_domain"))
        and _in_list(constraints.allowed_domains, _domain(payload, action, "domain"))
        and _not_blocked(constraints.blocked_domains, _domain(payload, action, "domain"))
    )


def _amount_ok(constraints: Constraints, payload: Any) -> bool:
    low, high = constraints.amount_min, constraints.amount_max
    if low is None and high is None:
        return True
    amount = _field(payload, "amount_minor")
    if not is_js_number(amount):
        return False
    return (low is None or amount >= low) and (high is None or amount <= high)


def _in_list(allowed: tuple[str, ...] | None, value: Any) -> bool:
    return allowed is None or (type(value) is str and value in allowed)


def _not_blocked(blocked: tuple[str, ...] | None, value: Any) -> bool:
    return blocked is None or not (type(value) is str and value in blocked)


def _domain(payload: Any, action: Mapping[str, Any], key: str) -> Any:
    """``payload[key] ?? relying_party.domain``: only null and missing fall back."""
    value = _field(payload, key)
    if value is None or value is UNDEFINED:
        return _field(action.get("relying_party"), "domain")
    return value
