"""Why a decision is not ALLOW, in the owner's terms.

An explanation names what decided (a deny rule, an allow rule's obligations, or the default)
and, for the *nearest allowing rule* (the first allow rule, in policy order, other than the one
that decided, whose action pattern matches), the first condition that kept it from holding
(and the same for up to two more allowing rules that did not hold, as ``also``):

* ``amount_minor`` 12000 > ``amount_max`` 10000
* ``when``: ``$.payload.category`` eq "books" is false (it is "gifts")
* outside the schedule: Sat 10:00 Europe/Stockholm, allowed mon-fri 08:00-18:00
* budget: 48000 of 50000 used in the last 24h, this 3000

The conditions are read from the trace and checked again with the same predicates the decision
used, so the explanation cannot disagree with it. Computed only for decisions other than ALLOW.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from openleash.domain.models import Result
from openleash.policy.constraints import (
    amount_ok,
    field_of,
    in_list,
    is_usable_amount,
    judged_domains,
    not_blocked,
    risk_ok,
    trust_ok,
)
from openleash.policy.expressions import eval_expr, match_actual
from openleash.policy.keys import currency_code
from openleash.policy.model import (
    DAYS,
    AllOf,
    AnyOf,
    Constraints,
    DefaultEffect,
    Effect,
    Expr,
    Match,
    Not,
    Policy,
    Rule,
    Schedule,
)
from openleash.policy.paths import UNDEFINED, is_js_number
from openleash.policy.trace import ExplanationDetails, LimitReport, OtherFailure, TraceEntry
from openleash.policy.trust import counterparty_of
from openleash.policy.windows import CALENDAR_WINDOWS

#: Obligation types that hold a decision back, with how an owner would say them.
_BLOCKING = {
    "HUMAN_APPROVAL": "human approval",
    "STEP_UP_AUTH": "step-up authentication",
    "DEPOSIT": "a deposit",
}
_CALENDAR_PERIOD = {"day": "today", "week": "this week", "month": "this month"}
_MAX_VALUE_TEXT = 80
_MAX_ALTERNATIVES = 3
#: How many allowing rules after the nearest one an explanation also names.
_MAX_OTHERS = 2


@dataclass(frozen=True, slots=True)
class Scene:
    """What the conditions were checked against: the server's time and context."""

    now: datetime
    #: What ``$.context`` paths read; ``None`` for v1 behaviour.
    view: Mapping[str, object] | None
    risk: str
    trust: str


@dataclass(frozen=True, slots=True)
class Explanation:
    text: str
    #: ``decided_by`` (rule id, ``None`` for the default), ``nearest_allow_rule``, ``failed``
    #: (``when``, ``constraints``, ``schedule``, ``limits`` or ``order``) and ``condition``;
    #: ``also``, when present: ``[{rule, failed, condition}]`` for further allowing rules.
    details: ExplanationDetails


def explain(
    policy: Policy,
    action: Mapping[str, object],
    scene: Scene,
    trace: Sequence[TraceEntry],
    decided_by: Rule | None,
    result: Result,
    obligations: Sequence[tuple[str, Mapping[str, object]]],
) -> Explanation:
    """Explain a decision that is not ALLOW. Never raises: an explanation never changes one."""
    try:
        return _explain(policy, action, scene, trace, decided_by, obligations)
    except Exception as exc:  # the decision stands whatever goes wrong here
        details: ExplanationDetails = {
            "decided_by": decided_by.id if decided_by else None,
            "error": repr(exc),
        }
        return Explanation(f"{result}; no explanation available", details)


def _explain(
    policy: Policy,
    action: Mapping[str, object],
    scene: Scene,
    trace: Sequence[TraceEntry],
    decided_by: Rule | None,
    obligations: Sequence[tuple[str, Mapping[str, object]]],
) -> Explanation:
    headline = _headline(policy.default, decided_by, obligations, action)
    details: ExplanationDetails = {
        "decided_by": decided_by.id if decided_by is not None else None,
        "nearest_allow_rule": None,
        "failed": None,
        "condition": None,
    }
    allowing = _allow_rules(policy, trace, decided_by)
    if allowing:
        return Explanation(
            f"{headline} {_nearest(allowing, decided_by, action, scene, details)}", details
        )
    if decided_by is not None and decided_by.effect is Effect.ALLOW:
        return Explanation(headline, details)
    kind = value_text(action.get("action_type", UNDEFINED))
    return Explanation(f"{headline} No rule allows action type {kind}.", details)


def _nearest(
    allowing: Sequence[tuple[Rule, TraceEntry]],
    decided_by: Rule | None,
    action: Mapping[str, object],
    scene: Scene,
    details: ExplanationDetails,
) -> str:
    """What kept the allowing rules from holding; fills in ``details``."""
    (rule, entry), others = allowing[0], allowing[1 : 1 + _MAX_OTHERS]
    failed, condition = _failure(rule, entry, action, scene)
    details["nearest_allow_rule"] = rule.id
    details["failed"] = failed
    details["condition"] = condition
    if failed == "order":
        after = f'"{decided_by.id}"' if decided_by is not None else "the rule that decided"
        return f'The nearest allowing rule, "{rule.id}", holds but comes after {after}.'
    text = f'The nearest allowing rule, "{rule.id}", does not hold: {condition}.'
    also = [_other(other, other_entry, action, scene) for other, other_entry in others]
    also = [item for item in also if item["failed"] != "order"]
    if also:
        details["also"] = also
        text += "".join(f' Nor does "{a["rule"]}": {a["condition"]}.' for a in also)
    return text


def _other(
    rule: Rule, entry: TraceEntry, action: Mapping[str, object], scene: Scene
) -> OtherFailure:
    failed, condition = _failure(rule, entry, action, scene)
    return {"rule": rule.id, "failed": failed, "condition": condition}


# ---- what decided ---------------------------------------------------------------------------


def _headline(
    default: DefaultEffect,
    rule: Rule | None,
    obligations: Sequence[tuple[str, Mapping[str, object]]],
    action: Mapping[str, object],
) -> str:
    if rule is None:
        if default is DefaultEffect.PASSTHROUGH:
            return "No rule matched and the default passes through, with no further layer: denied."
        return f"No rule matched, so the policy's default applies: {default}."
    about = f" ({rule.description})" if rule.description else ""
    if rule.effect is Effect.DENY:
        return f'Denied by rule "{rule.id}"{about}.'
    needs = [_obligation_text(kind, params, action) for kind, params in obligations]
    wanted = " and ".join(text for text in needs if text)
    return f'Rule "{rule.id}"{about} requires {wanted}.'


def _obligation_text(kind: str, params: Mapping[str, object], action: Mapping[str, object]) -> str:
    text = _BLOCKING.get(kind, "")
    level = params.get("min_assurance_level")
    if kind == "STEP_UP_AUTH" and type(level) is str:
        text += f" to assurance level {level}, confirmed by the owner"
    return text


def _allow_rules(
    policy: Policy, trace: Sequence[TraceEntry], decided_by: Rule | None
) -> list[tuple[Rule, TraceEntry]]:
    """The allow rules other than the one that decided whose action pattern matched."""
    return [
        (rule, entry)
        for rule, entry in zip(policy.rules, trace, strict=True)
        if rule.effect is Effect.ALLOW and entry["pattern_match"] and rule is not decided_by
    ]


def _failure(
    rule: Rule, entry: TraceEntry, action: Mapping[str, object], scene: Scene
) -> tuple[str, str]:
    if entry["when_match"] is False and rule.when is not None:
        return "when", "when: " + _why_false(rule.when, action, scene.view)
    if entry["constraints_match"] is False and rule.constraints is not None:
        return "constraints", constraint_failure(rule.constraints, action, scene)
    if entry.get("schedule_match") is False and rule.schedule is not None:
        return "schedule", schedule_failure(rule.schedule, scene.now)
    if entry.get("limits_match") is False:
        return "limits", limits_failure(entry.get("limits", ()))
    return "order", "it holds, but an earlier rule decided"


# ---- constraints ----------------------------------------------------------------------------


def constraint_failure(constraints: Constraints, action: Mapping[str, object], scene: Scene) -> str:
    """The first constraint that does not hold, in the order the decision checks them."""
    c, payload = constraints, action.get("payload")
    if not amount_ok(c, payload):
        return _amount_text(c, field_of(payload, "amount_minor"))
    currency = field_of(payload, "currency")
    if not in_list(c.currency, currency_code(currency)):
        return f"`currency` {value_text(currency)} not in {_names(c.currency)}"
    for merchant in judged_domains(payload, action, "merchant_domain"):
        if not in_list(c.merchant_domain, merchant):
            return f"`merchant_domain` {value_text(merchant)} not in {_names(c.merchant_domain)}"
    for domain in judged_domains(payload, action, "domain"):
        if not in_list(c.allowed_domains, domain):
            allowed = _names(c.allowed_domains)
            return f"domain {value_text(domain)} not in `allowed_domains` {allowed}"
        if not not_blocked(c.blocked_domains, domain):
            return f"domain {value_text(domain)} is in `blocked_domains`"
    if not trust_ok(c, scene.trust):
        who = counterparty_of(action)
        of = f" ({who})" if who else " (the action names no counterparty)"
        return f"counterparty trust {scene.trust}{of} not in {_names(c.counterparty_trust)}"
    if not risk_ok(c, scene.risk):
        return f"risk {scene.risk} above `max_risk` {c.max_risk}"
    return "the constraints do not hold"


def _amount_text(c: Constraints, amount: object) -> str:
    if not is_js_number(amount):
        return f"`amount_minor` is {value_text(amount)}, not a number"
    if not is_usable_amount(amount):
        return f"`amount_minor` {_number(amount)} is not a finite amount from 0 to 2**53"
    if c.amount_min is not None and amount < c.amount_min:
        return f"`amount_minor` {_number(amount)} < `amount_min` {_number(c.amount_min)}"
    return f"`amount_minor` {_number(amount)} > `amount_max` {_number(c.amount_max)}"


def _names(items: tuple[str, ...] | None) -> str:
    return "[" + ", ".join(items or ()) + "]"


# ---- when -----------------------------------------------------------------------------------


def _why_false(expr: Expr, action: Mapping[str, object], view: Mapping[str, object] | None) -> str:
    """Why ``expr``, which does not hold, does not: the failing match, with what it read."""
    match expr:
        case Match():
            return f"{_match_text(expr)} is false (it is {_actual_text(expr, action, view)})"
        case AllOf(items):
            failing = next(i for i in items if not eval_expr(i, action, view))
            return _why_false(failing, action, view)
        case AnyOf(items):
            if not items:
                return "`any` of no conditions is false"
            reasons = [_why_false(i, action, view) for i in items[:_MAX_ALTERNATIVES]]
            more = "; ..." if len(items) > _MAX_ALTERNATIVES else ""
            return "none holds of: " + "; ".join(reasons) + more
        case Not(item):
            if isinstance(item, Match):
                actual = _actual_text(item, action, view)
                return f"not ({_match_text(item)}) is false (it is {actual})"
            return "a `not` condition is false: what it negates holds"


def _match_text(m: Match) -> str:
    expected = "" if m.value is UNDEFINED else f" {value_text(m.value)}"
    return f"`{m.path.text}` {m.op}{expected}"


def _actual_text(m: Match, action: Mapping[str, object], view: Mapping[str, object] | None) -> str:
    return value_text(match_actual(m, action, view))


# ---- schedule and limits --------------------------------------------------------------------


def schedule_failure(schedule: Schedule, now: datetime) -> str:
    local = now.astimezone(schedule.zone)
    at = f"{DAYS[local.weekday()].capitalize()} {local:%H:%M} {schedule.timezone}"
    allowed = _days_text(schedule.days)
    if schedule.between is not None:
        allowed += f" {schedule.between[0]}-{schedule.between[1]}"
    return f"outside the schedule: {at}, allowed {allowed}"


def _days_text(days: tuple[str, ...]) -> str:
    if len(days) == len(DAYS):
        return "every day"
    indices = [DAYS.index(day) for day in days]
    consecutive = indices == list(range(indices[0], indices[0] + len(indices)))
    if consecutive and len(days) >= 3:
        return f"{days[0]}-{days[-1]}"
    return ", ".join(days)


def limits_failure(report: Sequence[LimitReport]) -> str:
    failing = [_limit_text(limit) for limit in report if not limit["holds"]]
    return "; ".join(failing) if failing else "the limits do not hold"


def _limit_text(limit: LimitReport) -> str:
    kind = "budget" if limit["kind"] == "spend" else "rate"
    scope = [f"{name} {value_text(value)}" for name, value in limit["by"].items()]
    label = kind + (" for " + ", ".join(scope) if scope else "")
    label += " (all the owner's agents)" if limit["per"] == "owner" else ""
    used, this, maximum = limit["used"], limit["this"], limit["max"]
    period = _period(limit["window"])
    if used is None:
        return f"{label}: usage {period} is not known"
    if this is None:
        return f"{label}: the action has no `amount_minor` to count against it"
    if kind == "budget":
        return f"{label}: {_number(used)} of {_number(maximum)} used {period}, this {_number(this)}"
    return f"{label}: {_number(used)} of {_number(maximum)} actions {period}"


def _period(window: str) -> str:
    calendar = CALENDAR_WINDOWS.get(window)
    return _CALENDAR_PERIOD[calendar] if calendar is not None else f"in the last {window}"


# ---- values ---------------------------------------------------------------------------------


def value_text(value: object) -> str:
    """A value as an owner reads it: strings quoted, numbers plain, ``missing`` for none."""
    if value is UNDEFINED:
        return "missing"
    if is_js_number(value):
        return _number(value)
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= _MAX_VALUE_TEXT else text[: _MAX_VALUE_TEXT - 3] + "..."


def _number(value: object) -> str:
    if type(value) is float and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)
