"""Policy text or plain data to a typed :class:`~openleash.policy.model.Policy`.

Validation accepts exactly what the published JSON Schema accepts (see ``schema.json``), plus
one fix, ``proof.ttl_seconds`` must be greater than 0, and checks JSON Schema cannot state:
time zones must exist in the IANA database, a rolling window is at most 366 days, the two times
of ``between`` differ, ``counterparties`` lists a domain once (in any case), and a ``risk``
entry's ``when`` does not read ``$.context.risk``. Unlike a schema validator it collects
*every* problem and names each by place and line, for example
``rules[2].constraints: unknown key `amount_mx` (line 14)``.

Each extension of the language builds its own part: ``schedule``, ``limits``, ``risk`` and
``counterparties`` (in ``trust``); expressions are built in ``expressions``.

Regular expressions are compiled here, once. A pattern JavaScript would reject does not make
the policy invalid (the TypeScript server accepts it and the match is simply false); it is
kept as a warning on the policy instead.
"""

from __future__ import annotations

import copy

from openleash.domain.errors import PolicyError, PolicyIssue, PolicyTooLargeError
from openleash.domain.jsonvalue import JsonObject, JsonValue
from openleash.policy.checker import Checker, format_issue, format_path, no_line, optional, shown
from openleash.policy.expressions import EXPR_KEYS, MATCH_KEYS, MAX_EXPR_DEPTH, parse_when
from openleash.policy.keys import currency_code, domain_text
from openleash.policy.limits import parse_limits
from openleash.policy.model import (
    ASSURANCE_LEVELS,
    OBLIGATION_TYPES,
    TRUST_LEVELS,
    Constraints,
    DefaultEffect,
    Effect,
    Obligation,
    Policy,
    Proof,
    Requirements,
    Rule,
    compile_action_pattern,
)
from openleash.policy.paths import is_js_number
from openleash.policy.risk import parse_risk, parse_risk_level
from openleash.policy.schedule import parse_schedule
from openleash.policy.syntax import Document, Path, YamlError, load_document
from openleash.policy.trust import parse_counterparties

__all__ = [
    "CONSTRAINT_CONTEXT",
    "CONSTRAINT_LISTS",
    "CONSTRAINT_NUMBERS",
    "EXPR_KEYS",
    "MATCH_KEYS",
    "MAX_EXPR_DEPTH",
    "MAX_POLICY_BYTES",
    "MAX_RULES",
    "OBLIGATION_KEYS",
    "PROOF_KEYS",
    "REQUIREMENT_KEYS",
    "RULE_KEYS",
    "RULE_REQUIRED",
    "TOP_KEYS",
    "TOP_REQUIRED",
    "format_issue",
    "format_path",
    "parse_policy",
    "parse_policy_data",
]

TOP_KEYS = ("version", "default", "rules", "risk", "counterparties")
TOP_REQUIRED = ("version", "default", "rules")
RULE_KEYS = (
    "id",
    "effect",
    "action",
    "description",
    "when",
    "constraints",
    "requirements",
    "obligations",
    "proof",
    "schedule",
    "limits",
)
RULE_REQUIRED = ("id", "effect", "action")
CONSTRAINT_NUMBERS = ("amount_max", "amount_min")
CONSTRAINT_LISTS = ("currency", "merchant_domain", "allowed_domains", "blocked_domains")
#: Constraints on what the server knows of the action: the counterparty's trust, the risk.
CONSTRAINT_CONTEXT = ("counterparty_trust", "max_risk")
REQUIREMENT_KEYS = ("min_assurance_level", "credential_scheme")
PROOF_KEYS = ("required", "ttl_seconds")
#: Bounds far above any real policy (which has tens of rules in a few kilobytes), so that no
#: policy can make parsing or evaluating it take long. See docs/policies.md.
MAX_POLICY_BYTES = 131_072
MAX_RULES = 1_000
OBLIGATION_KEYS = ("type", "params")


def parse_policy(yaml_text: str) -> Policy:
    """Parse and validate a policy; raise :class:`PolicyError` naming every problem.

    Every way a policy enters the server (API, owner API, portal, CLI, drafts, playground)
    comes through here, so the size bounds hold for all of them: a policy beyond
    :data:`MAX_POLICY_BYTES` is refused before it is read (``PAYLOAD_TOO_LARGE``).
    """
    # Every character is at least one byte: a long text is refused without encoding it.
    too_long = len(yaml_text) > MAX_POLICY_BYTES
    if too_long or len(yaml_text.encode("utf-8", "surrogatepass")) > MAX_POLICY_BYTES:
        message = f"the policy is larger than {MAX_POLICY_BYTES} bytes (UTF-8)"
        issue: PolicyIssue = {"path": "policy", "message": message, "line": None}
        raise PolicyTooLargeError(f"Policy too large: {message}", [issue])
    try:
        document = load_document(yaml_text)
    except YamlError as exc:
        where = f" (line {exc.line})" if exc.line is not None else ""
        issue = {"path": "policy", "message": exc.problem, "line": exc.line}
        raise PolicyError(f"Invalid policy YAML: {exc.problem}{where}", [issue]) from None
    return parse_policy_data(document.data, document=document)


def parse_policy_data(data: JsonValue, *, document: Document | None = None) -> Policy:
    """Validate plain data (as loaded from YAML or JSON) into a :class:`Policy`."""
    checker = Checker(document.line if document is not None else no_line)
    try:
        policy = _policy(checker, data)
    except RecursionError:
        checker.fail((), "policy is nested too deeply")
        policy = None
    if checker.issues or policy is None:
        raise PolicyError(
            "Policy validation failed: " + "; ".join(map(format_issue, checker.issues)),
            checker.issues,
        )
    return policy


def _policy(c: Checker, data: JsonValue) -> Policy | None:
    top = c.mapping(data, (), keys=TOP_KEYS, required=TOP_REQUIRED)
    if top is None:
        return None
    version = optional(c, top, (), "version", _version)
    default = optional(c, top, (), "default", _default)
    rules = optional(c, top, (), "rules", _rules)
    risk = optional(c, top, (), "risk", parse_risk)
    counterparties = optional(c, top, (), "counterparties", parse_counterparties)
    if c.issues or version is None or default is None or rules is None:
        return None
    return Policy(
        version,
        default,
        rules,
        tuple(c.warnings),
        risk=risk,
        counterparties=counterparties,
    )


def _version(c: Checker, data: JsonValue, path: Path) -> int | None:
    if not is_js_number(data) or data != 1:
        c.fail(path, f"must be 1, not {shown(data)}")
        return None
    return 1


def _default(c: Checker, data: JsonValue, path: Path) -> DefaultEffect | None:
    chosen = c.choice(data, path, [d.value for d in DefaultEffect])
    return DefaultEffect(chosen) if chosen is not None else None


def _rules(c: Checker, data: JsonValue, path: Path) -> tuple[Rule, ...] | None:
    if isinstance(data, list) and len(data) > MAX_RULES:
        c.fail(path, f"has {len(data)} rules; at most {MAX_RULES} are accepted")
        return None
    return c.each(data, path, _rule)


def _rule(c: Checker, data: JsonValue, path: Path) -> Rule | None:
    before = c.count()
    rule = c.mapping(data, path, keys=RULE_KEYS, required=RULE_REQUIRED)
    if rule is None:
        return None
    rule_id = optional(c, rule, path, "id", Checker.string)
    effect = optional(c, rule, path, "effect", _effect)
    action = optional(c, rule, path, "action", Checker.string)
    description = optional(c, rule, path, "description", Checker.string)
    # Built directly: a type checker solves `optional`'s type variable poorly for a union.
    when = parse_when(c, rule["when"], (*path, "when")) if "when" in rule else None
    constraints = optional(c, rule, path, "constraints", _constraints)
    requirements = optional(c, rule, path, "requirements", _requirements)
    obligations = optional(c, rule, path, "obligations", _obligations)
    proof = optional(c, rule, path, "proof", _proof)
    schedule = optional(c, rule, path, "schedule", parse_schedule)
    limits = optional(c, rule, path, "limits", parse_limits)
    if c.count() != before or rule_id is None or effect is None or action is None:
        return None
    return Rule(
        id=rule_id,
        effect=effect,
        action=compile_action_pattern(action),
        description=description,
        when=when,
        constraints=constraints,
        requirements=requirements,
        obligations=obligations,
        proof=proof,
        schedule=schedule,
        limits=limits,
    )


def _effect(c: Checker, data: JsonValue, path: Path) -> Effect | None:
    chosen = c.choice(data, path, [e.value for e in Effect])
    return Effect(chosen) if chosen is not None else None


def _constraints(c: Checker, data: JsonValue, path: Path) -> Constraints | None:
    before = c.count()
    keys = CONSTRAINT_NUMBERS + CONSTRAINT_LISTS + CONSTRAINT_CONTEXT
    node = c.mapping(data, path, keys=keys, required=())
    if node is None:
        return None
    numbers = {k: optional(c, node, path, k, Checker.number) for k in CONSTRAINT_NUMBERS}
    lists = {
        k: optional(c, node, path, k, _currencies if k == "currency" else _domains)
        for k in CONSTRAINT_LISTS
    }
    trust = optional(c, node, path, "counterparty_trust", _trust_levels)
    max_risk = optional(c, node, path, "max_risk", parse_risk_level)
    if c.count() != before:
        return None
    return Constraints(
        amount_max=numbers["amount_max"],
        amount_min=numbers["amount_min"],
        currency=lists["currency"],
        merchant_domain=lists["merchant_domain"],
        allowed_domains=lists["allowed_domains"],
        blocked_domains=lists["blocked_domains"],
        counterparty_trust=trust,
        max_risk=max_risk,
    )


def _currencies(c: Checker, data: JsonValue, path: Path) -> tuple[str, ...] | None:
    """ISO 4217 codes, kept in their one spelling (``usd`` is ``USD``), as payloads are read."""
    before = c.count()
    items = c.strings(data, path)
    if items is None:
        return None
    codes = [currency_code(item) for item in items]
    for i, (item, code) in enumerate(zip(items, codes, strict=True)):
        if code is None:
            c.fail((*path, i), f"must be a three-letter ISO 4217 code such as USD, not `{item}`")
    return tuple(code for code in codes if code is not None) if c.count() == before else None


def _domains(c: Checker, data: JsonValue, path: Path) -> tuple[str, ...] | None:
    """Domains in their one spelling (trimmed, lower-case, no trailing dot), as actions are read."""
    items = c.strings(data, path)
    return tuple(domain_text(item) for item in items) if items is not None else None


def _trust_levels(c: Checker, data: JsonValue, path: Path) -> tuple[str, ...] | None:
    before = c.count()
    items = c.items(data, path)
    if items is None:
        return None
    levels: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, str) and item in TRUST_LEVELS:
            levels.append(item)
        else:
            c.fail((*path, i), f"unknown trust {shown(item)}; use {', '.join(TRUST_LEVELS)}")
    return tuple(levels) if c.count() == before else None


def _requirements(c: Checker, data: JsonValue, path: Path) -> Requirements | None:
    before = c.count()
    node = c.mapping(data, path, keys=REQUIREMENT_KEYS, required=())
    if node is None:
        return None
    level = optional(c, node, path, "min_assurance_level", _assurance_level)
    scheme = optional(c, node, path, "credential_scheme", Checker.string)
    return Requirements(level, scheme) if c.count() == before else None


def _assurance_level(c: Checker, data: JsonValue, path: Path) -> str | None:
    return c.choice(data, path, ASSURANCE_LEVELS)


def _obligations(c: Checker, data: JsonValue, path: Path) -> tuple[Obligation, ...] | None:
    return c.each(data, path, _obligation)


def _obligation(c: Checker, data: JsonValue, path: Path) -> Obligation | None:
    before = c.count()
    # The TypeScript server also accepts any other key and any type, and ignores them; here
    # a misspelt key or type is an error, since `human_aproval` would silently allow.
    node = c.mapping(data, path, keys=OBLIGATION_KEYS, required=("type",))
    if node is None:
        return None
    kind = optional(c, node, path, "type", _obligation_type)
    params = optional(c, node, path, "params", _params)
    if c.count() != before or kind is None:
        return None
    return Obligation(kind, params)


def _obligation_type(c: Checker, data: JsonValue, path: Path) -> str | None:
    return c.choice(data, path, OBLIGATION_TYPES)


def _params(c: Checker, data: JsonValue, path: Path) -> JsonObject | None:
    node = c.mapping(data, path, keys=None, required=())
    return copy.deepcopy(node) if node is not None else None


def _proof(c: Checker, data: JsonValue, path: Path) -> Proof | None:
    before = c.count()
    node = c.mapping(data, path, keys=PROOF_KEYS, required=())
    if node is None:
        return None
    required = optional(c, node, path, "required", Checker.boolean)
    ttl = optional(c, node, path, "ttl_seconds", _ttl)
    return Proof(required, ttl) if c.count() == before else None


def _ttl(c: Checker, data: JsonValue, path: Path) -> int | float | None:
    ttl = c.number(data, path)
    # A fix over the TypeScript server, where a ttl of 0 or less fails only when a proof is
    # issued (a server error) or yields a token already expired.
    if ttl is not None and not ttl > 0:
        c.fail(path, f"must be greater than 0, not `{data}`")
        return None
    return ttl
