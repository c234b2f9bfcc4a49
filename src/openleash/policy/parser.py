"""Policy text or plain data to a typed :class:`~openleash.policy.model.Policy`.

Validation accepts exactly what the published JSON Schema of the v1 language accepts (see
``schema.json``), plus one fix: ``proof.ttl_seconds`` must be greater than 0. Unlike a schema
validator it collects *every* problem and names each by place and line, for example
``rules[2].constraints: unknown key `amount_mx` (line 14)``.

Regular expressions are compiled here, once. A pattern JavaScript would reject does not make
the policy invalid (the TypeScript server accepts it and the match is simply false); it is
kept as a warning on the policy instead.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from openleash.domain.errors import PolicyError
from openleash.domain.jsonvalue import js_number
from openleash.policy.model import (
    ASSURANCE_LEVELS,
    AllOf,
    AnyOf,
    Constraints,
    DefaultEffect,
    Effect,
    Expr,
    Match,
    Not,
    Obligation,
    Op,
    Policy,
    Proof,
    Requirements,
    Rule,
    compile_action_pattern,
)
from openleash.policy.paths import UNDEFINED, compile_path, is_js_number, js_regex
from openleash.policy.syntax import Document, Path, YamlError, load_document

T = TypeVar("T")
Builder = Callable[["_Checker", Any, Path], T | None]

TOP_KEYS = ("version", "default", "rules")
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
)
RULE_REQUIRED = ("id", "effect", "action")
CONSTRAINT_NUMBERS = ("amount_max", "amount_min")
CONSTRAINT_LISTS = ("currency", "merchant_domain", "allowed_domains", "blocked_domains")
REQUIREMENT_KEYS = ("min_assurance_level", "credential_scheme")
PROOF_KEYS = ("required", "ttl_seconds")
EXPR_KEYS = ("all", "any", "not", "match")
MATCH_KEYS = ("path", "op", "value")

# JavaScript would recurse far deeper; no honest policy nests expressions this much, and the
# cap keeps parsing and evaluation clear of Python's recursion limit.
MAX_EXPR_DEPTH = 64


def parse_policy(yaml_text: str) -> Policy:
    """Parse and validate a v1 policy; raise :class:`PolicyError` naming every problem."""
    try:
        document = load_document(yaml_text)
    except YamlError as exc:
        where = f" (line {exc.line})" if exc.line is not None else ""
        issue = {"path": "policy", "message": exc.problem, "line": exc.line}
        raise PolicyError(f"Invalid policy YAML: {exc.problem}{where}", [issue]) from None
    return parse_policy_data(document.data, document=document)


def parse_policy_data(data: Any, *, document: Document | None = None) -> Policy:
    """Validate plain data (as loaded from YAML or JSON) into a :class:`Policy`."""
    checker = _Checker(document.line if document is not None else _no_line)
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


def format_issue(issue: dict[str, Any]) -> str:
    where = f" (line {issue['line']})" if issue.get("line") is not None else ""
    return f"{issue['path']}: {issue['message']}{where}"


def format_path(path: Path) -> str:
    """``("rules", 2, "constraints")`` as ``rules[2].constraints``; the root is ``policy``."""
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        else:
            text += f".{segment}" if text else segment
    return text or "policy"


def _no_line(path: Path) -> int | None:
    return None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if is_js_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class _Checker:
    """Collects located issues while the builders below walk the data."""

    def __init__(self, line_of: Callable[[Path], int | None]) -> None:
        self.issues: list[dict[str, Any]] = []
        self.warnings: list[dict[str, Any]] = []
        self._line_of = line_of

    def fail(self, path: Path, message: str, *, at: Path | None = None) -> None:
        self.issues.append(self._issue(path, message, at))

    def warn(self, path: Path, message: str) -> None:
        self.warnings.append(self._issue(path, message, None))

    def _issue(self, path: Path, message: str, at: Path | None) -> dict[str, Any]:
        line = self._line_of(path if at is None else at)
        return {"path": format_path(path), "message": message, "line": line}

    def count(self) -> int:
        return len(self.issues)

    def mapping(
        self, data: Any, path: Path, *, keys: Collection[str] | None, required: Collection[str]
    ) -> dict[str, Any] | None:
        if not isinstance(data, dict):
            self.fail(path, f"must be an object, not {_type_name(data)}")
            return None
        for key in required:
            if key not in data:
                self.fail(path, f"missing required key `{key}`")
        if keys is not None:
            for key in data:
                if key not in keys:
                    self.fail(path, f"unknown key `{key}`", at=(*path, key))
        return data

    def items(self, data: Any, path: Path) -> list[Any] | None:
        if not isinstance(data, list):
            self.fail(path, f"must be a list, not {_type_name(data)}")
            return None
        return data

    def string(self, data: Any, path: Path) -> str | None:
        if not isinstance(data, str):
            self.fail(path, f"must be a string, not {_type_name(data)}")
            return None
        return data

    def number(self, data: Any, path: Path) -> int | float | None:
        if not is_js_number(data):
            self.fail(path, f"must be a number, not {_type_name(data)}")
            return None
        return js_number(data) if isinstance(data, int) else float(data)

    def boolean(self, data: Any, path: Path) -> bool | None:
        if not isinstance(data, bool):
            self.fail(path, f"must be true or false, not {_type_name(data)}")
            return None
        return data

    def choice(self, data: Any, path: Path, allowed: Collection[str]) -> str | None:
        if not isinstance(data, str) or data not in allowed:
            shown = f"`{data}`" if isinstance(data, str) else _type_name(data)
            self.fail(path, f"must be one of {', '.join(allowed)}, not {shown}")
            return None
        return data

    def strings(self, data: Any, path: Path) -> tuple[str, ...] | None:
        items = self.items(data, path)
        if items is None:
            return None
        checked = [self.string(item, (*path, i)) for i, item in enumerate(items)]
        return tuple(s for s in checked if s is not None) if None not in checked else None


def _optional(
    c: _Checker, data: dict[str, Any], path: Path, key: str, build: Builder[T]
) -> T | None:
    return build(c, data[key], (*path, key)) if key in data else None


def _policy(c: _Checker, data: Any) -> Policy | None:
    top = c.mapping(data, (), keys=TOP_KEYS, required=TOP_KEYS)
    if top is None:
        return None
    version = _optional(c, top, (), "version", _version)
    default = _optional(c, top, (), "default", _default)
    rules = _optional(c, top, (), "rules", _rules)
    if c.issues or version is None or default is None or rules is None:
        return None
    return Policy(version, default, rules, tuple(c.warnings))


def _version(c: _Checker, data: Any, path: Path) -> int | None:
    if not is_js_number(data) or data != 1:
        c.fail(path, f"must be 1, not {_shown(data)}")
        return None
    return 1


def _shown(data: Any) -> str:
    return f"`{data}`" if is_js_number(data) or isinstance(data, str) else _type_name(data)


def _default(c: _Checker, data: Any, path: Path) -> DefaultEffect | None:
    chosen = c.choice(data, path, [d.value for d in DefaultEffect])
    return DefaultEffect(chosen) if chosen is not None else None


def _rules(c: _Checker, data: Any, path: Path) -> tuple[Rule, ...] | None:
    items = c.items(data, path)
    if items is None:
        return None
    built = [_rule(c, item, (*path, i)) for i, item in enumerate(items)]
    return tuple(r for r in built if r is not None) if None not in built else None


def _rule(c: _Checker, data: Any, path: Path) -> Rule | None:
    before = c.count()
    rule = c.mapping(data, path, keys=RULE_KEYS, required=RULE_REQUIRED)
    if rule is None:
        return None
    rule_id = _optional(c, rule, path, "id", _Checker.string)
    effect = _optional(c, rule, path, "effect", _effect)
    action = _optional(c, rule, path, "action", _Checker.string)
    description = _optional(c, rule, path, "description", _Checker.string)
    when = _when(c, rule["when"], (*path, "when")) if "when" in rule else None
    constraints = _optional(c, rule, path, "constraints", _constraints)
    requirements = _optional(c, rule, path, "requirements", _requirements)
    obligations = _optional(c, rule, path, "obligations", _obligations)
    proof = _optional(c, rule, path, "proof", _proof)
    if c.count() != before or rule_id is None or effect is None or action is None:
        return None
    pattern = compile_action_pattern(action)
    return Rule(
        rule_id, effect, pattern, description, when, constraints, requirements, obligations, proof
    )


def _effect(c: _Checker, data: Any, path: Path) -> Effect | None:
    chosen = c.choice(data, path, [e.value for e in Effect])
    return Effect(chosen) if chosen is not None else None


def _when(c: _Checker, data: Any, path: Path) -> Expr | None:
    return _expr(c, data, path, 1)


def _expr(c: _Checker, data: Any, path: Path, depth: int) -> Expr | None:
    before = c.count()
    if depth > MAX_EXPR_DEPTH:
        c.fail(path, f"expressions nest deeper than {MAX_EXPR_DEPTH} levels")
        return None
    node = c.mapping(data, path, keys=EXPR_KEYS, required=())
    if node is None:
        return None
    present = [key for key in EXPR_KEYS if key in node]
    if len(present) != 1:
        c.fail(path, "must have exactly one of the keys `all`, `any`, `not`, `match`")
    built = [_EXPR_FORMS[key](c, node[key], (*path, key), depth) for key in present]
    if len(built) != 1 or c.count() != before:
        return None
    return built[0]


def _all(c: _Checker, data: Any, path: Path, depth: int) -> Expr | None:
    items = _expr_list(c, data, path, depth)
    return AllOf(items) if items is not None else None


def _any(c: _Checker, data: Any, path: Path, depth: int) -> Expr | None:
    items = _expr_list(c, data, path, depth)
    return AnyOf(items) if items is not None else None


def _expr_list(c: _Checker, data: Any, path: Path, depth: int) -> tuple[Expr, ...] | None:
    items = c.items(data, path)
    if items is None:
        return None
    built = [_expr(c, item, (*path, i), depth + 1) for i, item in enumerate(items)]
    return tuple(e for e in built if e is not None) if None not in built else None


def _not(c: _Checker, data: Any, path: Path, depth: int) -> Expr | None:
    inner = _expr(c, data, path, depth + 1)
    return Not(inner) if inner is not None else None


def _match(c: _Checker, data: Any, path: Path, depth: int) -> Expr | None:
    before = c.count()
    node = c.mapping(data, path, keys=MATCH_KEYS, required=("path", "op"))
    if node is None:
        return None
    text = _optional(c, node, path, "path", _path_text)
    op_name = _optional(c, node, path, "op", _op_name)
    if c.count() != before or text is None or op_name is None:
        return None
    op = Op(op_name)
    value = copy.deepcopy(node["value"]) if "value" in node else UNDEFINED
    regex = None
    if op is Op.REGEX and isinstance(value, str):
        regex = js_regex(value)
        if regex is None:
            c.warn((*path, "value"), f"`{value}` is not a valid regular expression; never matches")
    return Match(compile_path(text), op, value, regex)


def _path_text(c: _Checker, data: Any, path: Path) -> str | None:
    text = c.string(data, path)
    if text is not None and not text.startswith("$."):
        c.fail(path, f"must start with `$.`, not `{text}`")
        return None
    return text


def _op_name(c: _Checker, data: Any, path: Path) -> str | None:
    return c.choice(data, path, [op.value for op in Op])


_EXPR_FORMS: dict[str, Callable[[_Checker, Any, Path, int], Expr | None]] = {
    "all": _all,
    "any": _any,
    "not": _not,
    "match": _match,
}


def _constraints(c: _Checker, data: Any, path: Path) -> Constraints | None:
    before = c.count()
    node = c.mapping(data, path, keys=CONSTRAINT_NUMBERS + CONSTRAINT_LISTS, required=())
    if node is None:
        return None
    numbers = {k: _optional(c, node, path, k, _Checker.number) for k in CONSTRAINT_NUMBERS}
    lists = {k: _optional(c, node, path, k, _Checker.strings) for k in CONSTRAINT_LISTS}
    if c.count() != before:
        return None
    return Constraints(
        amount_max=numbers["amount_max"],
        amount_min=numbers["amount_min"],
        currency=lists["currency"],
        merchant_domain=lists["merchant_domain"],
        allowed_domains=lists["allowed_domains"],
        blocked_domains=lists["blocked_domains"],
    )


def _requirements(c: _Checker, data: Any, path: Path) -> Requirements | None:
    before = c.count()
    node = c.mapping(data, path, keys=REQUIREMENT_KEYS, required=())
    if node is None:
        return None
    level = _optional(c, node, path, "min_assurance_level", _assurance_level)
    scheme = _optional(c, node, path, "credential_scheme", _Checker.string)
    return Requirements(level, scheme) if c.count() == before else None


def _assurance_level(c: _Checker, data: Any, path: Path) -> str | None:
    return c.choice(data, path, ASSURANCE_LEVELS)


def _obligations(c: _Checker, data: Any, path: Path) -> tuple[Obligation, ...] | None:
    items = c.items(data, path)
    if items is None:
        return None
    built = [_obligation(c, item, (*path, i)) for i, item in enumerate(items)]
    return tuple(o for o in built if o is not None) if None not in built else None


def _obligation(c: _Checker, data: Any, path: Path) -> Obligation | None:
    before = c.count()
    # Extra keys are allowed here (and only here); they are kept but mean nothing.
    node = c.mapping(data, path, keys=None, required=("type",))
    if node is None:
        return None
    kind = _optional(c, node, path, "type", _Checker.string)
    params = _optional(c, node, path, "params", _params)
    if c.count() != before or kind is None:
        return None
    extra = {k: copy.deepcopy(v) for k, v in node.items() if k not in ("type", "params")}
    return Obligation(kind, params, extra)


def _params(c: _Checker, data: Any, path: Path) -> dict[str, Any] | None:
    node = c.mapping(data, path, keys=None, required=())
    return copy.deepcopy(node) if node is not None else None


def _proof(c: _Checker, data: Any, path: Path) -> Proof | None:
    before = c.count()
    node = c.mapping(data, path, keys=PROOF_KEYS, required=())
    if node is None:
        return None
    required = _optional(c, node, path, "required", _Checker.boolean)
    ttl = _optional(c, node, path, "ttl_seconds", _ttl)
    return Proof(required, ttl) if c.count() == before else None


def _ttl(c: _Checker, data: Any, path: Path) -> int | float | None:
    ttl = c.number(data, path)
    # A fix over the TypeScript server, where a ttl of 0 or less fails only when a proof is
    # issued (a server error) or yields a token already expired.
    if ttl is not None and not ttl > 0:
        c.fail(path, f"must be greater than 0, not `{data}`")
        return None
    return ttl
