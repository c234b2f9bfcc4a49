"""Holes found by attacking the server as a hostile agent: each test fails on the code before
its fix (or, where marked, documents a hole still open)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openleash.crypto import PROOF, verify_token
from tests.api.conftest import Api
from tests.api.test_limits import only_policy


def body(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def decide(api: Api, payload: dict[str, Any], relying_party: dict[str, Any] | None = None) -> Any:
    action = api.agent.action(**payload)
    if relying_party is not None:
        action["relying_party"] = relying_party
    response = api.signed("POST", "/v1/authorize", body(action))
    assert response.status_code == 200, response.text
    return response.json()


def proof_counterparty(api: Api, decision: dict[str, Any]) -> Any:
    snap = api.run(api.services.runtime.snapshot())
    claims = verify_token(decision["proof_token"], snap.keyring, now=api.clock(), purpose=PROOF)
    return claims.get("counterparty")


# -- domain lists judge the counterparty a proof names ------------------------------------------

BLOCKING = """\
version: 1
default: deny
rules:
  - id: anywhere_but_evil
    effect: allow
    action: purchase
    constraints: { blocked_domains: [evil.example] }
    proof: { required: true, ttl_seconds: 60 }
"""

ALLOW_LISTED = """\
version: 1
default: deny
rules:
  - id: only_good
    effect: allow
    action: purchase
    constraints: { allowed_domains: [good.example] }
    proof: { required: true, ttl_seconds: 60 }
"""

MERCHANT_LISTED = """\
version: 1
default: deny
rules:
  - id: only_good_merchant
    effect: allow
    action: purchase
    constraints: { merchant_domain: [good.example] }
    proof: { required: true, ttl_seconds: 60 }
"""

#: Actions whose proof would name evil.example (the counterparty: merchant_domain, else
#: domain, else relying_party.domain) while the v1 field a domain list reads says otherwise.
EVIL_COUNTERPARTY = [
    ({"merchant_domain": "evil.example", "domain": "good.example"}, None),
    ({"domain": "."}, {"domain": "evil.example"}),
    ({"domain": "  "}, {"domain": "evil.example"}),
    ({"domain": 5}, {"domain": "evil.example"}),
]


@pytest.mark.parametrize(("payload", "relying_party"), EVIL_COUNTERPARTY)
def test_blocked_domain_gets_no_proof_through_another_field(
    api: Api, payload: dict[str, Any], relying_party: dict[str, Any] | None
) -> None:
    only_policy(api, BLOCKING)
    decision = decide(api, payload, relying_party)
    assert decision["result"] == "DENY", proof_counterparty(api, decision)
    assert decision["proof_token"] is None


@pytest.mark.parametrize(("payload", "relying_party"), EVIL_COUNTERPARTY)
def test_allow_list_gets_no_proof_for_an_unlisted_counterparty(
    api: Api, payload: dict[str, Any], relying_party: dict[str, Any] | None
) -> None:
    only_policy(api, ALLOW_LISTED)
    decision = decide(api, payload, relying_party)
    assert decision["result"] == "DENY", proof_counterparty(api, decision)


def test_merchant_list_gets_no_proof_for_another_payload_domain(api: Api) -> None:
    only_policy(api, MERCHANT_LISTED)
    # merchant_domain ?? relying_party.domain is good.example; the proof would name the domain.
    decision = decide(api, {"domain": "evil.example"}, {"domain": "good.example"})
    assert decision["result"] == "DENY", proof_counterparty(api, decision)


def test_domain_lists_still_allow_their_counterparty(api: Api) -> None:
    only_policy(api, BLOCKING)
    fine = decide(api, {"merchant_domain": "Shop.Example.", "domain": "shop.example"})
    assert fine["result"] == "ALLOW"
    assert proof_counterparty(api, fine) == "shop.example"
    only_policy(api, ALLOW_LISTED)
    listed = decide(api, {"domain": "good.example"}, {"domain": "good.example"})
    assert listed["result"] == "ALLOW"
    assert proof_counterparty(api, listed) == "good.example"


# -- one huge allowed amount must not round a budget's later spending away ---------------------

GROCERIES_UNLIMITED = """\
version: 1
default: deny
rules:
  - id: groceries_unlimited
    effect: allow
    action: purchase
    when: { match: { path: $.payload.category, op: eq, value: groceries } }
  - id: daily_budget
    effect: allow
    action: purchase
    limits:
      - spend: 10000
        window: 24h
"""


def buy(api: Api, amount: Any, **payload: Any) -> str:
    decision = decide(
        api,
        {"amount_minor": amount, "currency": "USD", "merchant_domain": "shop.example", **payload},
    )
    return str(decision["result"])


@pytest.mark.parametrize("huge", [1e20, 1e308])
def test_huge_amount_cannot_poison_a_spend_budget(api: Api, huge: float) -> None:
    only_policy(api, GROCERIES_UNLIMITED)
    # Budget totals are running sums in doubles: after 1e20 was added, 8000 more rounds away
    # (and two of 1e308 make the total infinite, whose window difference is no number at all).
    buy(api, huge, category="groceries")
    buy(api, huge, category="groceries")
    api.clock.advance(2 * 86400)
    assert [buy(api, 8000) for _ in range(3)] == ["ALLOW", "DENY", "DENY"]


def test_amount_beyond_2_to_the_53_is_refused_under_a_budget(api: Api) -> None:
    only_policy(api, GROCERIES_UNLIMITED)
    decision = decide(api, {"amount_minor": 2**53 + 2, "category": "groceries"})
    assert decision["result"] == "DENY"
    assert "2**53" in decision["reason"]


def test_amounts_up_to_2_to_the_53_still_count(api: Api) -> None:
    only_policy(api, GROCERIES_UNLIMITED)
    assert buy(api, 2**53, category="groceries") == "ALLOW"
    api.clock.advance(2 * 86400)
    assert [buy(api, 8000) for _ in range(2)] == ["ALLOW", "DENY"]
