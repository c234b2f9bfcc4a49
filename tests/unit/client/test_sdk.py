"""The agent SDK over every agent endpoint: what it sends, the typed results, the errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from openleash.client import (
    ApiError,
    ApprovalTimeout,
    Client,
    Decision,
    OpenLeashClientError,
    TransportError,
    bind_request,
    compute_action_hash,
    new_action,
    proof_headers,
    request_sha256,
)
from openleash.client.actions import decode_action_header, request_target
from openleash.crypto import action_hash
from tests.unit.client.fakes import OWNER_ID, FakeServer, FakeTime, decision


def sent_json(request: httpx.Request) -> Any:
    return json.loads(request.content)


def test_authorize_sends_the_action_signed_and_returns_a_typed_decision() -> None:
    server = FakeServer(
        decide=lambda action, token: decision(
            "ALLOW",
            proof_token="p",
            obligations=[
                {"obligation_id": "o", "type": "X", "status": "PENDING", "details_json": {"a": 1}}
            ],
            explanation="fine",
        )
    )
    with server.client(owner_id=OWNER_ID) as client:
        action = client.new_action("purchase", {"amount_minor": 5})
        result = client.authorize(action)
    assert isinstance(result, Decision)
    assert result.allowed
    assert not result.denied
    assert not result.needs_approval
    assert result.proof_token == "p"
    assert result.obligations[0].type == "X"
    assert result.obligations[0].details == {"a": 1}
    assert result.explanation == "fine"
    # The decision also reads as the wire object (what older code subscripts).
    assert result["result"] == "ALLOW"
    assert dict(result) == result.raw
    request = server.requests[-1]
    assert request.headers["Content-Type"] == "application/json"
    assert request.content == json.dumps(action, separators=(",", ":")).encode()
    assert "approval_token" not in sent_json(request)


def test_authorize_with_an_approval_token_adds_it_to_the_body() -> None:
    server = FakeServer()
    with server.client(owner_id=OWNER_ID) as client:
        client.authorize(client.new_action("purchase"), approval_token="tok")
    assert server.authorized[-1]["approval_token"] == "tok"


def test_new_action_asks_the_server_for_the_owner_once() -> None:
    server = FakeServer()
    with server.client() as client:
        first = client.new_action("purchase", {"amount_minor": 1})
        second = client.new_action("purchase", relying_party={"domain": "shop.example"})
    assert first["subject"] == {"principal_id": OWNER_ID}
    assert first["principal"] == {"agent_id": "agent-1"}
    assert first["action_id"] != second["action_id"]
    assert second["relying_party"] == {"domain": "shop.example"}
    assert [r.url.path for r in server.requests].count("/v1/agent/self") == 1


def test_error_envelope_becomes_an_api_error_with_code_and_status() -> None:
    server = FakeServer()
    server.errors["/v1/authorize"] = (
        403,
        {"error": {"code": "AGENT_MISMATCH", "message": "nope", "details": {"x": 1}}},
    )
    with server.client(owner_id=OWNER_ID) as client, pytest.raises(ApiError) as caught:
        client.authorize(client.new_action("purchase"))
    assert (caught.value.code, caught.value.status) == ("AGENT_MISMATCH", 403)
    assert caught.value.message == "nope"
    assert caught.value.details == {"x": 1}
    assert isinstance(caught.value, OpenLeashClientError)


def test_a_non_envelope_failure_is_an_http_error() -> None:
    server = FakeServer()
    server.errors["/v1/agent/self"] = (502, "bad gateway")
    with server.client() as client, pytest.raises(ApiError) as caught:
        client.agent_self()
    assert (caught.value.code, caught.value.status) == ("HTTP_ERROR", 502)


def test_an_unreachable_server_is_a_transport_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    client = Client("http://x", "a", "k", http_client=http)
    with pytest.raises(TransportError):
        client.public_keys()


def test_approval_requests_and_policy_drafts() -> None:
    server = FakeServer()
    with server.client(owner_id=OWNER_ID) as client:
        action = client.new_action("purchase")
        filed = client.create_approval_request("d-1", action, "for the trip", {"k": "v"})
        assert (filed.approval_request_id, filed.status) == ("ar-1", "PENDING")
        assert server.filed[-1] == {
            "decision_id": "d-1",
            "action": action,
            "justification": "for the trip",
            "context": {"k": "v"},
        }
        read = client.get_approval_request("ar-1")
        assert read.approved
        assert read.approval_token == "approval-token-1"

        draft = client.create_policy_draft("version: 1\n", name="n", justification="j")
        assert draft.policy_draft_id == "pd-1"
        assert sent_json(server.requests[-1]) == {
            "policy_yaml": "version: 1\n",
            "name": "n",
            "justification": "j",
        }
        client.create_policy_draft("version: 1\n", applies_to_agent_principal_id=None)
        assert sent_json(server.requests[-1])["applies_to_agent_principal_id"] is None
        assert client.list_policy_drafts("DENIED")[0].status == "DENIED"
        assert server.requests[-1].url.params["status"] == "DENIED"
        assert client.get_policy_draft("pd 2/x").policy_yaml == "version: 1\n"
        assert server.requests[-1].url.raw_path == b"/v1/agent/policy-drafts/pd%202%2Fx"


def test_the_approval_a_decision_used_is_read_field_by_field() -> None:
    approval = {
        "approval_request_id": "ar-1",
        "approved_by": "o-1",
        "approved_at": "2026-01-01T00:00:00.000Z",
        "assurance_level": None,
        "extension": 1,
    }
    read = Decision.from_wire(decision("ALLOW", approval=approval))
    assert read.approval == {
        "approval_request_id": "ar-1",
        "approved_by": "o-1",
        "approved_at": "2026-01-01T00:00:00.000Z",
        "assurance_level": None,
    }
    assert read["approval"] == approval  # the wire object, extensions included
    odd = Decision.from_wire(decision("ALLOW", approval={"approved_by": 5}))
    assert odd.approval == {
        "approval_request_id": "",
        "approved_by": None,
        "approved_at": None,
        "assurance_level": None,
    }
    assert Decision.from_wire(decision("ALLOW")).approval is None


def test_usage_self_and_public_keys_are_typed() -> None:
    server = FakeServer()
    with server.client() as client:
        usage = client.usage()
        assert usage.limits[0].usage[0]["remaining"] == 3800
        assert usage.limits[0].usage == ({"by": {}, "used": 1200, "count": 2, "remaining": 3800},)
        assert usage.limits[0].max == 5000
        me = client.agent_self()
        assert me.owner_id == OWNER_ID
        keys = client.public_keys()
        assert keys[0].kid == "k1"
        assert not keys[0].revoked
    public_request = server.requests[-1]
    assert "X-Signature" not in public_request.headers


def test_wait_for_approval_backs_off_up_to_the_maximum() -> None:
    server = FakeServer(statuses=["PENDING"] * 6 + ["APPROVED"])
    clock = FakeTime()
    with server.client(sleep=clock.sleep, monotonic=clock.monotonic) as client:
        final = client.wait_for_approval("ar-1", timeout=100, interval=1, max_interval=5)
    assert final.approved
    assert clock.pauses == [1, 2, 4, 5, 5, 5]


def test_wait_for_approval_returns_a_denied_request_without_raising() -> None:
    server = FakeServer(statuses=["PENDING", "DENIED"])
    clock = FakeTime()
    with server.client(sleep=clock.sleep, monotonic=clock.monotonic) as client:
        final = client.wait_for_approval("ar-1")
    assert final.status == "DENIED"
    assert final.denial_reason == "too much"


def test_wait_for_approval_times_out_with_a_typed_error() -> None:
    server = FakeServer(statuses=["PENDING"])
    clock = FakeTime()
    with (
        server.client(sleep=clock.sleep, monotonic=clock.monotonic) as client,
        pytest.raises(ApprovalTimeout) as caught,
    ):
        client.wait_for_approval("ar-1", timeout=10, interval=3, max_interval=3)
    assert caught.value.approval_request_id == "ar-1"
    assert caught.value.waited_seconds == 10
    assert clock.pauses == [3, 3, 3, 1]  # the last pause is cut to the deadline


def test_wait_for_approval_checks_its_arguments() -> None:
    with FakeServer().client() as client, pytest.raises(ValueError):
        client.wait_for_approval("ar-1", interval=5, max_interval=1)


def test_async_client_covers_the_same_endpoints() -> None:
    server = FakeServer(statuses=["PENDING", "APPROVED"])
    clock = FakeTime()

    async def run() -> None:
        async with server.async_client(sleep=clock.asleep, monotonic=clock.monotonic) as client:
            action = await client.new_action("purchase", {"amount_minor": 1})
            assert (await client.authorize(action)).allowed
            filed = await client.create_approval_request("d-1", action)
            final = await client.wait_for_approval(filed.approval_request_id)
            assert final.approved
            assert (await client.usage()).agent_id == "agent-1"
            assert (await client.public_keys())[0].kid == "k1"
            assert (await client.create_policy_draft("v")).status == "PENDING"
            assert len(await client.list_policy_drafts()) == 1
            assert (await client.get_policy_draft("pd-1")).policy_draft_id == "pd-1"

    asyncio.run(run())
    assert clock.pauses == [1.0]


def test_from_env_reads_an_env_file(tmp_path: Any) -> None:
    env = tmp_path / "agent.env"
    env.write_text(
        "# written by openleash init\nOPENLEASH_URL=http://127.0.0.1:1\n"
        "OPENLEASH_AGENT_ID=agent-9\nOPENLEASH_AGENT_PRIVATE_KEY_B64=key\n"
        f"USER_PRINCIPAL_ID={OWNER_ID}\n"
    )
    client = Client.from_env(env)
    assert (client.base_url, client.agent_id, client.owner_id()) == (
        "http://127.0.0.1:1",
        "agent-9",
        OWNER_ID,
    )
    client.close()


# -- actions, hashes and request binding ----------------------------------------------------


def test_compute_action_hash_strips_unknown_keys_as_the_server_does() -> None:
    action = new_action("agent-1", OWNER_ID, "purchase", {"amount_minor": 5})
    noisy = {**action, "approval_token": "t", "principal": {"agent_id": "agent-1", "x": 1}}
    assert compute_action_hash(noisy) == compute_action_hash(action) == action_hash(action)


def test_bind_request_writes_the_request_digest_and_copies() -> None:
    action = new_action("agent-1", OWNER_ID, "purchase", {"amount_minor": 5})
    bound = bind_request(action, "post", "https://shop.example/orders?x=1%202", b'{"a":1}')
    assert "request_sha256" not in action["payload"]
    assert bound["payload"]["amount_minor"] == 5
    assert bound["payload"]["request_sha256"] == request_sha256(
        "POST", "/orders?x=1%202", b'{"a":1}'
    )
    assert request_target("https://shop.example/orders?x=1%202") == "/orders?x=1%202"
    assert request_sha256("GET", "/a") != request_sha256("GET", "/b")
    assert request_sha256("GET", "/a", "x") == request_sha256("GET", "/a", b"x")


def test_proof_headers_carry_the_action_as_base64url_json() -> None:
    action = new_action("agent-1", OWNER_ID, "purchase", {"note": "café ✓"})
    headers = proof_headers("tok", action)
    assert headers["X-OpenLeash-Proof"] == "tok"
    assert "=" not in headers["X-OpenLeash-Action"]
    assert decode_action_header(headers["X-OpenLeash-Action"]) == action
    assert proof_headers("tok") == {"X-OpenLeash-Proof": "tok"}
