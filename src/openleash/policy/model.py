"""The typed, frozen form of a policy, as the parser builds it and the evaluator reads it.

Every optional part is ``None`` when the policy leaves it out, so that "absent" and "empty"
stay distinct, as they are in the policy language. :meth:`Policy.canonical_data` turns a policy
back into plain data in a fixed key order, the basis for hashing the policy that decided.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, fields
from typing import Literal
from zoneinfo import ZoneInfo

from openleash.domain.errors import PolicyIssue
from openleash.domain.jsonvalue import JsonObject, JsonOut, JsonValue
from openleash.domain.models import AssuranceLevel
from openleash.policy.paths import UNDEFINED, JsonPath, Undefined
from openleash.policy.regex import JsRegex


class Effect(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class DefaultEffect(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    PASSTHROUGH = "passthrough"
    REQUIRE_APPROVAL = "require_approval"


class Op(enum.StrEnum):
    EQ = "eq"
    NEQ = "neq"
    IN = "in"
    NIN = "nin"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    REGEX = "regex"
    EXISTS = "exists"


#: The obligation types the server knows: the first three hold a decision back (strongest
#: first); COUNTERPARTY_ATTESTATION is listed with an ALLOW and holds nothing back, as in v1.
OBLIGATION_TYPES: tuple[str, ...] = (
    "HUMAN_APPROVAL",
    "STEP_UP_AUTH",
    "DEPOSIT",
    "COUNTERPARTY_ATTESTATION",
)
#: Assurance levels in increasing strength.
ASSURANCE_LEVELS: tuple[str, ...] = tuple(level.value for level in AssuranceLevel)
#: The owner's risk classes of actions, in increasing order.
RISK_LEVELS: tuple[str, ...] = ("low", "medium", "high", "critical")
#: The owner's trust in counterparties, in increasing order.
TRUST_LEVELS: tuple[str, ...] = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "REGULATED")
#: Days of the week as schedules name them, Monday first (``datetime.weekday()`` order).
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: What a limit may be counted separately by.
LIMIT_BY: tuple[str, ...] = ("currency", "counterparty", "action_type")
LIMIT_PER: tuple[str, ...] = ("agent", "owner")

RISK_RANK = {level: rank for rank, level in enumerate(RISK_LEVELS)}
TRUST_RANK = {level: rank for rank, level in enumerate(TRUST_LEVELS)}

LimitKind = Literal["spend", "count"]
LimitPer = Literal["agent", "owner"]


@dataclass(frozen=True, slots=True)
class ActionPattern:
    """``*``, a ``prefix.*`` family, or one exact action type.

    As a filter elsewhere (SQL, say): ``any`` matches every type; a ``prefix`` ``p`` matches
    ``p`` itself and every type starting with ``p.``; otherwise the type must equal ``text``.
    """

    text: str
    #: For ``x.*`` patterns the ``x``; ``None`` for ``*`` and for exact patterns.
    prefix: str | None
    any: bool

    @property
    def kind(self) -> Literal["any", "prefix", "exact"]:
        if self.any:
            return "any"
        return "exact" if self.prefix is None else "prefix"

    def matches(self, action_type: object) -> bool:
        """``*`` matches all; ``x.*`` matches ``x`` and ``x.<anything>``; otherwise exact."""
        if self.any:
            return True
        if type(action_type) is not str:
            return False
        prefix = self.prefix
        if prefix is not None:
            return action_type == prefix or action_type.startswith(prefix + ".")
        return action_type == self.text


def compile_action_pattern(text: str) -> ActionPattern:
    if text == "*":
        return ActionPattern(text, None, True)
    if text.endswith(".*"):
        return ActionPattern(text, text[:-2], False)
    return ActionPattern(text, None, False)


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr


@dataclass(frozen=True, slots=True)
class Match:
    path: JsonPath
    op: Op
    #: The ``value`` key, or :data:`UNDEFINED` when the policy leaves it out.
    value: JsonValue | Undefined
    #: For ``regex`` with a string value: the compiled pattern, ``None`` where JavaScript
    #: would reject the pattern (the match is then false, as in v1).
    regex: JsRegex | None = field(default=None, compare=False)


Expr = AllOf | AnyOf | Not | Match


@dataclass(frozen=True, slots=True)
class Constraints:
    amount_max: int | float | None = None
    amount_min: int | float | None = None
    currency: tuple[str, ...] | None = None
    merchant_domain: tuple[str, ...] | None = None
    allowed_domains: tuple[str, ...] | None = None
    blocked_domains: tuple[str, ...] | None = None
    #: The counterparty's trust must be one of these (see ``counterparties``).
    counterparty_trust: tuple[str, ...] | None = None
    #: The action's risk must be at most this level (see ``risk``).
    max_risk: str | None = None


@dataclass(frozen=True, slots=True)
class Requirements:
    min_assurance_level: str | None = None
    credential_scheme: str | None = None


@dataclass(frozen=True, slots=True)
class Obligation:
    type: str
    #: ``params`` as written; the obligation's ``details_json`` is a copy (``{}`` if absent).
    params: JsonObject | None = None


@dataclass(frozen=True, slots=True)
class Proof:
    required: bool | None = None
    ttl_seconds: int | float | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a rule may match, by the server clock read in ``timezone``."""

    timezone: str = "UTC"
    #: In week order; all seven when the policy leaves ``days`` out.
    days: tuple[str, ...] = DAYS
    #: ``(start, end)`` as ``HH:MM``, end exclusive; wraps past midnight when start > end.
    between: tuple[str, str] | None = None
    zone: ZoneInfo = field(init=False, compare=False, repr=False)
    weekdays: frozenset[int] = field(init=False, compare=False, repr=False)
    #: ``between`` in minutes after midnight.
    minutes: tuple[int, int] | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", ZoneInfo(self.timezone))
        object.__setattr__(self, "weekdays", frozenset(DAYS.index(day) for day in self.days))
        minutes = None
        if self.between is not None:
            start, end = self.between
            minutes = (_minute_of_day(start), _minute_of_day(end))
        object.__setattr__(self, "minutes", minutes)

    def canonical_data(self) -> dict[str, JsonOut]:
        out: dict[str, JsonOut] = {"timezone": self.timezone, "days": list(self.days)}
        if self.between is not None:
            out["between"] = list(self.between)
        return out


def _minute_of_day(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, slots=True)
class Window:
    """A rolling window of ``seconds`` before now, or the current calendar ``day|week|month``."""

    text: str
    seconds: int | None = None
    calendar: Literal["day", "week", "month"] | None = None


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``max`` minor units spent (``spend``) or actions allowed (``count``) per window."""

    kind: LimitKind
    max: int | float
    window: Window
    per: LimitPer = "agent"
    #: Counted separately for each value of these fields (see :data:`LIMIT_BY`).
    by: tuple[str, ...] = ()
    #: Where calendar windows start; rolling windows ignore it.
    timezone: str = "UTC"
    zone: ZoneInfo = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", ZoneInfo(self.timezone))

    def canonical_data(self) -> dict[str, JsonOut]:
        out: dict[str, JsonOut] = {
            str(self.kind): json_data(self.max),
            "window": self.window.text,
            "per": str(self.per),
            "by": list(self.by),
        }
        if self.window.calendar is not None:
            out["timezone"] = self.timezone
        return out


@dataclass(frozen=True, slots=True)
class RiskEntry:
    """Actions matching ``action`` (and ``when``) are at least ``level`` risky."""

    action: ActionPattern
    level: str
    when: Expr | None = None

    def canonical_data(self) -> dict[str, JsonOut]:
        out: dict[str, JsonOut] = {"action": self.action.text, "level": self.level}
        if self.when is not None:
            out["when"] = expr_data(self.when)
        return out


@dataclass(frozen=True, slots=True)
class Counterparty:
    """The owner's ``trust`` in one domain, or in every subdomain of a ``*.suffix``."""

    #: Lower-case; a pattern keeps its leading ``*.``.
    domain: str
    trust: str

    def canonical_data(self) -> dict[str, JsonOut]:
        return {"domain": self.domain, "trust": self.trust}


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    effect: Effect
    action: ActionPattern
    description: str | None = None
    when: Expr | None = None
    constraints: Constraints | None = None
    requirements: Requirements | None = None
    obligations: tuple[Obligation, ...] | None = None
    proof: Proof | None = None
    schedule: Schedule | None = None
    limits: tuple[Limit, ...] | None = None

    def canonical_data(self) -> dict[str, JsonOut]:
        out: dict[str, JsonOut] = {
            "id": self.id,
            "effect": str(self.effect),
            "action": self.action.text,
        }
        _put(out, "description", self.description)
        if self.when is not None:
            out["when"] = expr_data(self.when)
        if self.constraints is not None:
            out["constraints"] = _fields(self.constraints)
        if self.requirements is not None:
            out["requirements"] = _fields(self.requirements)
        if self.obligations is not None:
            out["obligations"] = [_obligation_data(o) for o in self.obligations]
        if self.proof is not None:
            out["proof"] = _fields(self.proof)
        if self.schedule is not None:
            out["schedule"] = self.schedule.canonical_data()
        if self.limits is not None:
            out["limits"] = [limit.canonical_data() for limit in self.limits]
        return out


@dataclass(frozen=True, slots=True)
class Policy:
    version: int
    default: DefaultEffect
    rules: tuple[Rule, ...]
    #: Located notes about things that are valid but probably not meant (never compared).
    warnings: tuple[PolicyIssue, ...] = field(default=(), compare=False)
    risk: tuple[RiskEntry, ...] | None = None
    #: In layer order, most specific layer first: on equal specificity the first entry wins.
    counterparties: tuple[Counterparty, ...] | None = None
    #: Trust by exact domain, and by the suffix of ``*.suffix`` patterns.
    trust_index: tuple[dict[str, str], dict[str, str]] = field(
        init=False, compare=False, repr=False
    )
    #: Whether some rule has a ``schedule`` or ``limits`` (and so traces report them).
    stateful: bool = field(init=False, compare=False, repr=False)
    #: Whether some condition can read ``$.context.counterparty.allowed_before``, which costs
    #: the server a look-up; the server skips it for policies that cannot read it.
    reads_allowed_before: bool = field(init=False, compare=False, repr=False)
    #: The rules that depend on agent values which must be usable (see inputs.py), each with
    #: what it depends on; worked out once, as the decision reads it on every request.
    input_needs: tuple[tuple[Rule, frozenset[str]], ...] = field(
        init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        needs = ((rule, input_needs(rule)) for rule in self.rules)
        object.__setattr__(self, "input_needs", tuple((r, n) for r, n in needs if n))
        exact: dict[str, str] = {}
        suffixes: dict[str, str] = {}
        for entry in self.counterparties or ():
            if entry.domain.startswith("*."):
                suffixes.setdefault(entry.domain[2:], entry.trust)
            else:
                exact.setdefault(entry.domain, entry.trust)
        object.__setattr__(self, "trust_index", (exact, suffixes))
        stateful = any(r.schedule is not None or r.limits is not None for r in self.rules)
        object.__setattr__(self, "stateful", stateful)
        conditions = [r.when for r in self.rules] + [e.when for e in self.risk or ()]
        reads = any(_reads_allowed_before(c) for c in conditions if c is not None)
        object.__setattr__(self, "reads_allowed_before", reads)

    def canonical_data(self) -> dict[str, JsonOut]:
        """Plain data in a fixed key order: equal for policies that decide alike as written."""
        out: dict[str, JsonOut] = {
            "version": self.version,
            "default": str(self.default),
            "rules": [rule.canonical_data() for rule in self.rules],
        }
        if self.risk is not None:
            out["risk"] = [entry.canonical_data() for entry in self.risk]
        if self.counterparties is not None:
            out["counterparties"] = [entry.canonical_data() for entry in self.counterparties]
        return out


def expr_data(expr: Expr) -> dict[str, JsonOut]:
    match expr:
        case AllOf(items):
            return {"all": [expr_data(item) for item in items]}
        case AnyOf(items):
            return {"any": [expr_data(item) for item in items]}
        case Not(item):
            return {"not": expr_data(item)}
        case Match(path, op, value):
            out: dict[str, JsonOut] = {"path": path.text, "op": str(op)}
            if value is not UNDEFINED:
                out["value"] = json_data(value)
            return {"match": out}


def json_data(value: JsonOut) -> JsonOut:
    """A detached copy of JSON-like data; non-finite numbers become ``None`` as in JSON text."""
    if isinstance(value, dict):
        return {key: json_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_data(item) for item in value]
    if type(value) is float and not math.isfinite(value):
        return None
    return value


def _put(out: dict[str, JsonOut], key: str, value: JsonOut) -> None:
    if value is not None:
        out[key] = json_data(value)


def _fields(record: Constraints | Requirements | Proof) -> dict[str, JsonOut]:
    out: dict[str, JsonOut] = {}
    for spec in fields(record):
        _put(out, spec.name, getattr(record, spec.name))
    return out


def _obligation_data(obligation: Obligation) -> dict[str, JsonOut]:
    out: dict[str, JsonOut] = {"type": obligation.type}
    _put(out, "params", obligation.params)
    return out


def input_needs(rule: Rule) -> frozenset[str]:
    """Which agent values ``rule`` depends on: ``amount``, ``currency`` (listed),
    and ``by:currency``, ``by:counterparty``, ``by:action_type`` (grouped)."""
    c, limits = rule.constraints, rule.limits or ()
    needs: set[str] = {f"by:{name}" for limit in limits for name in limit.by}
    if any(limit.kind == "spend" for limit in limits) or (
        c is not None and (c.amount_min is not None or c.amount_max is not None)
    ):
        needs.add("amount")
    if c is not None and c.currency is not None:
        needs.add("currency")
    return frozenset(needs)


_ALLOWED_BEFORE = ("context", "counterparty", "allowed_before")


def _reads_allowed_before(expr: Expr) -> bool:
    """True when a path of ``expr`` is ``$.context``, ``$.context.counterparty`` or
    ``$.context.counterparty.allowed_before`` (or goes below it)."""
    match expr:
        case AllOf(items) | AnyOf(items):
            return any(_reads_allowed_before(item) for item in items)
        case Not(item):
            return _reads_allowed_before(item)
        case Match(path=path):
            head = tuple(path.segments[:3])
            return head == _ALLOWED_BEFORE[: len(head)]
    return False
