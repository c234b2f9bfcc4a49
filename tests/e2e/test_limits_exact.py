"""Limits hold exactly over real HTTP, with 2 worker processes, across ``kill -9`` and restart."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from openleash.client import AgentAuth
from tests.support.actions import action
from tests.support.live import Credentials, LiveServer, free_port, provision

pytestmark = pytest.mark.e2e

BUDGET = """\
version: 1
default: deny
rules:
  - id: daily_budget
    effect: allow
    action: purchase
    limits:
      - spend: 10000
        window: 24h
  - id: hourly_messages
    effect: allow
    action: email.send
    limits:
      - count: 30
        window: 1h
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Credentials]]:
    root: Path = tmp_path_factory.mktemp("limits")
    live = LiveServer(root, free_port(), workers=2)
    creds = provision(live.data_dir, BUDGET)
    live.start()
    yield live, creds
    live.stop()


async def _fire(
    url: str, creds: Credentials, action_type: str, count: int, **payload: object
) -> Counter[str]:
    auth = AgentAuth(creds.agent_id, creds.private_key_b64)
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:

        async def one() -> str:
            body = json.dumps(
                action(creds.agent_id, creds.owner_id, action_type, **payload),
                separators=(",", ":"),
            ).encode()
            response = await client.post(
                "/v1/authorize",
                content=body,
                auth=auth,
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.text
            return str(response.json()["result"])

        results = await asyncio.gather(*(one() for _ in range(count)))
    return Counter(results)


def test_concurrent_purchases_never_overrun_the_budget(
    server: tuple[LiveServer, Credentials],
) -> None:
    live, creds = server
    results = asyncio.run(_fire(live.url, creds, "purchase", 300, amount_minor=100, currency="USD"))
    assert results == {"ALLOW": 100, "DENY": 200}


def test_budget_survives_kill_and_restart(server: tuple[LiveServer, Credentials]) -> None:
    live, creds = server
    # whatever ran before in this module, spend the rest of the budget first
    asyncio.run(_fire(live.url, creds, "purchase", 120, amount_minor=100))
    live.kill()
    live.start()
    after = asyncio.run(_fire(live.url, creds, "purchase", 3, amount_minor=100))
    assert after == {"DENY": 3}
    free = asyncio.run(_fire(live.url, creds, "purchase", 1, amount_minor=0))
    assert free == {"ALLOW": 1}  # a zero purchase still fits: used + 0 <= max


def test_concurrent_sends_never_overrun_the_rate_limit(
    server: tuple[LiveServer, Credentials],
) -> None:
    live, creds = server
    results = asyncio.run(_fire(live.url, creds, "email.send", 90, to="a@b.example"))
    assert results == {"ALLOW": 30, "DENY": 60}
    live.kill()
    live.start()
    assert asyncio.run(_fire(live.url, creds, "email.send", 2)) == {"DENY": 2}
