"""Counterparties: who the action deals with, and the owner's trust in them."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openleash.domain.errors import PolicyError
from openleash.domain.models import Result
from openleash.policy import (
    TRUST_LEVELS,
    Counterparty,
    Policy,
    counterparty_of,
    merge_layers,
    parse_policy,
    trust_of,
)

from .helpers import action, decide

TRUSTED = """\
version: 1
default: deny
counterparties:
  - {domain: shop.example, trust: HIGH}
  - {domain: "*.example", trust: LOW}
  - {domain: "*.eu.example", trust: MEDIUM}
  - {domain: "*.gov", trust: REGULATED}
  - {domain: Evil.Shop.Example, trust: UNKNOWN}
rules: []
"""


def layer(counterparties: str, default: str = "passthrough") -> Policy:
    return parse_policy(
        f"version: 1\ndefault: {default}\ncounterparties: {counterparties}\nrules: []\n"
    )


@pytest.mark.parametrize(
    ("payload", "relying_party", "expected"),
    [
        (
            {"merchant_domain": "Shop.Example", "domain": "b.example"},
            {"domain": "c"},
            "shop.example",
        ),
        ({"merchant_domain": "", "domain": "B.example"}, {"domain": "c"}, "b.example"),
        ({"merchant_domain": None, "domain": 5}, {"domain": "RP.Example"}, "rp.example"),
        ({}, {"domain": ""}, None),
        ({}, None, None),
        ({"merchant_domain": ["a"]}, {"domain": None}, None),
    ],
)
def test_counterparty_is_the_first_non_empty_domain_lower_cased(
    payload: dict[str, Any], relying_party: dict[str, Any] | None, expected: str | None
) -> None:
    assert counterparty_of(action(payload=payload, relying_party=relying_party)) == expected


def test_counterparty_of_odd_actions() -> None:
    assert counterparty_of({}) is None
    assert counterparty_of({"payload": "x", "relying_party": ["y"]}) is None


@pytest.mark.parametrize(
    ("domain", "trust"),
    [
        ("shop.example", "HIGH"),  # exact beats the *.example pattern
        ("SHOP.EXAMPLE", "HIGH"),  # case does not matter
        ("other.example", "LOW"),
        ("a.b.example", "LOW"),  # any depth
        ("x.eu.example", "MEDIUM"),  # the longer suffix wins
        ("eu.example", "LOW"),  # *.eu.example is for subdomains of eu.example only
        ("example", "UNKNOWN"),
        ("irs.gov", "REGULATED"),
        ("a.b.gov", "REGULATED"),
        ("gov", "UNKNOWN"),  # *.gov matches any subdomain of gov, not gov itself
        ("notgov", "UNKNOWN"),
        ("evil.shop.example", "UNKNOWN"),  # listed as UNKNOWN: beats *.example
        ("elsewhere.test", "UNKNOWN"),
        (None, "UNKNOWN"),
        # Not a host name: never trusted, whatever the suffix.
        (".gov", "UNKNOWN"),
        ("a..gov", "UNKNOWN"),
        ("shop.example.", "HIGH"),  # a trailing dot names the same host
        (" Shop.Example ", "HIGH"),  # so do case and surrounding space
        ("shop.example:443", "UNKNOWN"),
        ("a b.gov", "UNKNOWN"),
        ("", "UNKNOWN"),
    ],
)
def test_trust_precedence(domain: str | None, trust: str) -> None:
    assert trust_of(parse_policy(TRUSTED), domain) == trust


def test_on_equal_specificity_the_more_specific_layer_wins() -> None:
    agent = layer("[{domain: shop.example, trust: LOW}, {domain: '*.gov', trust: MEDIUM}]")
    owner = layer(
        "[{domain: shop.example, trust: HIGH}, {domain: '*.irs.gov', trust: HIGH}, "
        "{domain: a.example, trust: HIGH}]",
        default="deny",
    )
    merged = merge_layers([agent, owner])
    assert trust_of(merged, "shop.example") == "LOW"
    assert trust_of(merge_layers([owner, agent]), "shop.example") == "HIGH"
    # A more specific entry of a less specific layer still beats a less specific one.
    assert trust_of(merged, "x.irs.gov") == "HIGH"
    assert trust_of(merged, "x.gov") == "MEDIUM"
    assert trust_of(merged, "a.example") == "HIGH"
    assert merged.counterparties == (
        Counterparty("shop.example", "LOW"),
        Counterparty("*.gov", "MEDIUM"),
        Counterparty("shop.example", "HIGH"),
        Counterparty("*.irs.gov", "HIGH"),
        Counterparty("a.example", "HIGH"),
    )


def test_layers_without_counterparties_merge_to_none() -> None:
    empty = parse_policy("version: 1\ndefault: deny\nrules: []\n")
    assert merge_layers([empty, empty]).counterparties is None
    assert merge_layers([empty, layer("[]")]).counterparties == ()


LABELS = st.text(alphabet="abcxyz0", min_size=1, max_size=3)


@given(labels=st.lists(LABELS, min_size=1, max_size=4), trust=st.sampled_from(TRUST_LEVELS))
def test_a_suffix_pattern_covers_exactly_its_proper_subdomains(
    labels: list[str], trust: str
) -> None:
    suffix = ".".join(labels)
    p = layer(f"[{{domain: '*.{suffix}', trust: {trust}}}]")
    assert trust_of(p, suffix) == "UNKNOWN"
    assert trust_of(p, f"a.{suffix}") == trust
    assert trust_of(p, f"q.r.{suffix}") == trust
    assert trust_of(p, f"a{suffix}") == "UNKNOWN"


# ---- in decisions ---------------------------------------------------------------------------


def trust_rule(trusts: str) -> Policy:
    return parse_policy(
        TRUSTED.replace(
            "rules: []",
            f"rules:\n  - {{id: r, effect: allow, action: '*', "
            f"constraints: {{counterparty_trust: {trusts}}}}}",
        )
    )


@pytest.mark.parametrize(
    ("domain", "allowed"),
    [("shop.example", True), ("irs.gov", True), ("other.example", False), ("new.test", False)],
)
def test_counterparty_trust_constraint(domain: str, allowed: bool) -> None:
    p = trust_rule("[MEDIUM, HIGH, REGULATED]")
    result = decide(p, action(payload={"merchant_domain": domain})).result
    assert (result is Result.ALLOW) is allowed


def test_unknown_counterparties_can_be_named() -> None:
    p = trust_rule("[UNKNOWN]")
    assert decide(p, action(payload={})).result is Result.ALLOW
    assert decide(p, action(payload={"domain": "new.test"})).result is Result.ALLOW
    assert decide(p, action(payload={"domain": "shop.example"})).result is Result.DENY


def test_the_agents_trust_profile_never_raises_trust() -> None:
    p = trust_rule("[HIGH, REGULATED]")
    a = action(payload={}, relying_party={"domain": "new.test", "trust_profile": "REGULATED"})
    assert decide(p, a).result is Result.DENY


# ---- validation -----------------------------------------------------------------------------


def refusal(entries: str) -> PolicyError:
    text = (
        f"version: 1\ndefault: deny\nrules: []\ncounterparties:\n{textwrap.indent(entries, '  ')}"
    )
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return caught.value


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("- {domain: '*', trust: LOW}\n", "counterparties[0].domain: must be a domain such as"),
        ("- {domain: '*.', trust: LOW}\n", "not `*.`"),
        ("- {domain: 'a.*.gov', trust: LOW}\n", "not `a.*.gov`"),
        ("- {domain: '**.gov', trust: LOW}\n", "not `**.gov`"),
        ("- {domain: 'a..b', trust: LOW}\n", "not `a..b`"),
        ("- {domain: '-a.example', trust: LOW}\n", "not `-a.example`"),
        ("- {domain: 'shop.example.', trust: LOW}\n", "not `shop.example.`"),
        ("- {domain: 'shop.example:443', trust: LOW}\n", "not `shop.example:443`"),
        ("- {domain: 'https://shop.example', trust: LOW}\n", "not `https://shop.example`"),
        ("- {domain: 'bücher.example', trust: LOW}\n", "not `bücher.example`"),
        ("- {domain: '', trust: LOW}\n", "not ``"),
        (f"- {{domain: {'a' * 64}.example, trust: LOW}}\n", "must be a domain such as"),
        ("- {domain: 5, trust: LOW}\n", "counterparties[0].domain: must be a string, not a number"),
        ("- {domain: a.example, trust: high}\n", "counterparties[0].trust: must be one of UNKNOWN"),
        ("- {domain: a.example, trust: TRUSTED}\n", "not `TRUSTED`"),
        ("- {domain: a.example}\n", "counterparties[0]: missing required key `trust`"),
        ("- {trust: LOW}\n", "counterparties[0]: missing required key `domain`"),
        ("- {domain: a.example, trust: LOW, note: x}\n", "unknown key `note`"),
        (
            "- {domain: a.example, trust: LOW}\n- {domain: A.Example, trust: HIGH}\n",
            "counterparties[1].domain: duplicate domain `a.example` (also [0]) (line 6)",
        ),
        ("{domain: a.example, trust: LOW}\n", "counterparties: must be a list, not an object"),
    ],
)
def test_counterparty_errors_are_located(entries: str, message: str) -> None:
    error = refusal(entries)
    assert message in str(error)
    assert all(issue["line"] is not None for issue in error.issues)


def test_a_duplicate_is_reported_beside_other_errors() -> None:
    error = refusal(
        "- {domain: a.example, trust: LOW}\n- {domain: '*', trust: LOW}\n"
        "- {domain: a.example, trust: HIGH}\n"
    )
    assert [issue["path"] for issue in error.issues] == [
        "counterparties[1].domain",
        "counterparties[2].domain",
    ]


def test_domains_are_kept_in_lower_case() -> None:
    p = layer("[{domain: '*.GOV', trust: REGULATED}, {domain: Shop.Example, trust: HIGH}]")
    assert p.counterparties == (
        Counterparty("*.gov", "REGULATED"),
        Counterparty("shop.example", "HIGH"),
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[HIGH, high]", "constraints.counterparty_trust[1]: unknown trust `high`"),
        ("[TRUSTED]", "unknown trust `TRUSTED`; use UNKNOWN, LOW, MEDIUM, HIGH, REGULATED"),
        ("HIGH", "constraints.counterparty_trust: must be a list, not a string"),
    ],
)
def test_counterparty_trust_constraint_errors(value: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(
            "version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: x\n"
            f"    constraints:\n      counterparty_trust: {value}\n"
        )
    assert message in str(caught.value)
    assert caught.value.issues[0]["line"] == 8
