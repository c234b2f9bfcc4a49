"""``POST /v1/authorize`` over the policy path: shapes, decisions, proofs, audit."""

from __future__ import annotations

import json

from openleash.crypto import action_hash, verify_token
from openleash.domain.action import parse_action
from openleash.service.policies import PolicyUpsert
from tests.api.conftest import Api


def body(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def test_allow_returns_the_wire_shape_with_a_verifiable_proof(api: Api) -> None:
    act = api.agent.action(amount_minor=500, currency="USD")
    response = api.signed("POST", "/v1/authorize", body(act))
    assert response.status_code == 200, response.text
    decision = response.json()
    # the wire fields in the TypeScript order; extensions come after them
    assert list(decision)[:9] == [
        "decision_id",
        "action_id",
        "action_hash",
        "result",
        "matched_rule_id",
        "reason",
        "proof_token",
        "proof_expires_at",
        "obligations",
    ]
    assert list(decision)[9:] == ["risk_level"]
    assert decision["result"] == "ALLOW"
    assert decision["reason"] == 'Allowed by rule "small_purchases"'
    assert decision["action_hash"] == action_hash(parse_action(act))
    keyring = api.run(api.services.runtime.snapshot()).keyring
    claims = verify_token(decision["proof_token"], keyring, now=api.clock(), purpose="proof")
    assert claims["decision_id"] == decision["decision_id"]
    assert claims["agent_id"] == "agent-1"
    assert claims["purpose"] == "proof"
    assert claims["exp"] == decision["proof_expires_at"]


def test_require_approval_is_http_200_with_an_obligation(api: Api) -> None:
    response = api.signed("POST", "/v1/authorize", body(api.agent.action(amount_minor=50_000)))
    assert response.status_code == 200
    decision = response.json()
    assert decision["result"] == "REQUIRE_APPROVAL"
    assert decision["proof_token"] is None
    assert [o["type"] for o in decision["obligations"]] == ["HUMAN_APPROVAL"]
    assert decision["obligations"][0]["status"] == "PENDING"


def test_default_deny_when_no_rule_matches(api: Api) -> None:
    act = api.agent.action()
    act["action_type"] = "communication.send"
    decision = api.signed("POST", "/v1/authorize", body(act)).json()
    assert decision["result"] == "DENY"
    assert decision["reason"] == "No rule matched; default policy: deny"
    assert decision["matched_rule_id"] is None


def test_every_decision_is_audited_with_its_policy(api: Api) -> None:
    decision = api.signed("POST", "/v1/authorize", body(api.agent.action(amount_minor=1))).json()
    page = api.client.get("/v1/admin/audit", params={"event_type": "DECISION_CREATED"}).json()
    (event,) = page["items"]
    assert event["decision_id"] == decision["decision_id"]
    meta = event["metadata_json"]
    assert meta["result"] == "ALLOW"
    assert meta["matched_rule_id"] == "small_purchases"
    assert len(meta["policy_ids"]) == 1
    assert meta["trace"]["rules"][0]["final_match"] is True


def test_unknown_keys_are_stripped_before_hashing(api: Api) -> None:
    act = api.agent.action(amount_minor=1)
    plain = api.signed("POST", "/v1/authorize", body(act)).json()
    act["resource"] = {"resource_id": "x"}
    act["context"] = {"risk": "low"}
    extra = api.signed("POST", "/v1/authorize", body(act)).json()
    assert extra["action_hash"] == plain["action_hash"]


def test_invalid_action_lists_field_errors(api: Api) -> None:
    act = api.agent.action()
    del act["payload"]
    act["action_id"] = "not-a-uuid"
    response = api.signed("POST", "/v1/authorize", body(act))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_ACTION_REQUEST"
    assert set(error["details"]["fieldErrors"]) == {"action_id", "payload"}


def test_no_policy_is_403(api: Api) -> None:
    policy_id = api.client.get("/v1/admin/policies").json()["policies"][0]["policy_id"]
    api.run(api.services.policies.delete(policy_id))
    response = api.signed("POST", "/v1/authorize", body(api.agent.action(amount_minor=1)))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "NO_POLICY"


def test_policy_change_is_seen_without_restart(api: Api) -> None:
    first = api.signed("POST", "/v1/authorize", body(api.agent.action(amount_minor=1))).json()
    assert first["result"] == "ALLOW"
    policy_id = api.client.get("/v1/admin/policies").json()["policies"][0]["policy_id"]
    api.run(
        api.services.policies.upsert(
            PolicyUpsert("version: 1\ndefault: deny\nrules: []\n", policy_id=policy_id)
        )
    )
    second = api.signed("POST", "/v1/authorize", body(api.agent.action(amount_minor=1))).json()
    assert second["result"] == "DENY"
