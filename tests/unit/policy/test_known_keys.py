"""Misspelt keys and obligation types are errors with their place, never silently ignored."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest

from openleash.domain.errors import PolicyError
from openleash.domain.models import Result
from openleash.policy import parse_policy
from openleash.policy.model import OBLIGATION_TYPES, Obligation
from tests.unit.policy.helpers import action, decide, rules_policy


def issues_of(text: str) -> list[dict[str, object]]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(textwrap.dedent(text))
    return caught.value.issues


@pytest.mark.parametrize("kind", ["human_aproval", "HUMAN_APROVAL", "human_approval", "X", ""])
def test_unknown_obligation_types_are_refused_with_their_place(kind: str) -> None:
    issues = issues_of(
        f"""\
        version: 1
        default: deny
        rules:
          - id: r
            effect: allow
            action: purchase
            obligations:
              - type: "{kind}"
        """
    )
    assert [(i["path"], i["line"]) for i in issues] == [("rules[0].obligations[0].type", 8)]
    assert "HUMAN_APPROVAL" in str(issues[0]["message"])


@pytest.mark.parametrize("kind", OBLIGATION_TYPES)
def test_every_known_obligation_type_is_accepted(kind: str) -> None:
    rules_policy(f"- {{id: r, effect: allow, action: x, obligations: [{{type: {kind}}}]}}\n")


def test_an_unknown_obligation_that_got_into_a_policy_denies() -> None:
    # However it got there (an old stored policy, a policy built in code), it cannot allow.
    p = rules_policy("- {id: r, effect: allow, action: purchase, obligations: [{type: DEPOSIT}]}\n")
    rule = replace(p.rules[0], obligations=(Obligation("HUMAN_APROVAL"),))
    evaluation = decide(replace(p, rules=(rule,)), action())
    assert evaluation.result is Result.DENY
    assert "HUMAN_APROVAL" in evaluation.reason
    assert evaluation.obligations == ()


PLACES = [
    ("top: 1\n", "policy", "top"),
    ("rules: [{id: r, effect: allow, action: x, when_: {}}]\n", "rules[0]", "when_"),
    (
        "rules: [{id: r, effect: allow, action: x, constraints: {amount_mx: 1}}]\n",
        "rules[0].constraints",
        "amount_mx",
    ),
    (
        "rules: [{id: r, effect: allow, action: x, requirements: {level: HIGH}}]\n",
        "rules[0].requirements",
        "level",
    ),
    (
        "rules: [{id: r, effect: allow, action: x, obligations: [{type: DEPOSIT, note: n}]}]\n",
        "rules[0].obligations[0]",
        "note",
    ),
    (
        "rules: [{id: r, effect: allow, action: x, proof: {ttl: 5}}]\n",
        "rules[0].proof",
        "ttl",
    ),
    (
        "rules: [{id: r, effect: allow, action: x, schedule: {day: [mon]}}]\n",
        "rules[0].schedule",
        "day",
    ),
    (
        "rules: [{id: r, effect: allow, action: x, limits: [{count: 1, window: 1h, pre: x}]}]\n",
        "rules[0].limits[0]",
        "pre",
    ),
    (
        "rules: [{id: r, effect: allow, action: x, when: {match: {path: $.a, op: eq, val: 1}}}]\n",
        "rules[0].when.match",
        "val",
    ),
    ("rules: [{id: r, effect: allow, action: x, when: {some: []}}]\n", "rules[0].when", "some"),
    ("rules: []\nrisk: [{action: x, level: low, lvl: 1}]\n", "risk[0]", "lvl"),
    (
        "rules: []\ncounterparties: [{domain: a.example, trust: LOW, note: n}]\n",
        "counterparties[0]",
        "note",
    ),
]


@pytest.mark.parametrize(("body", "path", "key"), PLACES)
def test_unknown_keys_are_refused_at_every_level(body: str, path: str, key: str) -> None:
    issues = issues_of("version: 1\ndefault: deny\n" + body)
    assert any(i["path"] == path and f"unknown key `{key}`" in str(i["message"]) for i in issues)
    assert all(i["line"] is not None for i in issues)
