"""The owner's live event stream (Server-Sent Events) over real HTTP with 2 worker processes:
a request filed through one worker shows up on a stream served by either."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openleash.client import AgentAuth
from tests.support.actions import action
from tests.support.live import Credentials, LiveServer, free_port, owner_login, provision

pytestmark = pytest.mark.e2e

POLICY = """\
version: 1
default: deny
rules:
  - id: ask_me
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Credentials]]:
    root: Path = tmp_path_factory.mktemp("owner-events")
    live = LiveServer(root, free_port(), workers=2)
    creds = provision(live.data_dir, POLICY)
    live.start()
    yield live, creds
    live.stop()


def _messages(lines: Iterator[str], wanted: str, deadline: float) -> dict[str, Any]:
    for line in lines:
        if line.startswith("data: "):
            message: dict[str, Any] = json.loads(line.removeprefix("data: "))
            if message["type"] == wanted:
                return message
        assert time.monotonic() < deadline, f"no {wanted} message in time"
    raise AssertionError("the stream ended")


def _post(client: httpx.Client, auth: AgentAuth, path: str, body: Any) -> Any:
    raw = json.dumps(body).encode()
    response = client.post(
        path, content=raw, auth=auth, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_new_and_resolved_requests_appear_live(server: tuple[LiveServer, Credentials]) -> None:
    live, creds = server
    token = owner_login(live, creds.owner_id)
    owner = {"Authorization": f"Bearer {token}"}
    auth = AgentAuth(creds.agent_id, creds.private_key_b64)
    timeout = httpx.Timeout(10.0, read=3.0)
    with (
        httpx.Client(base_url=live.url, timeout=timeout) as client,
        client.stream("GET", "/v1/owner/events/stream", headers=owner) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-cache, no-transform"
        lines = stream.iter_lines()
        assert next(lines) == "retry: 3000"
        held_action = action(creds.agent_id, creds.owner_id, amount_minor=10, currency="USD")
        with httpx.Client(base_url=live.url, timeout=10.0) as other:
            decision = _post(other, auth, "/v1/authorize", held_action)
            filed = _post(
                other,
                auth,
                "/v1/agent/approval-requests",
                {"decision_id": decision["decision_id"], "action": held_action},
            )
        created = _messages(lines, "approval_created", time.monotonic() + 10)
        assert created["approval_request_id"] == filed["approval_request_id"]
        request_id = filed["approval_request_id"]
        with httpx.Client(base_url=live.url, timeout=10.0) as other:
            answer = other.post(
                f"/v1/owner/approval-requests/{request_id}/deny",
                json={"reason": "no"},
                headers=owner,
            )
            assert answer.status_code == 200
        resolved = _messages(lines, "approval_resolved", time.monotonic() + 10)
        assert resolved == {
            "type": "approval_resolved",
            "agent_principal_id": filed_agent(live, creds),
            "approval_request_id": request_id,
            "status": "DENIED",
        }


def filed_agent(live: LiveServer, creds: Credentials) -> str:
    agents = live.admin("GET", "/v1/admin/agents")["agents"]
    return str(next(a for a in agents if a["agent_id"] == creds.agent_id)["agent_principal_id"])


def test_the_stream_needs_a_session(server: tuple[LiveServer, Credentials]) -> None:
    live, _ = server
    response = httpx.get(f"{live.url}/v1/owner/events/stream", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "MISSING_TOKEN"


def test_an_open_stream_does_not_hold_up_shutdown(tmp_path: Path) -> None:
    live = LiveServer(tmp_path, free_port(), workers=1)
    creds = provision(live.data_dir, POLICY)
    live.start()
    try:
        token = owner_login(live, creds.owner_id)
        with (
            httpx.Client(base_url=live.url, timeout=httpx.Timeout(10.0, read=20.0)) as client,
            client.stream(
                "GET", "/v1/owner/events/stream", headers={"Authorization": f"Bearer {token}"}
            ) as stream,
        ):
            assert next(stream.iter_lines()) == "retry: 3000"
            started = time.monotonic()
            live.stop()
            assert time.monotonic() - started < 10
    finally:
        live.stop()


def test_the_stream_ends_when_the_session_is_logged_out(
    server: tuple[LiveServer, Credentials],
) -> None:
    live, creds = server
    token = owner_login(live, creds.owner_id)
    owner = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=live.url, timeout=httpx.Timeout(10.0, read=10.0)) as client,
        client.stream("GET", "/v1/owner/events/stream", headers=owner) as stream,
    ):
        lines = stream.iter_lines()
        assert next(lines) == "retry: 3000"
        assert httpx.post(f"{live.url}/v1/owner/logout", headers=owner, timeout=10).is_success
        started = time.monotonic()
        for _ in lines:  # the server ends the stream: iteration stops
            pass
        assert time.monotonic() - started < 8
