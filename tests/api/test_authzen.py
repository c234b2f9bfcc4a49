"""OpenID AuthZEN Authorization API 1.0: evaluation, batch evaluations with each semantic and
default inheritance, PEP tokens and signed agents, the mapping onto an OpenLeash action, and
decisions recorded, audited and counted exactly like /v1/authorize."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openleash.config import Settings, load_settings
from openleash.crypto import action_hash, verify_token
from openleash.domain.errors import OpenLeashError
from tests.api.conftest import Agent, Api, running_api, upsert
from tests.api.owners import owner_session

PEP_TOKEN = "pep-token-0123456789abcdef"
POLICY = """\
version: 1
default: deny
rules:
  - id: small_purchases
    effect: allow
    action: purchase
    constraints: { amount_max: 10000 }
    limits:
      - spend: 15000
        window: 24h
    proof: { required: true, ttl_seconds: 60 }
  - id: large_purchases
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
  - id: read_docs
    effect: allow
    action: docs.read
    when: { match: { path: "$.payload.resource.type", op: eq, value: "document" } }
"""


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        data_dir=tmp_path / "data",
        admin_token="s3cret-admin-token",
        authzen_pep_tokens=("another-pep-token-0000", PEP_TOKEN),
    )
    for running in running_api(settings):
        for p in running.client.get("/v1/admin/policies").json()["policies"]:
            running.run(running.services.policies.delete(p["policy_id"]))
        running.run(upsert(running.services, running.agent.owner_id, POLICY))
        yield running


def _request(
    amount: int | None = 2500, *, action: str = "purchase", agent_id: str = "agent-1"
) -> dict[str, Any]:
    properties: dict[str, Any] = {"currency": "USD", "merchant_domain": "shop.example"}
    if amount is not None:
        properties["amount_minor"] = amount
    return {
        "subject": {"type": "agent", "id": agent_id},
        "action": {"name": action},
        "resource": {"type": "order", "id": "order-17", "properties": properties},
    }


def _pep(api: Api, path: str, body: Any, token: str = PEP_TOKEN, **headers: str) -> Any:
    return api.client.post(path, json=body, headers={"Authorization": f"Bearer {token}", **headers})


def _signed(api: Api, path: str, body: Any, agent: Agent | None = None) -> Any:
    return api.signed("POST", path, json.dumps(body).encode(), agent=agent)


def _decisions(api: Api) -> list[dict[str, Any]]:
    response = api.client.get("/v1/admin/audit", params={"event_type": "DECISION_CREATED"})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _audited(api: Api, decision_id: str) -> dict[str, Any]:
    [record] = [r for r in _decisions(api) if r["decision_id"] == decision_id]
    return dict(record["metadata_json"])


# -- discovery -----------------------------------------------------------------------------------


def test_the_well_known_configuration_names_the_endpoints(api: Api) -> None:
    response = api.client.get("/.well-known/authzen-configuration")
    assert response.status_code == 200
    assert response.json() == {
        "policy_decision_point": "http://127.0.0.1:8787",
        "access_evaluation_endpoint": "http://127.0.0.1:8787/access/v1/evaluation",
        "access_evaluations_endpoint": "http://127.0.0.1:8787/access/v1/evaluations",
    }


# -- one evaluation ------------------------------------------------------------------------------


def test_a_pep_gets_a_permit_with_the_openleash_decision_and_a_proof(api: Api) -> None:
    response = _pep(api, "/access/v1/evaluation", _request(), **{"X-Request-ID": "req-42"})
    assert response.status_code == 200, response.text
    assert response.headers["X-Request-ID"] == "req-42"
    answer = response.json()
    assert answer["decision"] is True
    context = answer["context"]
    assert context["result"] == "ALLOW"
    assert context["matched_rule_id"] == "small_purchases"
    assert context["obligations"] == []
    keyring = api.run(api.services.runtime.snapshot()).keyring
    claims = verify_token(context["proof_token"], keyring, now=api.clock(), purpose="proof")
    assert claims["decision_id"] == context["decision_id"]
    assert claims["action_hash"] == context["action_hash"]
    assert claims["agent_id"] == "agent-1"


def test_the_request_maps_onto_an_openleash_action(api: Api) -> None:
    request = {
        "subject": {"type": "agent", "id": "agent-1", "properties": {"ignored": True}},
        "action": {"name": "purchase", "properties": {"channel": "web"}},
        "resource": {
            "type": "order",
            "id": "order-17",
            "properties": {
                "merchant_domain": "shop.example",
                "relying_party": {"domain": "shop.example", "trust_profile": "HIGH"},
            },
        },
        "context": {
            "amount_minor": 700,
            "currency": "EUR",
            "ip": "192.0.2.1",
            "action_id": "6f1c2a52-0d7e-4f8a-9a43-3b3c1d2e4f50",
            "requested_at": "2026-11-28T10:30:00.000Z",
        },
    }
    context = _pep(api, "/access/v1/evaluation", request).json()["context"]
    action = _audited(api, context["decision_id"])["action"]
    assert action == {
        "action_id": "6f1c2a52-0d7e-4f8a-9a43-3b3c1d2e4f50",
        "action_type": "purchase",
        "requested_at": "2026-11-28T10:30:00.000Z",
        "principal": {"agent_id": "agent-1"},
        "subject": {"principal_id": api.agent.owner_id},
        "relying_party": {"domain": "shop.example", "trust_profile": "HIGH"},
        "payload": {
            "merchant_domain": "shop.example",
            "channel": "web",
            "resource": {"type": "order", "id": "order-17"},
            "amount_minor": 700,
            "currency": "EUR",
            "context": {"ip": "192.0.2.1"},
        },
    }
    assert context["action_hash"] == action_hash(action)
    assert (context["action_id"], context["requested_at"]) == (
        action["action_id"],
        action["requested_at"],
    )


def test_a_denial_is_http_200_with_decision_false_and_the_reason(api: Api) -> None:
    response = _pep(api, "/access/v1/evaluation", _request(action="communication.send"))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["decision"] is False
    assert answer["context"]["result"] == "DENY"
    assert answer["context"]["reason"] == "No rule matched; default policy: deny"
    assert answer["context"]["proof_token"] is None


def test_approval_required_is_not_a_permit(api: Api) -> None:
    answer = _pep(api, "/access/v1/evaluation", _request(50_000)).json()
    assert answer["decision"] is False
    assert answer["context"]["result"] == "REQUIRE_APPROVAL"
    assert [o["type"] for o in answer["context"]["obligations"]] == ["HUMAN_APPROVAL"]


def test_the_resource_is_readable_by_policies(api: Api) -> None:
    document = {
        "subject": {"type": "agent", "id": "agent-1"},
        "action": {"name": "docs.read"},
        "resource": {"type": "document", "id": "handbook"},
    }
    assert _pep(api, "/access/v1/evaluation", document).json()["decision"] is True
    document["resource"] = {"type": "secret", "id": "handbook"}
    assert _pep(api, "/access/v1/evaluation", document).json()["decision"] is False


def test_every_decision_is_audited_and_counted_like_authorize(api: Api) -> None:
    first = _pep(api, "/access/v1/evaluation", _request(9000)).json()["context"]
    audited = _audited(api, first["decision_id"])
    assert audited["result"] == "ALLOW"
    assert audited["agent_id"] == "agent-1"
    assert audited["matched_rule_id"] == "small_purchases"
    # 9000 of the 15000 budget is used, whoever asked: the agent's own request does not fit.
    own = api.agent.action(amount_minor=9000, currency="USD")
    decision = api.signed("POST", "/v1/authorize", json.dumps(own).encode()).json()
    assert decision["result"] == "REQUIRE_APPROVAL"
    assert _pep(api, "/access/v1/evaluation", _request(6000)).json()["decision"] is True
    assert _pep(api, "/access/v1/evaluation", _request(1)).json()["decision"] is False


def test_an_owners_approval_token_in_the_context_permits_the_identical_action(
    api: Api,
) -> None:
    owner = owner_session(api)
    held = _pep(api, "/access/v1/evaluation", _request(50_000)).json()["context"]
    action = _audited(api, held["decision_id"])["action"]
    filing = {"decision_id": held["decision_id"], "action": action}
    filed = _signed(api, "/v1/agent/approval-requests", filing).json()
    path = f"/v1/owner/approval-requests/{filed['approval_request_id']}/approve"
    token = owner.post(path).json()["approval_token"]

    again = _request(50_000)
    again["context"] = {
        "action_id": held["action_id"],
        "requested_at": held["requested_at"],
        "approval_token": token,
    }
    answer = _pep(api, "/access/v1/evaluation", again).json()
    assert answer["decision"] is True, answer
    assert answer["context"]["approval"]["approval_request_id"] == filed["approval_request_id"]
    assert _pep(api, "/access/v1/evaluation", again).status_code == 400  # used once


# -- authentication ------------------------------------------------------------------------------


def test_a_pep_needs_one_of_the_configured_tokens(api: Api) -> None:
    assert _pep(api, "/access/v1/evaluation", _request(), token="another-pep-token-0000").json()[
        "decision"
    ]
    wrong = _pep(api, "/access/v1/evaluation", _request(), token=PEP_TOKEN + "x")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"
    anonymous = api.client.post("/access/v1/evaluation", json=_request())
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "MISSING_TOKEN"
    assert _decisions(api)[0]["decision_id"]  # only the permitted one was recorded
    assert len(_decisions(api)) == 1


def test_without_configured_tokens_no_bearer_token_is_a_pep(tmp_path: Path) -> None:
    for api in running_api(Settings(data_dir=tmp_path / "data")):
        response = _pep(api, "/access/v1/evaluation", _request())
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "INVALID_CREDENTIALS"


def test_a_pep_may_ask_for_any_active_agent_but_no_other_subject(api: Api) -> None:
    unknown = _pep(api, "/access/v1/evaluation", _request(agent_id="nobody"))
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "INVALID_AGENT"


def test_a_signed_agent_asks_for_itself_only(api: Api) -> None:
    allowed = _signed(api, "/access/v1/evaluation", _request())
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["decision"] is True
    other = _signed(api, "/access/v1/evaluation", _request(agent_id="agent-2"))
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "AGENT_MISMATCH"


def test_a_signed_request_cannot_be_replayed(api: Api) -> None:
    raw = json.dumps(_request()).encode()
    auth = api.agent.auth()
    headers = auth.sign_headers("POST", "/access/v1/evaluation", raw)
    headers["Content-Type"] = "application/json"
    first = api.client.post("/access/v1/evaluation", content=raw, headers=headers)
    assert first.status_code == 200, first.text
    replay = api.client.post("/access/v1/evaluation", content=raw, headers=headers)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "NONCE_REPLAY"


def test_a_bad_request_is_a_4xx_envelope(api: Api) -> None:
    missing = _pep(api, "/access/v1/evaluation", {"subject": {"type": "agent", "id": "agent-1"}})
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "INVALID_REQUEST"
    not_json = api.client.post(
        "/access/v1/evaluation",
        content=b"{",
        headers={"Authorization": f"Bearer {PEP_TOKEN}", "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400


# -- several evaluations -------------------------------------------------------------------------


def _batch(semantic: str | None, *amounts: int | None) -> dict[str, Any]:
    """Three purchases sharing the top-level subject, action and resource type; each item
    gives only its resource (amount ``None``: a denied action type instead)."""
    items: list[dict[str, Any]] = []
    for n, amount in enumerate(amounts):
        if amount is None:
            items.append({"action": {"name": "communication.send"}})
        else:
            items.append(_item_resource(n, amount))
    body: dict[str, Any] = {
        "subject": {"type": "agent", "id": "agent-1"},
        "action": {"name": "purchase"},
        "resource": {"type": "order", "id": "default", "properties": {"amount_minor": 100}},
        "evaluations": items,
    }
    if semantic is not None:
        body["options"] = {"evaluations_semantic": semantic}
    return body


def _item_resource(n: int, amount: int) -> dict[str, Any]:
    return {"resource": {"type": "order", "id": f"o-{n}", "properties": {"amount_minor": amount}}}


def _results(response: Any) -> list[Any]:
    assert response.status_code == 200, response.text
    return [(e["decision"], e["context"].get("result")) for e in response.json()["evaluations"]]


def test_execute_all_is_the_default_and_decides_every_item(api: Api) -> None:
    response = _pep(api, "/access/v1/evaluations", _batch(None, 100, None, 50_000, 200))
    assert _results(response) == [
        (True, "ALLOW"),
        (False, "DENY"),
        (False, "REQUIRE_APPROVAL"),
        (True, "ALLOW"),
    ]
    assert len(_decisions(api)) == 4
    explicit = _pep(api, "/access/v1/evaluations", _batch("execute_all", 100, None))
    assert _results(explicit) == [(True, "ALLOW"), (False, "DENY")]


def test_deny_on_first_deny_stops_after_the_first_denial(api: Api) -> None:
    response = _pep(api, "/access/v1/evaluations", _batch("deny_on_first_deny", 100, None, 200))
    assert _results(response) == [(True, "ALLOW"), (False, "DENY")]
    assert len(_decisions(api)) == 2  # the third was never decided


def test_permit_on_first_permit_stops_after_the_first_permit(api: Api) -> None:
    body = _batch("permit_on_first_permit", None, 50_000, 100, 200)
    response = _pep(api, "/access/v1/evaluations", body)
    assert _results(response) == [(False, "DENY"), (False, "REQUIRE_APPROVAL"), (True, "ALLOW")]


def test_items_inherit_the_top_level_parts_and_replace_them_whole(api: Api) -> None:
    body = _batch(None, 300)
    body["context"] = {"ip": "192.0.2.7"}
    body["evaluations"].append({})  # everything from the top level
    body["evaluations"].append({"context": {"ip": "198.51.100.1", "currency": "SEK"}})
    answers = _pep(api, "/access/v1/evaluations", body).json()["evaluations"]
    payloads = [_audited(api, a["context"]["decision_id"])["action"]["payload"] for a in answers]
    assert payloads[0] == {
        "amount_minor": 300,
        "resource": {"type": "order", "id": "o-0"},
        "context": {"ip": "192.0.2.7"},
    }
    assert payloads[1] == {
        "amount_minor": 100,
        "resource": {"type": "order", "id": "default"},
        "context": {"ip": "192.0.2.7"},
    }
    assert payloads[2] == {
        "amount_minor": 100,
        "currency": "SEK",
        "resource": {"type": "order", "id": "default"},
        "context": {"ip": "198.51.100.1"},
    }


def test_an_item_that_cannot_be_decided_is_a_denial_carrying_the_error(api: Api) -> None:
    body = _batch(None, 100, 200)
    body["evaluations"].insert(1, {"action": {"title": "no name"}})
    body["evaluations"].insert(2, {"subject": {"type": "agent", "id": "nobody"}})
    answers = _pep(api, "/access/v1/evaluations", body).json()["evaluations"]
    assert [a["decision"] for a in answers] == [True, False, False, True]
    assert answers[1]["context"]["error"]["code"] == "INVALID_REQUEST"
    assert answers[1]["context"]["error"]["status"] == 400
    assert answers[2]["context"]["error"]["code"] == "INVALID_AGENT"


def test_a_signed_batch_spends_its_nonce_once_and_decides_every_item(api: Api) -> None:
    response = _signed(api, "/access/v1/evaluations", _batch(None, 100, 200, 300))
    assert _results(response) == [(True, "ALLOW")] * 3
    # A batch naming another agent is refused item by item, never decided for it.
    body = _batch(None, 100)
    body["subject"] = {"type": "agent", "id": "agent-2"}
    [refused] = _signed(api, "/access/v1/evaluations", body).json()["evaluations"]
    assert refused["decision"] is False
    assert refused["context"]["error"]["code"] == "AGENT_MISMATCH"


def test_an_empty_or_absent_evaluations_list_is_one_evaluation(api: Api) -> None:
    answer = _pep(api, "/access/v1/evaluations", {**_request(), "evaluations": []}).json()
    assert answer["decision"] is True
    assert _pep(api, "/access/v1/evaluations", _request()).json()["decision"] is True


def test_bad_batches_are_refused_whole(api: Api) -> None:
    semantic = _pep(api, "/access/v1/evaluations", _batch("first_come", 100))
    assert semantic.status_code == 400
    assert "evaluations_semantic" in semantic.json()["error"]["message"]
    too_many = _batch(None, *([100] * 101))
    assert _pep(api, "/access/v1/evaluations", too_many).status_code == 400
    assert _decisions(api) == []


# -- configuration -------------------------------------------------------------------------------


def test_pep_tokens_are_read_from_config_yaml(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"authzen:\n  pep_tokens: [{PEP_TOKEN}]\n")
    assert load_settings(config_path=path, env={}).authzen_pep_tokens == (PEP_TOKEN,)
    assert PEP_TOKEN not in repr(load_settings(config_path=path, env={}))
    path.write_text("authzen:\n  pep_tokens: [short]\n")
    with pytest.raises(OpenLeashError) as caught:
        load_settings(config_path=path, env={})
    assert "authzen.pep_tokens" in caught.value.message
