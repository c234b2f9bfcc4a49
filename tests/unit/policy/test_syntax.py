"""YAML 1.2 core schema, source lines and the YAML helpers."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from openleash.policy.syntax import (
    YamlError,
    dump_yaml,
    js_number_text,
    load_document,
    load_yaml,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("Off", "Off"),
        ("y", "y"),
        ("true", True),
        ("True", True),
        ("FALSE", False),
        ("tRUE", "tRUE"),
        ("010", 10),
        ("-010", -10),
        ("+7", 7),
        ("0o17", 15),
        ("0x1F", 31),
        ("0b101", "0b101"),
        ("017", 17),
        ("1_000", "1_000"),
        ("1,000", "1,000"),
        ("2024-01-15", "2024-01-15"),
        ("2024-01-15T10:30:00Z", "2024-01-15T10:30:00Z"),
        ("12:30:00", "12:30:00"),
        ("1.5", 1.5),
        ("1.", 1),
        (".5", 0.5),
        ("1e3", 1000),
        ("-2.5E-1", -0.25),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("nULL", "nULL"),
        ("", None),
        ('"010"', "010"),
        ("'true'", "true"),
        ("!!str 010", "010"),
        ("!!int 010", 10),
        ("!!float 1", 1),
        ("!!bool true", True),
        ("!!null ~", None),
        ("!custom 5", "5"),
        ("12345678901234567890", 1.2345678901234567e19),
        ("9007199254740993", 9007199254740992.0),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(text: str, expected: object) -> None:
    value = load_yaml(f"k: {text}\n")["k"]
    assert value == expected
    assert type(value) is type(expected)


def test_infinity_and_nan_are_numbers() -> None:
    data = load_yaml("a: .inf\nb: -.Inf\nc: .NaN\n")
    assert data["a"] == math.inf
    assert data["b"] == -math.inf
    assert math.isnan(data["c"])


def test_keys_become_javascript_strings() -> None:
    data = load_yaml("1: a\ntrue: b\n~: c\n1.5: d\n010: e\n")
    assert data == {"1": "a", "true": "b", "": "c", "1.5": "d", "10": "e"}


@pytest.mark.parametrize(
    "text",
    ["a: 1\na: 2\n", "010: x\n10: y\n", "1: x\n1.0: y\n", "{a: 1, a: 1}"],
)
def test_duplicate_keys_are_an_error_with_the_line(text: str) -> None:
    with pytest.raises(YamlError, match="duplicate key") as caught:
        load_yaml(text)
    assert caught.value.line in (1, 2)


def test_keys_of_different_types_with_the_same_text_overwrite_like_javascript() -> None:
    assert load_yaml("1: x\n'1': y\n") == {"1": "y"}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: [1\n", 2),
        ("a: 1\nb: c: d\n", 2),
        ("a: 1\n\tb: 2\n", 2),
        ("a: *missing\n", 1),
        ("--- 1\n--- 2\n", 2),
        ("a: 1\n  b: 2\n", 2),
    ],
)
def test_syntax_errors_carry_a_line(text: str, line: int) -> None:
    with pytest.raises(YamlError) as caught:
        load_yaml(text)
    assert caught.value.line == line
    assert f"(line {line})" in str(caught.value)


def test_empty_document_is_null() -> None:
    assert load_yaml("") is None
    assert load_yaml("# only a comment\n") is None


def test_aliases_are_expanded() -> None:
    assert load_yaml("a: &x {b: 1}\nc: *x\n") == {"a": {"b": 1}, "c": {"b": 1}}


def test_merge_keys_are_plain_keys_in_yaml_1_2() -> None:
    assert load_yaml("a: &x {b: 1}\nc: {<<: *x}\n") == {"a": {"b": 1}, "c": {"<<": {"b": 1}}}


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(YamlError, match="alias"):
        load_yaml("a: &x [1, *x]\n")


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(YamlError, match="too many"):
        load_yaml("\n".join(lines) + "\n")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(YamlError):
        load_yaml("[" * 5000 + "]" * 5000)


def test_lines_point_at_keys_and_items() -> None:
    doc = load_document("version: 1\nrules:\n  - id: a\n    effect: allow\n  - id: b\n")
    assert doc.lines[("version",)] == 1
    assert doc.lines[("rules", 0)] == 3
    assert doc.lines[("rules", 0, "effect")] == 4
    assert doc.lines[("rules", 1, "id")] == 5
    assert doc.line(("rules", 1, "missing", 3)) == 5


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1"),
        (-0.0, "0"),
        (1.5, "1.5"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1.2345678901234567e19, "12345678901234567000"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (math.nan, "NaN"),
        (-math.inf, "-Infinity"),
    ],
)
def test_numbers_print_as_javascript_prints_them(value: float, text: str) -> None:
    assert js_number_text(value) == text


def test_dump_quotes_what_would_read_back_differently() -> None:
    text = dump_yaml({"a": ["yes", "010", "true", "", " x", "null", "1.5", "~"]})
    assert load_yaml(text) == {"a": ["yes", "010", "true", "", " x", "null", "1.5", "~"]}
    assert '"yes"' in text


def test_dump_keeps_key_order_and_block_style() -> None:
    text = dump_yaml({"version": 1, "default": "deny", "rules": [{"id": "r"}]})
    assert text == "version: 1\ndefault: deny\nrules:\n  - id: r\n"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
@example({"0\x850": None})
@example(["\u2028", "a\tb", "x\n"])
def test_dump_then_load_gives_the_same_data(value: object) -> None:
    assert load_yaml(dump_yaml({"v": value})) == {"v": value}


@given(st.text(max_size=200))
def test_arbitrary_text_loads_or_raises_yaml_error(text: str) -> None:
    with contextlib.suppress(YamlError):
        load_yaml(text)


def test_control_characters_are_refused_with_their_line() -> None:
    with pytest.raises(YamlError) as caught:
        load_yaml("a: 1\nb: \x07\n")
    assert caught.value.line == 2
    assert str(caught.value) == "character #x0007 is not allowed (line 2)"


def test_byte_order_mark_and_crlf_are_fine() -> None:
    assert load_yaml("\ufeffa: yes\r\nb: 010\r\n") == {"a": "yes", "b": 10}
