"""Decisions: action matching, constraints, obligations, reasons, defaults, proof, trace."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from openleash.domain.models import Result
from openleash.policy import EvalContext, Policy, evaluate
from openleash.policy.evaluate import FAILED_CLOSED_REASON

from .helpers import CONTEXT, action, decide, rules_policy


def allow_rule(pattern: str) -> Policy:
    return rules_policy(f"- {{id: r, effect: allow, action: '{pattern}'}}\n")


@pytest.mark.parametrize(
    ("pattern", "action_type", "matches"),
    [
        ("*", "anything.at.all", True),
        ("*", "", True),
        ("purchase", "purchase", True),
        ("purchase", "Purchase", False),
        ("purchase", "purchase.small", False),
        ("communication.*", "communication", True),
        ("communication.*", "communication.send", True),
        ("communication.*", "communication.email.send", True),
        ("communication.*", "communications.send", False),
        ("a.*.b", "a.x.b", False),
        ("a.*.b", "a.*.b", True),
        ("a*", "ab", False),
        (".*", ".x", True),
        (".*", "", True),
    ],
)
def test_action_patterns(pattern: str, action_type: str, matches: bool) -> None:
    result = decide(allow_rule(pattern), action(action_type))
    assert (result.matched_rule_id == "r") is matches


CONSTRAINED = """\
- id: r
  effect: allow
  action: "*"
  constraints: {constraints}
"""


def constrained(
    constraints: str, payload: dict[str, Any], rp: dict[str, Any] | None = None
) -> bool:
    p = rules_policy(CONSTRAINED.format(constraints=constraints))
    return decide(p, action(payload=payload, relying_party=rp)).matched_rule_id == "r"


@pytest.mark.parametrize(
    ("amount", "ok"),
    [
        (100, True),
        (50, True),
        (200, True),
        (49, False),
        (201, False),
        (150.5, True),
        ("100", False),
        (True, False),
        (None, False),
    ],
)
def test_amount_bounds_are_inclusive_and_numeric(amount: Any, ok: bool) -> None:
    assert constrained("{amount_min: 50, amount_max: 200}", {"amount_minor": amount}) is ok


def test_amount_constraint_needs_an_amount() -> None:
    assert not constrained("{amount_max: 200}", {})
    assert constrained("{currency: [USD]}", {"currency": "USD"})


def test_currency_is_compared_in_its_iso_spelling_and_must_be_a_string() -> None:
    assert constrained("{currency: [USD, EUR]}", {"currency": "EUR"})
    assert constrained("{currency: [USD]}", {"currency": "usd"})
    assert constrained("{currency: [usd]}", {"currency": " USD "})
    assert not constrained("{currency: [USD]}", {})
    assert not constrained("{currency: [USD]}", {"currency": "EUR"})


def test_merchant_domain_falls_back_to_the_relying_party_only_on_null_or_missing() -> None:
    c = "{merchant_domain: [shop.example]}"
    assert constrained(c, {"merchant_domain": "shop.example"})
    assert constrained(c, {}, {"domain": "shop.example"})
    assert constrained(c, {"merchant_domain": None}, {"domain": "shop.example"})
    assert not constrained(c, {"merchant_domain": 5}, {"domain": "shop.example"})
    assert constrained(c, {"merchant_domain": "SHOP.example."})  # one spelling of one host
    assert not constrained(c, {"merchant_domain": "www.shop.example"})
    assert not constrained(c, {})


def test_allowed_domains_reads_payload_domain_then_relying_party() -> None:
    c = "{allowed_domains: [a.example]}"
    assert constrained(c, {"domain": "a.example"})
    assert constrained(c, {}, {"domain": "a.example"})
    assert not constrained(c, {"domain": "b.example"}, {"domain": "a.example"})
    assert not constrained(c, {})


def test_blocked_domains_blocks_only_a_listed_string() -> None:
    c = "{blocked_domains: [bad.example]}"
    assert not constrained(c, {"domain": "bad.example"})
    assert not constrained(c, {}, {"domain": "bad.example"})
    assert constrained(c, {"domain": "good.example"})
    assert constrained(c, {})
    assert constrained(c, {"domain": ["bad.example"]})


def test_empty_constraints_hold() -> None:
    assert constrained("{}", {})


OBLIGED = """\
- id: r
  effect: allow
  action: "*"
  obligations: {obligations}
"""


def obliged(obligations: str, payload: dict[str, Any] | None = None) -> Any:
    return decide(rules_policy(OBLIGED.format(obligations=obligations)), action(payload=payload))


@pytest.mark.parametrize(
    ("types", "result"),
    [
        ([], Result.ALLOW),
        (["DEPOSIT"], Result.REQUIRE_DEPOSIT),
        (["DEPOSIT", "STEP_UP_AUTH"], Result.REQUIRE_STEP_UP),
        (["DEPOSIT", "STEP_UP_AUTH", "HUMAN_APPROVAL"], Result.REQUIRE_APPROVAL),
        (["HUMAN_APPROVAL", "DEPOSIT"], Result.REQUIRE_APPROVAL),
        (["COUNTERPARTY_ATTESTATION"], Result.ALLOW),
    ],
)
def test_obligation_precedence(types: list[str], result: Result) -> None:
    listed = "[" + ", ".join(f"{{type: {t}}}" for t in types) + "]"
    evaluation = obliged(listed)
    assert evaluation.result is result
    assert [t for t, _ in evaluation.obligations] == types


def test_obligation_details_are_params_or_empty_and_are_copies() -> None:
    evaluation = obliged("[{type: DEPOSIT, params: {amount: 5, nested: [1]}}, {type: DEPOSIT}]")
    assert evaluation.obligations == (("DEPOSIT", {"amount": 5, "nested": [1]}), ("DEPOSIT", {}))
    evaluation.obligations[0][1]["nested"].append(2)
    assert obliged("[{type: DEPOSIT, params: {amount: 5, nested: [1]}}]").obligations[0][1] == {
        "amount": 5,
        "nested": [1],
    }


STEP_UP = """\
- id: r
  effect: allow
  action: "*"
  requirements: {{min_assurance_level: {level}}}
  obligations: [{{type: COUNTERPARTY_ATTESTATION}}]
"""


@pytest.mark.parametrize(
    ("required", "actual", "step_up"),
    [
        ("LOW", None, False),
        ("SUBSTANTIAL", None, True),
        ("SUBSTANTIAL", "LOW", True),
        ("SUBSTANTIAL", "SUBSTANTIAL", False),
        ("SUBSTANTIAL", "HIGH", False),
        ("HIGH", "SUBSTANTIAL", True),
        ("SUBSTANTIAL", "high", True),
        ("SUBSTANTIAL", "", True),
        ("SUBSTANTIAL", "constructor", True),
    ],
)
def test_min_assurance_level_appends_step_up(required: str, actual: Any, step_up: bool) -> None:
    # ``actual`` is what the owner confirmed for this action (server side), never the payload.
    p = rules_policy(STEP_UP.format(level=required))
    confirmed = replace(CONTEXT, assurance_level=actual)
    evaluation = evaluate(p, action(), confirmed)
    if step_up:
        assert evaluation.result is Result.REQUIRE_STEP_UP
        assert evaluation.obligations == (
            ("COUNTERPARTY_ATTESTATION", {}),
            ("STEP_UP_AUTH", {"min_assurance_level": required}),
        )
        assert evaluation.reason == 'Rule "r" requires: REQUIRE_STEP_UP'
    else:
        assert evaluation.result is Result.ALLOW
        assert evaluation.obligations == (("COUNTERPARTY_ATTESTATION", {}),)


@pytest.mark.parametrize("claimed", ["SUBSTANTIAL", "HIGH"])
def test_an_assurance_level_in_the_payload_is_not_trusted(claimed: str) -> None:
    # PROTOCOL §3.12: the agent cannot satisfy a step-up by writing the level itself.
    p = rules_policy(STEP_UP.format(level="SUBSTANTIAL"))
    evaluation = decide(p, action(payload={"assurance_level": claimed}))
    assert evaluation.result is Result.REQUIRE_STEP_UP
    assert ("STEP_UP_AUTH", {"min_assurance_level": "SUBSTANTIAL"}) in evaluation.obligations


def test_reasons() -> None:
    p = rules_policy(
        """\
        - {id: no, effect: deny, action: x, obligations: [{type: HUMAN_APPROVAL}]}
        - {id: yes, effect: allow, action: y}
        - {id: ask, effect: allow, action: z, obligations: [{type: HUMAN_APPROVAL}]}
        """
    )
    deny = decide(p, action("x"))
    assert (deny.result, deny.reason, deny.obligations) == (
        Result.DENY,
        'Denied by rule "no"',
        (),
    )
    assert decide(p, action("y")).reason == 'Allowed by rule "yes"'
    ask = decide(p, action("z"))
    assert (ask.result, ask.reason) == (
        Result.REQUIRE_APPROVAL,
        'Rule "ask" requires: REQUIRE_APPROVAL',
    )


@pytest.mark.parametrize(
    ("default", "result", "reason", "obligations"),
    [
        ("allow", Result.ALLOW, "No rule matched; default policy: allow", ()),
        (
            "require_approval",
            Result.REQUIRE_APPROVAL,
            "No rule matched; default policy: require_approval",
            (("HUMAN_APPROVAL", {}),),
        ),
        ("deny", Result.DENY, "No rule matched; default policy: deny", ()),
        (
            "passthrough",
            Result.DENY,
            "No rule matched; default policy: passthrough (no further layer — denied)",
            (),
        ),
    ],
)
def test_defaults(default: str, result: Result, reason: str, obligations: Any) -> None:
    evaluation = decide(rules_policy("[]", default=default), action())
    assert evaluation.result is result
    assert evaluation.reason == reason
    assert evaluation.obligations == obligations
    assert evaluation.matched_rule_id is None
    assert evaluation.trace == ()


def test_first_match_wins_but_every_rule_is_traced() -> None:
    p = rules_policy(
        """\
        - id: other
          effect: deny
          action: refund
        - id: when_fails
          effect: deny
          action: purchase
          when: {match: {path: "$.payload.n", op: eq, value: 1}}
        - id: constraint_fails
          effect: deny
          action: purchase
          constraints: {amount_max: 10}
        - id: first
          effect: allow
          action: purchase
        - id: second
          effect: deny
          action: "*"
        """
    )
    evaluation = decide(p, action(payload={"amount_minor": 50}))
    assert evaluation.matched_rule_id == "first"
    assert evaluation.result is Result.ALLOW
    assert evaluation.trace == (
        {
            "rule_id": "other",
            "pattern_match": False,
            "when_match": None,
            "constraints_match": None,
            "final_match": False,
        },
        {
            "rule_id": "when_fails",
            "pattern_match": True,
            "when_match": False,
            "constraints_match": None,
            "final_match": False,
        },
        {
            "rule_id": "constraint_fails",
            "pattern_match": True,
            "when_match": True,
            "constraints_match": False,
            "final_match": False,
        },
        {
            "rule_id": "first",
            "pattern_match": True,
            "when_match": True,
            "constraints_match": True,
            "final_match": True,
        },
        {
            "rule_id": "second",
            "pattern_match": True,
            "when_match": True,
            "constraints_match": True,
            "final_match": True,
        },
    )


def test_duplicate_rule_ids_report_the_first_that_matched() -> None:
    p = rules_policy(
        "- {id: same, effect: allow, action: a}\n- {id: same, effect: deny, action: b}\n"
    )
    assert decide(p, action("b")).reason == 'Denied by rule "same"'


@pytest.mark.parametrize(
    ("proof", "trust", "required"),
    [
        ("{required: true}", None, True),
        ("{required: false}", None, False),
        ("{}", None, False),
        ("{required: false}", "HIGH", True),
        ("{}", "REGULATED", True),
        ("{}", "MEDIUM", False),
        ("{}", "high", False),
    ],
)
def test_proof_required(proof: str, trust: str | None, required: bool) -> None:
    p = rules_policy(f"- {{id: r, effect: allow, action: '*', proof: {proof}}}\n")
    rp = {"trust_profile": trust} if trust else None
    assert decide(p, action(relying_party=rp)).proof_required is required


def test_default_allow_needs_a_proof_only_for_high_trust_profiles() -> None:
    p = rules_policy("[]", default="allow")
    assert not decide(p, action()).proof_required
    assert decide(p, action(relying_party={"trust_profile": "HIGH"})).proof_required


def test_proof_ttl_is_the_rules_or_the_servers_default() -> None:
    p = rules_policy(
        "- {id: a, effect: allow, action: a, proof: {ttl_seconds: 30}}\n"
        "- {id: b, effect: allow, action: b, proof: {required: true}}\n"
    )
    assert decide(p, action("a")).proof_ttl_seconds == 30
    assert decide(p, action("b")).proof_ttl_seconds == 120
    assert decide(p, action("c")).proof_ttl_seconds == 120
    no_default = replace(CONTEXT, default_proof_ttl_seconds=None)
    assert decide(p, action("b"), no_default).proof_ttl_seconds is None


def test_server_context_answers_context_paths_when_given() -> None:
    p = rules_policy(
        "- id: r\n  effect: allow\n  action: '*'\n"
        "  when: {match: {path: '$.context.risk', op: eq, value: low}}\n"
    )
    spoofed = action()
    spoofed["context"] = {"risk": "low"}
    with_server = replace(CONTEXT, server_context={"risk": "high"})
    assert decide(p, spoofed).result is Result.ALLOW  # v1: reads the action itself
    assert decide(p, spoofed, with_server).result is Result.DENY
    assert decide(p, action(), replace(CONTEXT, server_context={"risk": "low"})).result is (
        Result.ALLOW
    )


class _Exploding(dict[str, Any]):
    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("boom")


def test_unexpected_errors_fail_closed() -> None:
    evaluation = evaluate(rules_policy("[]", default="allow"), _Exploding(), CONTEXT)
    assert evaluation.result is Result.DENY
    assert evaluation.reason == FAILED_CLOSED_REASON
    assert evaluation.error == "RuntimeError: boom"


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"action_type": 5, "payload": "x", "relying_party": []},
        {"action_type": None, "payload": None, "relying_party": None},
    ],
)
def test_malformed_actions_never_raise(broken: dict[str, Any]) -> None:
    p = rules_policy(
        "- {id: r, effect: allow, action: 'x.*', constraints: {amount_max: 5, "
        "blocked_domains: [a]}, requirements: {min_assurance_level: HIGH}}\n",
        default="require_approval",
    )
    assert decide(p, broken).result is Result.REQUIRE_APPROVAL


def test_context_is_frozen() -> None:
    context = EvalContext(now=CONTEXT.now)
    with pytest.raises(AttributeError):
        context.now = CONTEXT.now  # type: ignore[misc]  # proving immutability
