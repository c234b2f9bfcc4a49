"""Parsing and validation: what is accepted, and how refusals are located."""

from __future__ import annotations

import contextlib
import textwrap
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openleash.domain.errors import PolicyError
from openleash.policy import (
    AllOf,
    DefaultEffect,
    Effect,
    Match,
    Not,
    Op,
    Policy,
    parse_policy,
    parse_policy_data,
)
from openleash.policy.parser import MAX_EXPR_DEPTH
from openleash.policy.paths import UNDEFINED

FULL = """\
version: 1
default: require_approval
rules:
  - id: shop
    effect: allow
    action: purchase
    description: everyday shopping
    when:
      all:
        - match: { path: "$.payload.category", op: in, value: [food, books] }
        - not: { match: { path: "$.payload.gift", op: exists } }
        - any: []
    constraints:
      amount_max: 10000
      amount_min: 1
      currency: [USD]
      merchant_domain: [shop.example]
      allowed_domains: [shop.example]
      blocked_domains: [bad.example]
    requirements: { min_assurance_level: SUBSTANTIAL, credential_scheme: eidas }
    obligations:
      - type: COUNTERPARTY_ATTESTATION
        params: { level: 2 }
    proof: { required: true, ttl_seconds: 60 }
  - id: shop
    effect: deny
    action: "*"
"""


def refusal(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(textwrap.dedent(text))
    return caught.value


def test_a_policy_using_every_v1_key_parses() -> None:
    policy = parse_policy(FULL)
    assert policy.version == 1
    assert policy.default is DefaultEffect.REQUIRE_APPROVAL
    shop, catch_all = policy.rules
    assert (shop.id, catch_all.id) == ("shop", "shop")  # ids need not be unique
    assert shop.effect is Effect.ALLOW
    assert catch_all.effect is Effect.DENY
    assert isinstance(shop.when, AllOf)
    assert isinstance(shop.when.items[1], Not)
    assert shop.constraints is not None
    assert shop.constraints.currency == ("USD",)
    assert shop.obligations is not None
    assert shop.obligations[0].params == {"level": 2}
    assert shop.proof is not None
    assert shop.proof.ttl_seconds == 60
    assert catch_all.action.any


def test_every_default_is_accepted() -> None:
    for default in DefaultEffect:
        policy = parse_policy(f"version: 1\ndefault: {default}\nrules: []\n")
        assert policy.default is default


def test_version_one_written_as_float_is_one() -> None:
    assert parse_policy("version: 1.0\ndefault: deny\nrules: []\n").version == 1


def test_match_without_value_keeps_value_undefined() -> None:
    policy = parse_policy(
        "version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: x\n"
        '    when: { match: { path: "$.a", op: eq } }\n'
    )
    when = policy.rules[0].when
    assert isinstance(when, Match)
    assert when.value is UNDEFINED
    assert when.op is Op.EQ


def test_error_names_place_and_line() -> None:
    error = refusal(
        """\
        version: 1
        default: deny
        rules:
          - id: a
            effect: allow
            action: purchase
          - id: b
            effect: allow
            action: purchase
          - id: c
            effect: allow
            action: purchase
            constraints:
              amount_mx: 5
        """
    )
    assert str(error) == (
        "Policy validation failed: rules[2].constraints: unknown key `amount_mx` (line 14)"
    )
    assert error.issues == [
        {"path": "rules[2].constraints", "message": "unknown key `amount_mx`", "line": 14}
    ]
    assert error.code == "INVALID_POLICY"
    assert error.details == {"issues": error.issues}


def test_all_errors_are_collected() -> None:
    error = refusal(
        """\
        version: 2
        default: maybe
        extra: 1
        rules:
          - id: 7
            effect: permit
            colour: red
          - effect: allow
            action: x
            proof: { required: "yes", ttl_seconds: 0 }
            obligations: [{ params: [] }]
            requirements: { min_assurance_level: MEDIUM }
        """
    )
    assert [(i["path"], i["message"], i["line"]) for i in error.issues] == [
        ("policy", "unknown key `extra`", 3),
        ("version", "must be 1, not `2`", 1),
        ("default", "must be one of allow, deny, passthrough, require_approval, not `maybe`", 2),
        ("rules[0]", "missing required key `action`", 5),
        ("rules[0]", "unknown key `colour`", 7),
        ("rules[0].id", "must be a string, not a number", 5),
        ("rules[0].effect", "must be one of allow, deny, not `permit`", 6),
        ("rules[1]", "missing required key `id`", 8),
        (
            "rules[1].requirements.min_assurance_level",
            "must be one of LOW, SUBSTANTIAL, HIGH, not `MEDIUM`",
            12,
        ),
        ("rules[1].obligations[0]", "missing required key `type`", 11),
        ("rules[1].obligations[0].params", "must be an object, not a list", 11),
        ("rules[1].proof.required", "must be true or false, not a string", 10),
        ("rules[1].proof.ttl_seconds", "must be greater than 0, not `0`", 10),
    ]
    assert str(error).startswith("Policy validation failed: policy: unknown key `extra` (line 3); ")


@pytest.mark.parametrize("ttl", ["0", "-5", "-0.5", ".nan"])
def test_proof_ttl_must_be_positive(ttl: str) -> None:
    error = refusal(
        f"version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: x\n"
        f"    proof: {{ ttl_seconds: {ttl} }}\n"
    )
    assert error.issues[0]["path"] == "rules[0].proof.ttl_seconds"
    assert "greater than 0" in error.issues[0]["message"]


def test_fractional_ttl_is_a_number_and_accepted() -> None:
    policy = parse_policy(
        "version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: x\n"
        "    proof: { ttl_seconds: 0.5 }\n"
    )
    assert policy.rules[0].proof is not None
    assert policy.rules[0].proof.ttl_seconds == 0.5


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("{}", "must have exactly one of the keys `all`, `any`, `not`, `match`"),
        ("{all: [], any: []}", "must have exactly one of the keys `all`, `any`, `not`, `match`"),
        ("{every: []}", "unknown key `every`"),
        ("[]", "must be an object, not a list"),
        ("null", "must be an object, not null"),
        ("{all: {}}", "must be a list, not an object"),
        ("{match: {path: x, op: eq}}", "must start with `$.`, not `x`"),
        (
            "{match: {path: $.a, op: like}}",
            "must be one of eq, neq, in, nin, lt, lte, gt, gte, regex, exists, not `like`",
        ),
        ("{match: {path: $.a}}", "missing required key `op`"),
        ("{match: {path: $.a, op: eq, flags: i}}", "unknown key `flags`"),
    ],
)
def test_expression_errors(when: str, message: str) -> None:
    error = refusal(
        f"version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: x\n"
        f"    when: {when}\n"
    )
    assert message in [i["message"] for i in error.issues]
    assert all(i["line"] == 7 for i in error.issues)


def test_expression_depth_is_capped() -> None:
    expr: dict[str, Any] = {"match": {"path": "$.a", "op": "exists"}}
    for _ in range(MAX_EXPR_DEPTH + 1):
        expr = {"not": expr}
    data = {"version": 1, "default": "deny", "rules": [_rule(when=expr)]}
    with pytest.raises(PolicyError, match="nest deeper"):
        parse_policy_data(data)


def test_deep_but_allowed_expression_parses() -> None:
    expr: dict[str, Any] = {"match": {"path": "$.a", "op": "exists"}}
    for _ in range(MAX_EXPR_DEPTH - 1):
        expr = {"not": expr}
    parse_policy_data({"version": 1, "default": "deny", "rules": [_rule(when=expr)]})


def test_invalid_regex_is_accepted_and_warned_about() -> None:
    policy = parse_policy(
        "version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: x\n"
        '    when: { match: { path: "$.a", op: regex, value: "(" } }\n'
    )
    when = policy.rules[0].when
    assert isinstance(when, Match)
    assert when.regex is None
    assert policy.warnings == (
        {
            "path": "rules[0].when.match.value",
            "message": "`(` is not a valid regular expression; never matches",
            "line": 7,
        },
    )


def test_yaml_syntax_error_is_a_policy_error_with_line() -> None:
    error = refusal("version: 1\ndefault: deny\nrules: [\n")
    assert error.code == "INVALID_POLICY"
    assert str(error).startswith("Invalid policy YAML: ")
    assert error.issues[0]["line"] == 4


def test_duplicate_key_is_a_policy_error() -> None:
    error = refusal("version: 1\ndefault: deny\ndefault: allow\nrules: []\n")
    assert "duplicate key `default`" in str(error)
    assert error.issues[0]["line"] == 3


@pytest.mark.parametrize("text", ["", "[]", "just text", "42"])
def test_non_object_documents_are_refused(text: str) -> None:
    error = refusal(text)
    assert error.issues[0]["path"] == "policy"
    assert error.issues[0]["message"].startswith("must be an object")


def test_yes_is_a_string_so_an_unquoted_yes_is_not_a_boolean() -> None:
    error = refusal(
        "version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: x\n"
        "    proof: { required: yes }\n"
    )
    assert error.issues[0]["message"] == "must be true or false, not a string"


def test_booleans_are_not_numbers() -> None:
    error = refusal(
        "version: true\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: x\n"
        "    constraints: { amount_max: true }\n"
    )
    assert [i["message"] for i in error.issues] == [
        "must be 1, not a boolean",
        "must be a number, not a boolean",
    ]


def test_parse_policy_data_has_no_lines() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy_data({"version": 1, "default": "deny"})
    assert str(caught.value) == "Policy validation failed: policy: missing required key `rules`"
    assert caught.value.issues[0]["line"] is None


def test_parsed_values_are_detached_from_the_input() -> None:
    value = ["a"]
    params = {"k": [1]}
    data = {
        "version": 1,
        "default": "deny",
        "rules": [
            _rule(
                when={"match": {"path": "$.a", "op": "in", "value": value}},
                obligations=[{"type": "DEPOSIT", "params": params}],
            )
        ],
    }
    policy = parse_policy_data(data)
    value.append("b")
    params["k"].append(2)
    rule = policy.rules[0]
    assert isinstance(rule.when, Match)
    assert rule.when.value == ["a"]
    assert rule.obligations is not None
    assert rule.obligations[0].params == {"k": [1]}


def test_canonical_data_round_trips() -> None:
    policy = parse_policy(FULL)
    data = policy.canonical_data()
    assert list(data) == ["version", "default", "rules"]
    assert list(data["rules"][0]) == [
        "id",
        "effect",
        "action",
        "description",
        "when",
        "constraints",
        "requirements",
        "obligations",
        "proof",
    ]
    assert data["rules"][0]["obligations"][0] == {
        "type": "COUNTERPARTY_ATTESTATION",
        "params": {"level": 2},
    }
    assert parse_policy_data(data).canonical_data() == data
    assert parse_policy_data(data) == policy


def test_canonical_data_ignores_layout_and_key_order() -> None:
    a = parse_policy("version: 1\ndefault: deny\nrules: [{id: r, action: x, effect: allow}]\n")
    b = parse_policy(
        "rules:\n  - effect: allow\n    id: r   # a comment\n    action: x\n"
        "default: deny\nversion: 1\n"
    )
    assert a.canonical_data() == b.canonical_data()


def _outcome(data: Any) -> Policy | PolicyError:
    try:
        return parse_policy_data(data)
    except PolicyError as exc:
        return exc


def _rule(**extra: Any) -> dict[str, Any]:
    return {"id": "r", "effect": "allow", "action": "x", **extra}


KEYS = st.sampled_from(
    [
        "version",
        "default",
        "rules",
        "id",
        "effect",
        "action",
        "description",
        "when",
        "constraints",
        "requirements",
        "obligations",
        "proof",
        "all",
        "any",
        "not",
        "match",
        "path",
        "op",
        "value",
        "type",
        "params",
        "required",
        "ttl_seconds",
        "amount_max",
        "currency",
        "min_assurance_level",
        "extra",
    ]
)
SCALARS = st.sampled_from(
    [
        1,
        0,
        -1,
        1.5,
        True,
        False,
        None,
        "",
        "allow",
        "deny",
        "passthrough",
        "$.a",
        "$.",
        "eq",
        "in",
        "regex",
        "(",
        "*",
        "x.*",
        "LOW",
        "HIGH",
        "HUMAN_APPROVAL",
        float("nan"),
    ]
)
DATA = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=30,
)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(DATA)
def test_any_data_parses_or_raises_policy_error(data: Any) -> None:
    outcome = _outcome(data)
    if isinstance(outcome, PolicyError):
        assert outcome.issues
        assert str(outcome).startswith("Policy validation failed: ")
    else:
        assert isinstance(outcome, Policy)


@settings(max_examples=300)
@given(
    st.dictionaries(KEYS, DATA, max_size=4).map(
        lambda d: {"version": 1, "default": "deny", "rules": [{**_rule(), **d}]}
    )
)
def test_any_rule_parses_or_raises_policy_error(data: Any) -> None:
    outcome = _outcome(data)
    assert isinstance(outcome, Policy) or outcome.issues


@given(st.text(alphabet=" \n-:[]{}#&*!|>'\"%@`,?abcdeflnorstuvy0123456789.$", max_size=120))
def test_any_yaml_ish_text_parses_or_raises_policy_error(text: str) -> None:
    with contextlib.suppress(PolicyError):
        parse_policy(text)
