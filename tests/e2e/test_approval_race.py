"""An approval token is consumed exactly once over real HTTP with 2 worker processes, however
many requests race with it; the approved action counts towards the budget."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
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
  - id: within_budget
    effect: allow
    action: purchase
    constraints: { amount_max: 1000 }
    limits:
      - spend: 5000
        window: 24h
  - id: ask_me
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Credentials]]:
    root: Path = tmp_path_factory.mktemp("approval-race")
    live = LiveServer(root, free_port(), workers=2)
    creds = provision(live.data_dir, POLICY)
    live.start()
    yield live, creds
    live.stop()


def _signed_post(client: httpx.Client, auth: AgentAuth, path: str, body: Any) -> Any:
    raw = json.dumps(body, separators=(",", ":")).encode()
    return client.post(path, content=raw, auth=auth, headers={"Content-Type": "application/json"})


async def _race(url: str, auth: AgentAuth, body: dict[str, Any], count: int) -> list[Any]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:

        async def one() -> Any:
            response = await client.post(
                "/v1/authorize",
                content=raw,
                auth=auth,
                headers={"Content-Type": "application/json"},
            )
            return response.status_code, response.json()

        return list(await asyncio.gather(*(one() for _ in range(count))))


def test_twenty_racing_requests_use_an_approval_once(
    server: tuple[LiveServer, Credentials],
) -> None:
    live, creds = server
    auth = AgentAuth(creds.agent_id, creds.private_key_b64)
    token = owner_login(live, creds.owner_id)
    owner = {"Authorization": f"Bearer {token}"}
    held_action = action(creds.agent_id, creds.owner_id, amount_minor=4000, currency="USD")
    with httpx.Client(base_url=live.url, timeout=10.0) as client:
        decision = _signed_post(client, auth, "/v1/authorize", held_action).json()
        assert decision["result"] == "REQUIRE_APPROVAL"
        filed = _signed_post(
            client,
            auth,
            "/v1/agent/approval-requests",
            {"decision_id": decision["decision_id"], "action": held_action},
        ).json()
        request_id = filed["approval_request_id"]
        answer = client.post(
            f"/v1/owner/approval-requests/{request_id}/approve", json={}, headers=owner
        ).json()
        approval_token = answer["approval_token"]

    results = asyncio.run(
        _race(live.url, auth, {**held_action, "approval_token": approval_token}, 20)
    )
    outcomes = Counter(
        body["result"] if status == 200 else body["error"]["code"] for status, body in results
    )
    assert outcomes == {"ALLOW": 1, "APPROVAL_TOKEN_CONSUMED": 19}

    # The approved 4000 counts: of the 5000 budget only 1000 is left.
    with httpx.Client(base_url=live.url, timeout=10.0) as client:
        fits = action(creds.agent_id, creds.owner_id, amount_minor=1000, currency="USD")
        assert _signed_post(client, auth, "/v1/authorize", fits).json()["result"] == "ALLOW"
        over = action(creds.agent_id, creds.owner_id, amount_minor=1, currency="USD")
        assert _signed_post(client, auth, "/v1/authorize", over).json()["result"] == (
            "REQUIRE_APPROVAL"
        )
