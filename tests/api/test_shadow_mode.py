"""Shadow mode: an observed policy is evaluated and recorded next to the enforcing one, never
enforced."""

from __future__ import annotations

from openleash.service.policies import PolicyUpsert
from tests.api.conftest import Api
from tests.api.test_limits import body, buy, only_policy

STRICT = """\
version: 1
default: deny
rules:
  - id: tiny_purchases
    effect: allow
    action: purchase
    constraints: { amount_max: 100 }
"""

LENIENT = """\
version: 1
default: deny
rules:
  - id: purchases
    effect: allow
    action: purchase
"""


def observe(api: Api, yaml_text: str) -> None:
    api.run(
        api.services.policies.upsert(
            PolicyUpsert(yaml_text, owner_id=api.agent.owner_id, mode="observe")
        )
    )


def decision_record(api: Api, decision_id: str) -> dict[str, object]:
    page = api.client.get("/v1/admin/audit", params={"event_type": "DECISION_CREATED"}).json()
    return next(e["metadata_json"] for e in page["items"] if e["decision_id"] == decision_id)


def test_observed_policy_is_recorded_not_enforced(api: Api) -> None:
    only_policy(api, LENIENT)
    observe(api, STRICT)
    decision = buy(api, 5000)
    assert decision["result"] == "ALLOW"  # the enforcing policy decides
    assert decision["matched_rule_id"] == "purchases"
    assert "shadow" not in decision  # the agent is not told
    shadow = decision_record(api, decision["decision_id"])["shadow"]
    assert isinstance(shadow, dict)
    assert shadow["result"] == "DENY"
    assert shadow["differs"] is True
    assert "amount_max" in shadow["explanation"]


def test_agreeing_shadow_is_marked_so(api: Api) -> None:
    only_policy(api, LENIENT)
    observe(api, STRICT)
    decision = buy(api, 50)
    shadow = decision_record(api, decision["decision_id"])["shadow"]
    assert isinstance(shadow, dict)
    assert (shadow["result"], shadow["matched_rule_id"], shadow["differs"]) == (
        "ALLOW",
        "tiny_purchases",
        False,
    )


def test_without_observed_policy_there_is_no_shadow(api: Api) -> None:
    only_policy(api, LENIENT)
    decision = buy(api, 5)
    assert decision_record(api, decision["decision_id"])["shadow"] is None


def test_an_observed_policy_alone_does_not_authorize(api: Api) -> None:
    only_policy(api, LENIENT)
    for policy in api.client.get("/v1/admin/policies").json()["policies"]:
        api.run(api.services.policies.delete(policy["policy_id"]))
    observe(api, LENIENT)
    response = api.signed("POST", "/v1/authorize", body(api.agent.action(amount_minor=1)))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "NO_POLICY"
