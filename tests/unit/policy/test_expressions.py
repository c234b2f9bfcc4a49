"""Every `when` operator, with JavaScript's comparison semantics."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import holds, match

PAYLOAD: dict[str, Any] = {
    "n": 5,
    "f": 2.5,
    "s": "abc",
    "t": True,
    "z": None,
    "obj": {"k": 1},
    "list": [1, 2],
    "one": "1",
}


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("$.payload.n", 5, True),
        ("$.payload.n", 5.0, True),
        ("$.payload.n", "5", False),
        ("$.payload.one", 1, False),
        ("$.payload.t", True, True),
        ("$.payload.t", 1, False),
        ("$.payload.z", None, True),
        ("$.payload.missing", None, False),
        ("$.payload.obj", {"k": 1}, False),
        ("$.payload.list", [1, 2], False),
        ("$.payload.list[1]", 2, True),
        ("$.action_type", "purchase", True),
        ("$.principal.agent_id", "demo-agent", True),
    ],
)
def test_eq_is_strict(path: str, value: Any, expected: bool) -> None:
    assert holds(match(path, "eq", value), PAYLOAD) is expected
    assert holds(match(path, "neq", value), PAYLOAD) is not expected


def test_eq_without_value_matches_a_missing_path() -> None:
    assert holds(match("$.payload.missing", "eq"), PAYLOAD)
    assert not holds(match("$.payload.n", "eq"), PAYLOAD)
    assert not holds(match("$.payload.z", "eq"), PAYLOAD)


def test_neq_on_a_missing_path_is_true() -> None:
    assert holds(match("$.payload.missing", "neq", 1), PAYLOAD)
    assert holds(match("$.payload.missing", "neq", None), PAYLOAD)


@pytest.mark.parametrize(
    ("path", "value", "is_in"),
    [
        ("$.payload.n", [1, 5], True),
        ("$.payload.n", [1.0, 5.0], True),
        ("$.payload.n", ["5"], False),
        ("$.payload.t", [1], False),
        ("$.payload.z", [None], True),
        ("$.payload.obj", [{"k": 1}], False),
        ("$.payload.missing", [None], False),
        ("$.payload.s", [], False),
    ],
)
def test_in_and_nin(path: str, value: Any, is_in: bool) -> None:
    assert holds(match(path, "in", value), PAYLOAD) is is_in
    assert holds(match(path, "nin", value), PAYLOAD) is not is_in


@pytest.mark.parametrize("value", ["abc", 5, None, {"s": 1}])
def test_in_and_nin_with_a_non_list_value_are_both_false(value: Any) -> None:
    assert not holds(match("$.payload.s", "in", value), PAYLOAD)
    assert not holds(match("$.payload.s", "nin", value), PAYLOAD)


def test_in_and_nin_without_value_are_both_false() -> None:
    assert not holds(match("$.payload.s", "in"), PAYLOAD)
    assert not holds(match("$.payload.s", "nin"), PAYLOAD)


@pytest.mark.parametrize(
    ("op", "actual_path", "value", "expected"),
    [
        ("lt", "$.payload.n", 6, True),
        ("lt", "$.payload.n", 5, False),
        ("lte", "$.payload.n", 5, True),
        ("gt", "$.payload.f", 2, True),
        ("gte", "$.payload.f", 2.5, True),
        ("gt", "$.payload.n", "4", False),
        ("gt", "$.payload.s", "abb", False),
        ("lt", "$.payload.t", 2, False),
        ("gte", "$.payload.n", True, False),
        ("lt", "$.payload.missing", 1, False),
        ("lt", "$.payload.z", 1, False),
        ("gt", "$.requested_at", "2000-01-01", False),
    ],
)
def test_ordering_needs_two_numbers(op: str, actual_path: str, value: Any, expected: bool) -> None:
    assert holds(match(actual_path, op, value), PAYLOAD) is expected


def test_ordering_against_nan_is_false() -> None:
    nan_rule = '{match: {path: "$.payload.n", op: lt, value: .nan}}'
    assert not holds(nan_rule, PAYLOAD)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("^ab", True),
        ("bc$", True),
        ("^b", False),
        ("(?<first>a)b", True),
        ("[", False),
        ("ABC", False),
    ],
)
def test_regex(value: str, expected: bool) -> None:
    assert holds(f'{{match: {{path: "$.payload.s", op: regex, value: "{value}"}}}}', PAYLOAD) is (
        expected
    )


def test_regex_dollar_does_not_match_before_a_trailing_newline() -> None:
    assert not holds(match("$.payload.s", "regex", "abc$"), {"s": "abc\n"})


def test_regex_needs_strings_on_both_sides() -> None:
    assert not holds(match("$.payload.n", "regex", "5"), PAYLOAD)
    assert not holds(match("$.payload.s", "regex", 5), PAYLOAD)
    assert not holds(match("$.payload.missing", "regex", ".*"), PAYLOAD)


@pytest.mark.parametrize(
    ("path", "exists"),
    [
        ("$.payload.n", True),
        ("$.payload.t", True),
        ("$.payload.s", True),
        ("$.payload.z", False),
        ("$.payload.missing", False),
        ("$.payload.list.length", True),
        ("$.payload.constructor", False),
        ("$.payload", True),
    ],
)
def test_exists(path: str, exists: bool) -> None:
    assert holds(match(path, "exists"), PAYLOAD) is exists
    assert holds(match(path, "exists", "ignored"), PAYLOAD) is exists


def test_all_any_not() -> None:
    yes, no = match("$.payload.n", "eq", 5), match("$.payload.n", "eq", 6)
    assert holds(f"{{all: [{yes}, {yes}]}}", PAYLOAD)
    assert not holds(f"{{all: [{yes}, {no}]}}", PAYLOAD)
    assert holds(f"{{any: [{no}, {yes}]}}", PAYLOAD)
    assert not holds(f"{{any: [{no}, {no}]}}", PAYLOAD)
    assert holds(f"{{not: {no}}}", PAYLOAD)
    assert not holds(f"{{not: {yes}}}", PAYLOAD)


def test_empty_all_holds_and_empty_any_does_not() -> None:
    assert holds("{all: []}", PAYLOAD)
    assert not holds("{any: []}", PAYLOAD)


def test_context_paths_read_the_action_in_v1() -> None:
    assert not holds(match("$.context.now", "exists"), PAYLOAD)
    assert holds(match("$.context.x", "eq", 1), PAYLOAD, context={"x": 1})
