"""The server's webhook dispatcher: an approval reaches the agent's (loopback) receiver, signed
over a timestamp and the body, carrying the same approval token as a poll; failures retry with
backoff and are audited; an unreachable agent never slows a decision."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from openleash.client.auth import AgentAuth
from openleash.config import Settings
from openleash.crypto import NotVerifiedError
from openleash.domain.timefmt import iso_ms
from openleash.service.webhooks import verify_signature
from tests.api.conftest import Agent, Api, new_agent_keys, running_api
from tests.api.owners import Owner, owner_session


@dataclass
class Receiver:
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} deliveries"
            time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    # Loopback receivers are refused unless the operator allows private targets.
    settings = Settings(data_dir=tmp_path / "data", webhook_allow_private=True)
    yield from running_api(settings)


WEBHOOK_SECRET = "whsec-0123456789"  # the test receiver's, made up


def _register(api: Api, owner: Owner, url: str, secret: str | None = None) -> tuple[Any, Agent]:
    """Enrol agent "hooked" by invite with a webhook: the response and the agent."""
    public, private = new_agent_keys()
    invite = owner.post("/v1/owner/agent-invites").json()
    response = api.client.post(
        "/v1/agents/register-with-invite",
        json={
            "invite_id": invite["invite_id"],
            "invite_token": invite["invite_token"],
            "agent_id": "hooked",
            "agent_pubkey_b64": public,
            "webhook_url": url,
            "webhook_secret": WEBHOOK_SECRET if secret is None else secret,
            "webhook_auth_token": "auth-0123456789",
        },
    )
    return response, Agent("hooked", owner.owner_id, private, public)


def _hooked_agent(api: Api, owner: Owner, url: str) -> Agent:
    registered, agent = _register(api, owner, url)
    assert registered.status_code == 200, registered.text
    return agent


def _approve(api: Api, owner: Owner, agent: Agent) -> str:
    action = agent.action(amount_minor=50_000, currency="EUR")
    decision = api.signed("POST", "/v1/authorize", json.dumps(action).encode(), agent=agent).json()
    assert decision["result"] == "REQUIRE_APPROVAL"
    body = json.dumps({"decision_id": decision["decision_id"], "action": action}).encode()
    filed = api.signed("POST", "/v1/agent/approval-requests", body, agent=agent).json()
    request_id: str = filed["approval_request_id"]
    assert owner.post(f"/v1/owner/approval-requests/{request_id}/approve").status_code == 200
    return request_id


def _audit_types(owner: Owner) -> list[str]:
    items = owner.get("/v1/owner/audit?limit=200").json()["items"]
    return [item["event_type"] for item in items]


def test_an_approval_is_delivered_signed_with_the_token(api: Api, receiver: Receiver) -> None:
    owner = owner_session(api)
    agent = _hooked_agent(api, owner, receiver.url)
    request_id = _approve(api, owner, agent)
    receiver.wait_for(1)
    headers, body = receiver.received[0]
    sent_at = float(headers["x-openleash-signature"].split(",")[0].removeprefix("t="))
    verify_signature(WEBHOOK_SECRET, headers["x-openleash-signature"], body, sent_at + 1)
    with pytest.raises(NotVerifiedError, match="does not match"):
        verify_signature("wrong-secret", headers["x-openleash-signature"], body, sent_at)
    assert headers["authorization"] == "Bearer auth-0123456789"
    assert headers["x-openleash-event"] == "approval_request.approved"
    event = json.loads(body)
    assert list(event) == ["event_type", "timestamp", "agent_principal_id", "data"]
    assert event["data"]["approval_request_id"] == request_id
    polled = api.signed("GET", f"/v1/agent/approval-requests/{request_id}", agent=agent).json()
    assert event["data"]["approval_token"] == polled["approval_token"]
    deadline = time.monotonic() + 5
    while "WEBHOOK_DELIVERED" not in _audit_types(owner):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_failing_receiver_is_retried_later(api: Api, receiver: Receiver) -> None:
    owner = owner_session(api)
    agent = _hooked_agent(api, owner, receiver.url)
    receiver.statuses = [503]
    _approve(api, owner, agent)
    receiver.wait_for(1)
    time.sleep(1.5)
    assert len(receiver.received) == 1  # not before its backoff has passed
    api.clock.advance(600)
    receiver.wait_for(2)
    assert receiver.received[0][1] == receiver.received[1][1]  # the same event again


def test_a_refusing_receiver_is_not_retried_and_the_failure_is_audited(
    api: Api, receiver: Receiver
) -> None:
    owner = owner_session(api)
    agent = _hooked_agent(api, owner, receiver.url)
    receiver.statuses = [400]
    _approve(api, owner, agent)
    receiver.wait_for(1)
    deadline = time.monotonic() + 5
    while "WEBHOOK_DELIVERY_FAILED" not in _audit_types(owner):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    api.clock.advance(3600)
    time.sleep(1.5)
    assert len(receiver.received) == 1


def test_a_dead_receiver_does_not_slow_decisions(api: Api) -> None:
    owner = owner_session(api)
    agent = _hooked_agent(api, owner, "http://127.0.0.1:9/hook")  # discard port: refused
    started = time.monotonic()
    _approve(api, owner, agent)
    assert time.monotonic() - started < 2.0


def test_a_webhook_without_a_real_secret_is_refused(api: Api) -> None:
    owner = owner_session(api)
    refused, _ = _register(api, owner, "http://127.0.0.1:9/hook", secret="")
    assert refused.status_code == 400
    assert "webhook_secret" in refused.json()["error"]["message"]


def test_the_audit_log_names_the_receiver_without_its_query(api: Api, receiver: Receiver) -> None:
    owner = owner_session(api)
    agent = _hooked_agent(api, owner, receiver.url + "?token=secret-in-url")
    _approve(api, owner, agent)
    receiver.wait_for(1)
    deadline = time.monotonic() + 5
    while True:
        items = owner.get("/v1/owner/audit?limit=200&event_type=WEBHOOK_DELIVERED").json()["items"]
        if items:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert items[0]["metadata_json"]["webhook_url"] == receiver.url
    assert "secret-in-url" not in json.dumps(items)


def test_a_revoked_agent_gets_no_more_deliveries(api: Api, receiver: Receiver) -> None:
    owner = owner_session(api)
    agent = _hooked_agent(api, owner, receiver.url)
    receiver.statuses = [503]
    _approve(api, owner, agent)
    receiver.wait_for(1)
    hooked = next(
        a for a in owner.get("/v1/owner/agents").json()["agents"] if a["agent_id"] == "hooked"
    )
    assert (
        owner.put(
            f"/v1/owner/agents/{hooked['agent_principal_id']}", {"status": "REVOKED"}
        ).status_code
        == 200
    )
    api.clock.advance(600)
    deadline = time.monotonic() + 5
    while "WEBHOOK_DELIVERY_FAILED" not in _audit_types(owner):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert len(receiver.received) == 1


def _self_within(api: Api, agent: Agent, seconds: float) -> int:
    """``GET /v1/agent/self`` signed by ``agent``, on the application's own loop, given up after
    ``seconds`` (a hung worker fails the test instead of hanging it)."""
    auth = AgentAuth(agent.agent_id, agent.private_key_b64, clock=lambda: iso_ms(api.clock()))
    headers = auth.sign_headers("GET", "/v1/agent/self", b"")
    app = api.client.app

    async def call() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await asyncio.wait_for(
                client.get("/v1/agent/self", headers=headers), seconds
            )
            return response.status_code

    status: int = api.run(call())
    return status


def test_a_webhook_attempt_while_an_agent_enrols_does_not_hang_the_worker(
    api: Api, receiver: Receiver
) -> None:
    """The dispatcher read the snapshot inside its own store read: when an agent had enrolled
    since (the snapshot had to reload), the attempt waited on itself, and so did every signed
    request of the process that needed the new agent."""
    owner = owner_session(api)
    agent = _hooked_agent(api, owner, receiver.url)
    receiver.statuses = [503]  # the first attempt fails: the retry comes after the enrolment
    _approve(api, owner, agent)
    receiver.wait_for(1)
    invite = owner.post("/v1/owner/agent-invites").json()
    public, private = new_agent_keys()
    enrolled = api.client.post(
        "/v1/agents/register-with-invite",
        json={
            "invite_id": invite["invite_id"],
            "invite_token": invite["invite_token"],
            "agent_id": "newcomer",
            "agent_pubkey_b64": public,
        },
    )
    assert enrolled.status_code == 200, enrolled.text
    api.clock.advance(600)  # the retry is due: its attempt needs a fresh snapshot
    receiver.wait_for(2)
    newcomer = Agent("newcomer", owner.owner_id, private, public)
    assert _self_within(api, newcomer, 10.0) == 200
    assert json.loads(receiver.received[1][1])["data"]["approval_token"]
