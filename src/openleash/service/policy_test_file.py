"""Reading a policy test file (docs/policy-tests.md) into typed cases, naming file and line of
every problem."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from openleash.domain.action import ActionDoc, parse_action
from openleash.domain.errors import OpenLeashError
from openleash.domain.jsonvalue import JsonObject, JsonValue
from openleash.domain.models import Result
from openleash.domain.timefmt import iso_ms, parse_timestamp
from openleash.policy import RISK_LEVELS, Policy, Usage
from openleash.policy.checker import Checker, optional, shown
from openleash.policy.syntax import Path
from openleash.service.bodies import action_agent_id

TOP_KEYS = ("policy", "policy_yaml", "now", "cases")
CASE_KEYS = ("name", "now", "action", "history", "usage", "allowed_before", "expect")
HISTORY_KEYS = ("at", "ago", "agent", "repeat", "action_type", "payload", "relying_party")
EXPECT_KEYS = ("result", "rule", "obligations", "risk_level", "explanation_contains")
USAGE_KEYS = ("amount", "count")
#: When neither the case nor the file says: a Monday, noon UTC.
DEFAULT_NOW = "2026-01-05T12:00:00Z"
DEFAULT_AGENT = "test-agent"
#: The owner every case's action is taken for (``subject.principal_id``).
TEST_OWNER = "00000000-0000-4000-8000-000000000001"
MAX_REPEAT = 100_000

_ACTION_PARTS = ("action_type", "payload", "relying_party")
_SPAN = re.compile(r"([0-9]{1,6})([smhd])")
_SPAN_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class Earlier:
    """An action the server allowed before the case's action."""

    at: datetime
    agent: str
    action: ActionDoc
    repeat: int = 1


@dataclass(frozen=True, slots=True)
class Expectation:
    result: Result
    #: Only what the case names is compared; ``rule`` may be expected ``None`` (the default).
    named: frozenset[str]
    rule: str | None = None
    obligations: tuple[str, ...] = ()
    risk_level: str | None = None
    explanation_contains: str | None = None


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    line: int | None
    now: datetime
    action: ActionDoc
    history: tuple[Earlier, ...]
    #: Used amounts and counts by rule id, in place of what ``history`` adds up to.
    usage: dict[str, Usage]
    allowed_before: int | None
    expect: Expectation


def top_level(c: Checker, data: JsonValue) -> JsonObject | None:
    return c.mapping(data, (), keys=TOP_KEYS, required=("cases",))


def read_now(c: Checker, top: JsonObject) -> datetime:
    parsed = optional(c, top, (), "now", _moment)
    return parsed or _fixed(DEFAULT_NOW)


def read_cases(
    c: Checker, top: JsonObject, policy: Policy, now: datetime
) -> tuple[Case, ...] | None:
    def one(c: Checker, data: JsonValue, path: Path) -> Case | None:
        return _case(c, data, path, policy, now)

    cases = c.each(top["cases"], ("cases",), one)
    if cases is not None and not cases:
        c.fail(("cases",), "has no case; add at least one")
    return cases


def _case(
    c: Checker, data: JsonValue, path: Path, policy: Policy, file_now: datetime
) -> Case | None:
    before = c.count()
    node = c.mapping(data, path, keys=CASE_KEYS, required=("name", "action", "expect"))
    if node is None:
        return None
    name = optional(c, node, path, "name", lambda c, d, p: c.string(d, p))
    now = optional(c, node, path, "now", _moment) or file_now
    act = optional(c, node, path, "action", _action_at(now))
    agent = (action_agent_id(act) if act is not None else None) or DEFAULT_AGENT
    history = optional(c, node, path, "history", _history_at(now, agent))
    usage = optional(c, node, path, "usage", _usage_of(policy))
    allowed_before = optional(c, node, path, "allowed_before", _whole)
    expect = optional(c, node, path, "expect", _expect)
    if c.count() != before or name is None or act is None or expect is None:
        return None
    return Case(
        name=name,
        line=c.line(path),
        now=now,
        action=act,
        history=history or (),
        usage=usage or {},
        allowed_before=allowed_before,
        expect=expect,
    )


# ---- actions --------------------------------------------------------------------------------


def _action_at(now: datetime) -> Callable[[Checker, JsonValue, Path], ActionDoc | None]:
    def build(c: Checker, data: JsonValue, path: Path) -> ActionDoc | None:
        node = c.mapping(data, path, keys=None, required=("action_type",))
        if node is None:
            return None
        return _complete(c, dict(node), path, now)

    return build


def _complete(c: Checker, raw: JsonObject, path: Path, now: datetime) -> ActionDoc | None:
    """The action as an agent would send it: missing ids, time and principal filled in."""
    raw.setdefault("action_id", str(uuid.uuid5(uuid.NAMESPACE_URL, repr(path))))
    raw.setdefault("requested_at", iso_ms(now))
    raw.setdefault("principal", {"agent_id": DEFAULT_AGENT})
    raw.setdefault("subject", {"principal_id": TEST_OWNER})
    raw.setdefault("payload", {})
    try:
        return parse_action(raw)
    except OpenLeashError as exc:
        c.fail(path, f"is not a valid action: {exc.message}")
        return None


def _history_at(
    now: datetime, agent: str
) -> Callable[[Checker, JsonValue, Path], tuple[Earlier, ...] | None]:
    def build(c: Checker, data: JsonValue, path: Path) -> tuple[Earlier, ...] | None:
        return c.each(data, path, lambda c, d, p: _earlier(c, d, p, now, agent))

    return build


def _earlier(
    c: Checker, data: JsonValue, path: Path, now: datetime, default_agent: str
) -> Earlier | None:
    before = c.count()
    node = c.mapping(data, path, keys=HISTORY_KEYS, required=("action_type",))
    if node is None:
        return None
    at = _when(c, node, path, now)
    agent = optional(c, node, path, "agent", lambda c, d, p: c.string(d, p)) or default_agent
    repeat = optional(c, node, path, "repeat", _whole)
    fields: JsonObject = {k: node[k] for k in _ACTION_PARTS if k in node}
    fields["principal"] = {"agent_id": agent}
    act = _complete(c, fields, path, now)
    if repeat is not None and not 1 <= repeat <= MAX_REPEAT:
        c.fail((*path, "repeat"), f"must be between 1 and {MAX_REPEAT}, not {repeat}")
    if c.count() != before or at is None or act is None:
        return None
    return Earlier(at=at, agent=agent, action=act, repeat=repeat or 1)


def _when(c: Checker, node: JsonObject, path: Path, now: datetime) -> datetime | None:
    if ("at" in node) == ("ago" in node):
        c.fail(path, "needs exactly one of `at` (a time) or `ago` (such as 2h)")
        return None
    at = optional(c, node, path, "at", _moment)
    if "ago" in node:
        span = _span(c, node["ago"], (*path, "ago"))
        at = now - span if span is not None else None
    if at is not None and at > now:
        c.fail(path, f"is after the case's time ({iso_ms(now)}); history is what came before")
        return None
    return at


# ---- usage and expectations -----------------------------------------------------------------


def _usage_of(policy: Policy) -> Callable[[Checker, JsonValue, Path], dict[str, Usage] | None]:
    limited = {rule.id for rule in policy.rules if rule.limits}

    def build(c: Checker, data: JsonValue, path: Path) -> dict[str, Usage] | None:
        before = c.count()
        node = c.mapping(data, path, keys=None, required=())
        if node is None:
            return None
        usage: dict[str, Usage] = {}
        for rule_id, value in node.items():
            if rule_id not in limited:
                names = ", ".join(sorted(limited)) or "none"
                c.fail((*path, rule_id), f"no rule `{rule_id}` with limits (rules with: {names})")
                continue
            entry = c.mapping(value, (*path, rule_id), keys=USAGE_KEYS, required=())
            if entry is not None:
                amount = optional(c, entry, (*path, rule_id), "amount", _non_negative)
                count = optional(c, entry, (*path, rule_id), "count", _whole)
                usage[rule_id] = Usage(amount or 0, count or 0)
        return usage if c.count() == before else None

    return build


def _expect(c: Checker, data: JsonValue, path: Path) -> Expectation | None:
    before = c.count()
    node = c.mapping(data, path, keys=EXPECT_KEYS, required=("result",))
    if node is None:
        return None
    result = optional(c, node, path, "result", lambda c, d, p: c.choice(d, p, list(Result)))
    rule = node.get("rule")
    if rule is not None and not isinstance(rule, str):
        c.fail((*path, "rule"), f"must be a rule id, or null for the default, not {shown(rule)}")
    obligations = optional(c, node, path, "obligations", lambda c, d, p: c.strings(d, p))
    risk = optional(c, node, path, "risk_level", lambda c, d, p: c.choice(d, p, RISK_LEVELS))
    contains = optional(c, node, path, "explanation_contains", lambda c, d, p: c.string(d, p))
    if c.count() != before or result is None:
        return None
    return Expectation(
        result=Result(result),
        named=frozenset(node),
        rule=rule if isinstance(rule, str) else None,
        obligations=obligations or (),
        risk_level=risk,
        explanation_contains=contains,
    )


# ---- scalars --------------------------------------------------------------------------------


def _moment(c: Checker, data: JsonValue, path: Path) -> datetime | None:
    text = c.string(data, path)
    moment = parse_timestamp(text) if text is not None else None
    if text is not None and moment is None:
        c.fail(path, f"must be a time with a zone, such as 2026-07-01T10:00:00Z, not {shown(text)}")
    return moment


def _span(c: Checker, data: JsonValue, path: Path) -> timedelta | None:
    text = c.string(data, path)
    found = _SPAN.fullmatch(text) if text is not None else None
    if text is not None and found is None:
        c.fail(path, f"must be a span such as 90s, 15m, 2h or 3d, not {shown(text)}")
    if found is None:
        return None
    return timedelta(seconds=int(found.group(1)) * _SPAN_SECONDS[found.group(2)])


def _whole(c: Checker, data: JsonValue, path: Path) -> int | None:
    value = c.number(data, path)
    if value is not None and not (value >= 0 and value == int(value)):
        c.fail(path, f"must be a whole number, 0 or more, not {shown(data)}")
        return None
    return int(value) if value is not None else None


def _non_negative(c: Checker, data: JsonValue, path: Path) -> int | float | None:
    value = c.number(data, path)
    if value is not None and not value >= 0:
        c.fail(path, f"must be 0 or more, not {shown(data)}")
        return None
    return value


def _fixed(text: str) -> datetime:
    return datetime.fromisoformat(text)
