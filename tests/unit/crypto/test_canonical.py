"""Canonical JSON must equal what the TypeScript server hashes, for every JSON value."""

from __future__ import annotations

import enum
import json
import math
import random
import shutil
import struct
import subprocess
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from openleash.crypto import action_hash, canonicalize, sha256_hex, stringify
from openleash.crypto.hazmat.jsjson import number_to_string, to_json
from openleash.domain.errors import OpenLeashError
from openleash.domain.jsonvalue import js_normalize, parse_json

# --- examples -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (1.5e-7, "1.5e-7"),
        (-0.0, "0"),
        (5.0, "5"),
        (-5.5, "-5.5"),
        (123.456e10, "1234560000000"),
        (2.0**60, "1152921504606847000"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (math.inf, "null"),
        (-math.inf, "null"),
        (math.nan, "null"),
    ],
)
def test_numbers_print_as_in_javascript(number: float, text: str) -> None:
    assert number_to_string(number) == text
    assert canonicalize(number) == text.encode("ascii")


@pytest.mark.parametrize(
    ("integer", "text"),
    [
        (12345678901234567890, "12345678901234567000"),
        (2**53, "9007199254740992"),
        (2**53 + 1, "9007199254740992"),
        (-(2**53) - 1, "-9007199254740992"),
        (2**53 - 1, "9007199254740991"),
        (10**400, "null"),
    ],
)
def test_integers_beyond_2_53_become_doubles(integer: int, text: str) -> None:
    assert canonicalize(integer) == text.encode("ascii")
    assert canonicalize({"n": [integer]}) == b'{"n":[' + text.encode("ascii") + b"]}"


def test_keys_sort_by_utf16_code_units_not_code_points() -> None:
    value = {"\uffff": 1, "\U00010000": 2, "\ue000": 3, "z": 4}
    expected = '{"z":4,"\U00010000":2,"\ue000":3,"\uffff":1}'
    assert canonicalize(value) == expected.encode("utf-8")


def test_non_ascii_is_raw_utf8() -> None:
    assert canonicalize({"é": "日本 😀"}) == '{"é":"日本 😀"}'.encode()


def test_escapes_are_those_of_json_stringify() -> None:
    value = '\x00\x1f\b\f\n\r\t"\\/\x7f\u2028'
    expected = '"\\u0000\\u001f\\b\\f\\n\\r\\t\\"\\\\/\x7f\u2028"'
    assert canonicalize(value) == expected.encode("utf-8")


def test_lone_surrogates_are_escaped_and_pairs_joined() -> None:
    assert canonicalize("a\ud800") == b'"a\\ud800"'
    assert canonicalize("\ud83d\ude00") == '"\U0001f600"'.encode()  # one UTF-16 character


def test_stringify_keeps_insertion_order_and_js_numbers() -> None:
    value = {"b": 1, "a": [5.0, 1e21, 2**64], "é": None}
    assert stringify(value) == '{"b":1,"a":[5,1e+21,18446744073709552000],"é":null}'.encode()


def test_action_hash_is_sha256_of_the_canonical_form() -> None:
    action = {"b": 1, "a": "x"}
    assert action_hash(action) == sha256_hex(b'{"a":"x","b":1}')


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def test_enum_subclasses_serialize_as_their_values() -> None:
    assert canonicalize({"c": Colour.RED, "l": Level.HIGH, "t": True}) == (
        b'{"c":"red","l":3,"t":true}'
    )


def test_tuples_are_arrays() -> None:
    assert canonicalize({"a": (1, "x")}) == b'{"a":[1,"x"]}'


@pytest.mark.parametrize("bad", [{1: "x"}, {"a": {1, 2}}, object(), b"bytes"])
def test_non_json_values_are_refused(bad: Any) -> None:
    with pytest.raises(TypeError):
        canonicalize(bad)
    with pytest.raises(TypeError):
        stringify(bad)


def test_absurd_nesting_is_an_error_not_a_crash() -> None:
    value: Any = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(OpenLeashError) as caught:
        canonicalize(value)
    assert caught.value.code == "INVALID_JSON"


def test_moderate_nesting_beyond_orjson_limit_still_works() -> None:
    value: Any = "x"
    for _ in range(300):
        value = {"k": value}
    assert canonicalize(value) == b'{"k":' * 300 + b'"x"' + b"}" * 300


# --- properties -----------------------------------------------------------------------------

_TRICKY = st.sampled_from(["\uffff", "\ue000", "\U00010000", "\U0001f600", "é", "\x00", "\u2028"])
_SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
_CHARS = st.one_of(st.characters(exclude_categories=["Cs"]), _TRICKY)
_TEXT = st.text(_CHARS, max_size=8)
_TEXT_WITH_SURROGATES = st.text(st.one_of(_CHARS, _SURROGATE), max_size=8)
_NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-(2**53) - 2, max_value=2**53 + 2),
    st.floats(allow_nan=False, allow_infinity=False),
)


def _json(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    leaves = st.one_of(st.none(), st.booleans(), _NUMBERS, text)
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)
        ),
        max_leaves=20,
    )


@given(_json(_TEXT_WITH_SURROGATES))
@settings(max_examples=400)
def test_fast_path_equals_general_path(value: Any) -> None:
    assert canonicalize(value) == to_json(value, sort_keys=True).encode("utf-8")
    assert stringify(value) == to_json(value, sort_keys=False).encode("utf-8")


@given(_json(_TEXT))
@settings(max_examples=400)
def test_output_parses_back_to_what_javascript_holds(value: Any) -> None:
    assert parse_json(canonicalize(value)) == js_normalize(value)
    assert parse_json(stringify(value)) == js_normalize(value)


_TRICKY_KEYS = st.text(st.sampled_from(["a", "é", "\ud7ff", "\ue000", "\uffff", "\U00010000"]))


@given(st.dictionaries(_TRICKY_KEYS, st.integers(), max_size=6))
def test_fast_path_equals_general_path_on_keys_around_the_surrogate_range(
    value: dict[str, int],
) -> None:
    assert canonicalize(value) == to_json(value, sort_keys=True).encode("utf-8")


@given(_json(_TEXT))
@settings(max_examples=300)
def test_object_keys_come_out_in_utf16_order(value: Any) -> None:
    def check(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert keys == sorted(keys, key=lambda key: key.encode("utf-16-be"))
        return dict(pairs)

    json.loads(canonicalize(value), object_pairs_hook=check)


@given(_json(_TEXT))
@settings(max_examples=300)
def test_canonicalize_is_order_independent(value: Any) -> None:
    def reverse(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: reverse(node[key]) for key in reversed(list(node))}
        if isinstance(node, list):
            return [reverse(item) for item in node]
        return node

    assert canonicalize(reverse(value)) == canonicalize(value)


_SAFE_NUMBERS = st.one_of(
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)


@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), _SAFE_NUMBERS, _TEXT),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)
        ),
        max_leaves=20,
    )
)
@settings(max_examples=400)
def test_agrees_with_the_rfc8785_library_on_its_domain(value: Any) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)


# --- against JavaScript itself ---------------------------------------------------------------

_NODE_CANONICALIZE = """
function canon(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(canon).join(',') + ']';
  return '{' + Object.keys(v).sort()
    .map(k => JSON.stringify(k) + ':' + canon(v[k])).join(',') + '}';
}
const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(texts.map(t => canon(JSON.parse(t)))));
"""


def _random_document(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 3 and roll < 0.2:
        return {
            _random_text(rng): _random_document(rng, depth + 1) for _ in range(rng.randint(0, 4))
        }
    if depth < 3 and roll < 0.35:
        return [_random_document(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if roll < 0.6:
        return _random_double(rng)
    if roll < 0.7:
        return rng.choice([1, -1]) * rng.getrandbits(rng.choice([8, 53, 54, 64, 90]))
    return _random_text(rng)


def _random_double(rng: random.Random) -> float:
    while True:
        value: float = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if math.isfinite(value):
            return value


def _random_text(rng: random.Random) -> str:
    pool = 'aZ_0 é\u2028\x00\x1f"\\\uffff\ue000\ud800\udc00\U00010000\U0001f600日'
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, 5)))


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_matches_node_on_random_documents() -> None:
    rng = random.Random(8785)
    documents = [_random_document(rng) for _ in range(500)]
    # ensure_ascii keeps lone surrogates as \\u escapes, which JSON.parse reads back unchanged.
    texts = [json.dumps(doc, ensure_ascii=True) for doc in documents]
    result = subprocess.run(
        ["node", "-e", _NODE_CANONICALIZE],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    expected = json.loads(result.stdout)
    for text, js in zip(texts, expected, strict=True):
        assert canonicalize(json.loads(text)) == js.encode("utf-8", "surrogatepass"), text
