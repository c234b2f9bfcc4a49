"""Hostile policies and hostile agent input through the HTTP API: budgets that spelling cannot
multiply, amounts that cannot refund, policies too large or misspelt, and a playground that
reads untrusted policies off the event loop."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from openleash.domain.errors import OpenLeashError, UnavailableError
from openleash.policy.parser import MAX_POLICY_BYTES
from openleash.service import policy_work
from openleash.service.public import PlaygroundRun, playground_run_bounded
from tests.api.conftest import Api
from tests.api.test_approvals import owner_session
from tests.api.test_limits import only_policy


def body(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def authorize(api: Api, **payload: Any) -> dict[str, Any]:
    response = api.signed("POST", "/v1/authorize", body(api.agent.action(**payload)))
    assert response.status_code == 200, response.text
    return dict(response.json())


BY_CURRENCY_AND_SHOP = """\
version: 1
default: deny
rules:
  - id: budget
    effect: allow
    action: purchase
    limits:
      - { spend: 300, window: 1h, by: [currency, counterparty] }
  - id: over_budget_asks_owner
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""


def test_every_spelling_of_a_currency_draws_on_one_budget(api: Api) -> None:
    only_policy(api, BY_CURRENCY_AND_SHOP)
    shop = {"merchant_domain": "shop.example"}
    spent = [authorize(api, amount_minor=100, currency=c, **shop) for c in ("USD", "usd", " Usd")]
    assert [r["result"] for r in spent] == ["ALLOW"] * 3
    over = authorize(api, amount_minor=100, currency="USD ", **shop)
    assert over["result"] == "REQUIRE_APPROVAL"
    assert over["matched_rule_id"] == "over_budget_asks_owner"


def test_every_spelling_of_a_counterparty_draws_on_one_budget(api: Api) -> None:
    only_policy(api, BY_CURRENCY_AND_SHOP)
    spellings = ("shop.example", "Shop.Example.", " SHOP.example ")
    spent = [authorize(api, amount_minor=100, currency="USD", merchant_domain=d) for d in spellings]
    assert [r["result"] for r in spent] == ["ALLOW"] * 3
    over = authorize(api, amount_minor=100, currency="USD", merchant_domain="shop.EXAMPLE")
    assert over["result"] == "REQUIRE_APPROVAL"


@pytest.mark.parametrize("currency", [None, "US Dollar", 840])
def test_a_currency_a_budget_cannot_group_is_denied_with_the_reason(
    api: Api, currency: Any
) -> None:
    only_policy(api, BY_CURRENCY_AND_SHOP)
    payload: dict[str, Any] = {"amount_minor": 100, "merchant_domain": "shop.example"}
    if currency is not None:
        payload["currency"] = currency
    refused = authorize(api, **payload)
    assert refused["result"] == "DENY"
    assert "ISO 4217" in refused["reason"]


NEGATIVE = """\
version: 1
default: deny
rules:
  - id: small_purchases
    effect: allow
    action: purchase
    constraints: { amount_max: 10000 }
    proof: { required: true }
  - id: budget
    effect: allow
    action: refund
    limits: [{ spend: 300, window: 1h }]
"""


@pytest.mark.parametrize("amount", ["-500", "-0.5", "-1e400"])
def test_a_negative_amount_gets_no_allow_and_no_proof(api: Api, amount: str) -> None:
    only_policy(api, NEGATIVE)
    text = body(api.agent.action(amount_minor=12345, currency="USD"))
    response = api.signed("POST", "/v1/authorize", text.replace(b"12345", amount.encode()))
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:  # refused at the request: also never an allow
        return
    refused = response.json()
    assert refused["result"] == "DENY"
    assert "amount_minor" in refused["reason"]
    assert refused.get("proof_token") is None


def test_a_negative_amount_does_not_refund_a_budget(api: Api) -> None:
    only_policy(api, NEGATIVE)
    refund = api.agent.action(amount_minor=300)
    refund["action_type"] = "refund"
    assert _authorize_action(api, refund)["result"] == "ALLOW"
    refund = dict(refund, action_id="b0000000-0000-4000-8000-000000000001")
    refund["payload"] = {"amount_minor": -300}
    assert _authorize_action(api, refund)["result"] == "DENY"
    refund = dict(refund, action_id="b0000000-0000-4000-8000-000000000002")
    refund["payload"] = {"amount_minor": 1}
    assert _authorize_action(api, refund)["result"] == "DENY"  # the budget is still spent


def _authorize_action(api: Api, action: dict[str, Any]) -> dict[str, Any]:
    response = api.signed("POST", "/v1/authorize", body(action))
    assert response.status_code == 200, response.text
    return dict(response.json())


MISSPELT = "version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n    action: x\n" + (
    "    obligations: [{ type: human_aproval }]\n"
)


def _assert_located(response: Any) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_POLICY"
    (issue,) = error["details"]["issues"]
    assert (issue["path"], issue["line"]) == ("rules[0].obligations[0].type", 7)


def test_a_misspelt_obligation_is_refused_everywhere_a_policy_enters(api: Api) -> None:
    action = api.agent.action(amount_minor=1)
    _assert_located(
        api.client.post("/v1/playground/run", json={"policy_yaml": MISSPELT, "action": action})
    )
    _assert_located(api.signed("POST", "/v1/agent/policy-drafts", body({"policy_yaml": MISSPELT})))
    owner = owner_session(api)
    _assert_located(owner.post("/v1/owner/policies", {"policy_yaml": MISSPELT}))


def test_a_playground_policy_over_the_size_bound_is_413_with_the_envelope(api: Api) -> None:
    filler = "# " + "x" * 98 + "\n"
    policy = "version: 1\ndefault: deny\nrules: []\n" + filler * (MAX_POLICY_BYTES // 100 + 1)
    response = api.client.post(
        "/v1/playground/run",
        json={"policy_yaml": policy, "action": api.agent.action(amount_minor=1)},
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert str(MAX_POLICY_BYTES) in error["message"]


def _heavy_but_legal_policy() -> str:
    rule = (
        "  - id: r{i}\n    effect: allow\n    action: purchase.{i}\n"
        '    when: {{ all: [ {{ match: {{ path: "$.payload.note", op: regex, value: "^a+$" }} }},'
        ' {{ match: {{ path: "$.payload.amount_minor", op: lt, value: {i} }} }} ] }}\n'
        "    constraints: {{ amount_max: 10000, currency: [USD, EUR] }}\n"
    )
    text = "version: 1\ndefault: deny\nrules:\n"
    i = 0
    while len(text) < MAX_POLICY_BYTES - 500:
        text += rule.format(i=i)
        i += 1
    return text


def test_the_playground_reads_a_policy_while_the_event_loop_keeps_running(api: Api) -> None:
    request = PlaygroundRun.from_body(
        {"policy_yaml": _heavy_but_legal_policy(), "action": api.agent.action(note="aaa")}
    )

    async def scenario() -> tuple[int, dict[str, Any]]:
        job = asyncio.ensure_future(playground_run_bounded(request, api.services.options))
        ticks = 0
        while not job.done():
            await asyncio.sleep(0)  # were the policy read on this loop, job would be done here
            ticks += 1
        return ticks, job.result()

    ticks, result = api.run(scenario())
    assert ticks > 0
    assert result["decision"]["result"] == "DENY"


def test_policy_work_runs_off_the_loop_and_is_bounded(api: Api) -> None:
    release = threading.Event()

    async def scenario() -> bool:
        # The job can finish only because the loop runs meanwhile and sets the event.
        job = asyncio.ensure_future(policy_work.run_policy_work(lambda: release.wait(10)))
        await asyncio.sleep(0)
        release.set()
        return await job

    assert api.run(scenario()) is True


def test_policy_work_past_its_time_fails_closed(api: Api) -> None:
    release = threading.Event()
    try:
        with pytest.raises(OpenLeashError) as caught:
            api.run(policy_work.run_policy_work(lambda: release.wait(10), timeout=0.05))
        assert caught.value.code == "POLICY_TIMEOUT"
        assert isinstance(caught.value, UnavailableError)
    finally:
        release.set()


def test_policy_work_refuses_more_jobs_than_it_can_hold(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policy_work._pool, "jobs", policy_work.MAX_JOBS)
    response = api.client.post(
        "/v1/playground/run",
        json={
            "policy_yaml": "version: 1\ndefault: allow\nrules: []\n",
            "action": api.agent.action(),
        },
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "POLICY_WORK_BUSY"
