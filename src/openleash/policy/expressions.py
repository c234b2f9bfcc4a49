"""``when`` expressions: building them from plain data, and deciding whether they hold.

An expression reads the action request through a path (``$.payload.amount_minor``), except
that ``$.context...`` reads the server context when the server gives one: anything an agent
wrote under ``context`` never reaches a decision then.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import assert_never

from openleash.domain.jsonvalue import JsonValue
from openleash.policy.checker import Checker
from openleash.policy.model import AllOf, AnyOf, Expr, Match, Not, Op
from openleash.policy.paths import (
    UNDEFINED,
    Undefined,
    compile_path,
    is_js_number,
    js_includes,
    js_strict_equal,
    resolve_segments,
)
from openleash.policy.regex import JsRegex, RegexError, compile_js_regex
from openleash.policy.syntax import Path

EXPR_KEYS = ("all", "any", "not", "match")
MATCH_KEYS = ("path", "op", "value")

# JavaScript would recurse far deeper; no honest policy nests expressions this much, and the
# cap keeps parsing and evaluation clear of Python's recursion limit.
MAX_EXPR_DEPTH = 64


# ---- building -------------------------------------------------------------------------------


def parse_when(c: Checker, data: JsonValue, path: Path) -> Expr | None:
    return _expr(c, data, path, 1)


def _expr(c: Checker, data: JsonValue, path: Path, depth: int) -> Expr | None:
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


def _all(c: Checker, data: JsonValue, path: Path, depth: int) -> Expr | None:
    items = _expr_list(c, data, path, depth)
    return AllOf(items) if items is not None else None


def _any(c: Checker, data: JsonValue, path: Path, depth: int) -> Expr | None:
    items = _expr_list(c, data, path, depth)
    return AnyOf(items) if items is not None else None


def _expr_list(c: Checker, data: JsonValue, path: Path, depth: int) -> tuple[Expr, ...] | None:
    items = c.items(data, path)
    if items is None:
        return None
    built = [_expr(c, item, (*path, i), depth + 1) for i, item in enumerate(items)]
    return tuple(e for e in built if e is not None) if None not in built else None


def _not(c: Checker, data: JsonValue, path: Path, depth: int) -> Expr | None:
    inner = _expr(c, data, path, depth + 1)
    return Not(inner) if inner is not None else None


def _match(c: Checker, data: JsonValue, path: Path, depth: int) -> Expr | None:
    before = c.count()
    node = c.mapping(data, path, keys=MATCH_KEYS, required=("path", "op"))
    if node is None:
        return None
    text = _path_text(c, node["path"], (*path, "path")) if "path" in node else None
    op_name = c.choice(node["op"], (*path, "op"), [op.value for op in Op]) if "op" in node else None
    if c.count() != before or text is None or op_name is None:
        return None
    op = Op(op_name)
    value = copy.deepcopy(node["value"]) if "value" in node else UNDEFINED
    regex = _regex(c, value, (*path, "value")) if op is Op.REGEX else None
    if c.count() != before:
        return None
    return Match(compile_path(text), op, value, regex)


def _regex(c: Checker, value: JsonValue | Undefined, path: Path) -> JsRegex | None:
    if not isinstance(value, str):
        return None  # a match that is never true, as in v1
    try:
        return compile_js_regex(value)
    except RegexError as exc:
        if exc.invalid_in_js:
            # The TypeScript server accepts the policy and the match is simply false.
            c.warn(path, f"`{value}` is not a valid regular expression; never matches")
        else:
            c.fail(path, f"regular expression {exc}")
        return None


def _path_text(c: Checker, data: JsonValue, path: Path) -> str | None:
    text = c.string(data, path)
    if text is not None and not text.startswith("$."):
        c.fail(path, f"must start with `$.`, not `{text}`")
        return None
    return text


_EXPR_FORMS: dict[str, Callable[[Checker, JsonValue, Path, int], Expr | None]] = {
    "all": _all,
    "any": _any,
    "not": _not,
    "match": _match,
}


def matches_of(expr: Expr) -> list[Match]:
    """Every ``match`` inside ``expr``, for checks on the paths a policy reads."""
    match expr:
        case Match():
            return [expr]
        case AllOf(items) | AnyOf(items):
            return [m for item in items for m in matches_of(item)]
        case Not(item):
            return matches_of(item)
        case _:
            assert_never(expr)


# ---- evaluating -----------------------------------------------------------------------------


def eval_expr(
    expr: Expr, action: Mapping[str, object], server_context: Mapping[str, object] | None
) -> bool:
    """Whether ``expr`` holds; ``server_context`` answers ``$.context`` paths when given."""
    match expr:
        case Match():
            return _OPS[expr.op](match_actual(expr, action, server_context), expr)
        case AllOf(items):
            return all(eval_expr(item, action, server_context) for item in items)
        case AnyOf(items):
            return any(eval_expr(item, action, server_context) for item in items)
        case Not(item):
            return not eval_expr(item, action, server_context)
        case _:
            assert_never(expr)


def match_actual(
    expr: Match, action: Mapping[str, object], server_context: Mapping[str, object] | None
) -> object:
    """The value the path of ``expr`` reads (:data:`UNDEFINED` when there is none)."""
    segments = expr.path.segments
    if server_context is None or not segments or segments[0] != "context":
        # v1 without a server context: `$.context` reads the action, from which the request
        # parser has already removed whatever the agent sent there.
        return resolve_segments(segments, action)
    if len(segments) == 1:
        return server_context
    first = segments[1]
    top = server_context.get(first, UNDEFINED) if type(first) is str else UNDEFINED
    return resolve_segments(segments[2:], top)


def _op_eq(actual: object, m: Match) -> bool:
    return js_strict_equal(actual, m.value)


def _op_neq(actual: object, m: Match) -> bool:
    return not js_strict_equal(actual, m.value)


def _op_in(actual: object, m: Match) -> bool:
    return isinstance(m.value, list) and js_includes(m.value, actual)


def _op_nin(actual: object, m: Match) -> bool:
    # Not the negation of `in`: a value that is not a list makes both false.
    return isinstance(m.value, list) and not js_includes(m.value, actual)


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[object, Match], bool]:
    def op(actual: object, m: Match) -> bool:
        return is_js_number(actual) and is_js_number(m.value) and compare(actual, m.value)

    return op


def _op_regex(actual: object, m: Match) -> bool:
    return type(actual) is str and m.regex is not None and m.regex.test(actual)


def _op_exists(actual: object, m: Match) -> bool:
    return actual is not UNDEFINED and actual is not None


_OPS: dict[Op, Callable[[object, Match], bool]] = {
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
