"""Size bounds of a policy: each refused with its place (and line), never an exception."""

from __future__ import annotations

import pytest

from openleash.api.errors import status_of
from openleash.domain.errors import PolicyError, PolicyTooLargeError
from openleash.policy import parse_policy
from openleash.policy.expressions import MAX_EXPR_DEPTH
from openleash.policy.parser import MAX_POLICY_BYTES, MAX_RULES
from openleash.policy.syntax import MAX_DEPTH, MAX_STRING_CHARS

HEAD = "version: 1\ndefault: deny\nrules:\n"


def refused(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return caught.value


@pytest.mark.parametrize(
    "number",
    [
        "9" * 5_000,  # past Python's own limit on digits, where int() raises
        "-" + "9" * 400,
        "1e400",
        "-1.5e309",
        "0x" + "f" * 300,
        "0o" + "7" * 400,
        "!!int " + "9" * 5_000,
        "!!float 1e999",
    ],
)
def test_numbers_beyond_a_double_are_located_errors(number: str) -> None:
    error = refused(
        HEAD + "  - id: r\n    effect: allow\n    action: x\n"
        f"    constraints: {{ amount_max: {number} }}\n"
    )
    (issue,) = error.issues
    assert issue["line"] == 7
    assert "out of range" in issue["message"]
    assert error.code == "INVALID_POLICY"


@pytest.mark.parametrize("number", ["1e308", "-1.7e308", "9007199254740993", ".inf", "0x10"])
def test_numbers_a_double_holds_still_parse(number: str) -> None:
    parse_policy(
        HEAD
        + f"  - {{ id: r, effect: allow, action: x, constraints: {{ amount_max: {number} }} }}\n"
    )


def test_nesting_deeper_than_the_bound_is_a_located_error() -> None:
    deep = "[" * (MAX_DEPTH + 10) + "]" * (MAX_DEPTH + 10)
    error = refused(HEAD + f"  - {{ id: r, effect: allow, action: x, when: {deep} }}\n")
    (issue,) = error.issues
    assert f"deeper than {MAX_DEPTH}" in issue["message"]
    assert issue["line"] == 4


def test_expressions_nested_to_their_own_limit_still_parse() -> None:
    expr = '{ match: { path: "$.a", op: exists } }'
    for _ in range(MAX_EXPR_DEPTH - 1):
        expr = f"{{ all: [ {expr} ] }}"
    parse_policy(HEAD + f"  - {{ id: r, effect: allow, action: x, when: {expr} }}\n")


def test_alias_expansion_is_bounded() -> None:
    laughs = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        laughs.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    error = refused("\n".join(laughs) + "\nversion: 1\ndefault: deny\nrules: []\n")
    (issue,) = error.issues
    assert "aliases expand to too many nodes" in issue["message"]
    assert issue["line"] is not None


def test_strings_longer_than_the_bound_are_located_errors() -> None:
    long = "d" * (MAX_STRING_CHARS + 1)
    error = refused(
        HEAD + f"  - id: r\n    effect: allow\n    action: x\n    description: {long}\n"
    )
    (issue,) = error.issues
    assert f"longer than {MAX_STRING_CHARS}" in issue["message"]
    assert issue["line"] == 7


def test_a_policy_over_the_byte_bound_is_payload_too_large() -> None:
    filler = "# " + "x" * 98 + "\n"
    text = HEAD + filler * (MAX_POLICY_BYTES // len(filler) + 1)
    with pytest.raises(PolicyTooLargeError) as caught:
        parse_policy(text)
    assert caught.value.code == "PAYLOAD_TOO_LARGE"
    assert status_of(caught.value) == 413
    assert str(MAX_POLICY_BYTES) in caught.value.message


def test_bytes_not_characters_are_counted() -> None:
    # Three bytes a character: under the bound in characters, over it in UTF-8.
    text = HEAD + "# " + "€" * (MAX_POLICY_BYTES // 3 + 1) + "\n"
    assert len(text) < MAX_POLICY_BYTES
    with pytest.raises(PolicyTooLargeError):
        parse_policy(text)


def test_more_rules_than_the_bound_are_a_located_error() -> None:
    rule = "  - {id: r, effect: deny, action: x}\n"
    error = refused(HEAD + rule * (MAX_RULES + 1))
    (issue,) = error.issues
    assert issue["path"] == "rules"
    assert f"at most {MAX_RULES}" in issue["message"]


def test_a_policy_at_the_rule_bound_parses() -> None:
    assert len(parse_policy(HEAD + "  - {id: r, effect: deny, action: x}\n" * MAX_RULES).rules) == (
        MAX_RULES
    )
