"""The JSONPath subset and JavaScript comparisons."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openleash.policy.paths import (
    UNDEFINED,
    compile_path,
    is_js_number,
    js_includes,
    js_same_value_zero,
    js_strict_equal,
    resolve_path,
)

DOC: dict[str, Any] = {
    "action_type": "purchase",
    "payload": {
        "amount_minor": 5000,
        "merchant": {"domain": "shop.example"},
        "items": [{"sku": "a"}, {"sku": "b"}],
        "nothing": None,
        "text": "hello",
        "length": 3,
    },
}


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("$.payload.amount_minor", ("payload", "amount_minor")),
        ("$.payload.items[1].sku", ("payload", "items", 1, "sku")),
        ("$.payload.merchant-domain", ("payload", "merchant", "domain")),
        ('$.payload["amount_minor"]', ("payload", "amount_minor")),
        ("$.payload.items[-1]", ("payload", "items")),
        ("$.payload.1abc", ("payload", "abc")),
        ("$.", ()),
        ("$..payload", ("payload",)),
        ("$.a b", ("a", "b")),
        ("$.é.x", ("x",)),
        ("$.[٣]", ()),
    ],
)
def test_tokenizer_skips_what_it_does_not_understand(path: str, segments: tuple[Any, ...]) -> None:
    assert compile_path(path).segments == segments


def test_path_must_start_with_dollar_dot() -> None:
    with pytest.raises(ValueError, match="must start"):
        compile_path("payload.x")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.payload.amount_minor", 5000),
        ("$.payload.merchant.domain", "shop.example"),
        ("$.payload.merchant-domain", "shop.example"),
        ("$.payload.items[0].sku", "a"),
        ("$.payload.items[2]", UNDEFINED),
        ("$.payload.items.length", 2),
        ("$.payload.length", 3),
        ("$.payload.nothing", None),
        ("$.payload.nothing.deeper", UNDEFINED),
        ("$.payload.missing.deeper", UNDEFINED),
        ("$.payload.text.length", UNDEFINED),
        ("$.payload.amount_minor.x", UNDEFINED),
        ("$.payload[0]", UNDEFINED),
        ("$.payload.text[0]", UNDEFINED),
        ("$.payload.constructor", UNDEFINED),
        ("$.payload.__proto__", UNDEFINED),
        ("$.payload.items.map", UNDEFINED),
    ],
)
def test_resolution(path: str, expected: Any) -> None:
    assert resolve_path(compile_path(path), DOC) == expected


def test_dollar_dot_alone_is_the_whole_document() -> None:
    assert resolve_path(compile_path("$."), DOC) is DOC


def test_undefined_is_not_null_and_is_falsy() -> None:
    assert UNDEFINED is not None
    assert not UNDEFINED
    assert repr(UNDEFINED) == "UNDEFINED"


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (1, 1, True),
        (1, 1.0, True),
        (True, 1, False),
        (False, 0, False),
        (True, True, True),
        ("1", 1, False),
        ("a", "a", True),
        (None, None, True),
        (None, UNDEFINED, False),
        (UNDEFINED, UNDEFINED, True),
        ({}, {}, False),
        ([], [], False),
        ([1], [1], False),
        (math.nan, math.nan, False),
        (0, -0.0, True),
        (math.inf, math.inf, True),
    ],
)
def test_strict_equality(a: Any, b: Any, equal: bool) -> None:
    assert js_strict_equal(a, b) is equal
    assert js_strict_equal(b, a) is equal


def test_same_reference_is_equal_as_in_javascript() -> None:
    shared: dict[str, Any] = {}
    assert js_strict_equal(shared, shared)


def test_includes_uses_same_value_zero() -> None:
    assert js_includes([math.nan], math.nan)
    assert js_same_value_zero(0, -0.0)
    assert not js_includes([1], True)
    assert not js_includes([{}], {})
    assert js_includes(["a", 2], 2.0)
    assert not js_includes([None], UNDEFINED)


def test_numbers_exclude_booleans() -> None:
    assert is_js_number(1)
    assert is_js_number(1.5)
    assert is_js_number(math.nan)
    assert not is_js_number(True)
    assert not is_js_number("1")


identifiers = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,6}", fullmatch=True)
segments = st.lists(identifiers | st.integers(min_value=0, max_value=5), max_size=5)


@given(st.text())
def test_any_path_text_compiles_and_resolves_without_error(text: str) -> None:
    path = compile_path("$." + text)
    resolve_path(path, DOC)
    for segment in path.segments:
        assert isinstance(segment, int) or segment.isidentifier() or segment.isascii()


@given(segments)
def test_paths_written_from_segments_read_those_segments(parts: list[str | int]) -> None:
    text = "$." + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    assert compile_path(text).segments == tuple(parts)


@given(segments, st.integers())
def test_resolution_walks_nested_data(parts: list[str | int], leaf: int) -> None:
    document: Any = leaf
    for part in reversed(parts):
        document = [None] * part + [document] if isinstance(part, int) else {part: document}
    assert resolve_path(compile_path("$." + _render(parts)), document) == leaf


def _render(parts: list[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
