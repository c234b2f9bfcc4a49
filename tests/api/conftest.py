"""An in-process application over a real SQLite file, with an injectable clock."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from openleash.api.app import create_asgi
from openleash.bootstrap import Services, open_services, options_from
from openleash.client import AgentAuth
from openleash.config import Settings
from openleash.crypto import generate_keypair
from openleash.domain.models import PolicyRecord
from openleash.domain.timefmt import iso_ms
from openleash.service.policies import PolicyUpsert
from openleash.service.setup import SetUpRecords, setup_owner_and_agent
from tests.support.actions import action

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ALLOW_ALL = """\
version: 1
default: deny
rules:
  - id: small_purchases
    effect: allow
    action: purchase
    constraints: { amount_max: 10000 }
    proof: { required: true, ttl_seconds: 60 }
  - id: large_purchases
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""


#: Where the in-process server is reached: loopback on the default port (its Host is checked).
BASE_URL = "http://127.0.0.1:8787"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def set(self, moment: datetime) -> None:
        self.now = moment

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Agent:
    agent_id: str
    owner_id: str
    private_key_b64: str
    public_key_b64: str

    def auth(self) -> AgentAuth:
        return AgentAuth(self.agent_id, self.private_key_b64)

    def action(self, **payload: Any) -> dict[str, Any]:
        return action(self.agent_id, self.owner_id, **payload)


@dataclass
class Api:
    client: TestClient
    services: Services
    clock: Clock
    agent: Agent
    data_dir: Path

    def signed(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        agent: Agent | None = None,
        headers: dict[str, str] | None = None,
        sign_path: str | None = None,
    ) -> Any:
        who = agent or self.agent
        auth = AgentAuth(who.agent_id, who.private_key_b64, clock=lambda: iso_ms(self.clock()))
        signed = auth.sign_headers(method, sign_path or path.split("?")[0], body)
        signed.update(headers or {})
        if body:
            signed.setdefault("Content-Type", "application/json")
        return self.client.request(method, path, content=body or None, headers=signed)

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the application's event loop (where its store lives)."""
        assert self.client.portal is not None
        return self.client.portal.call(_await, coro)


async def _await(coro: Any) -> Any:
    return await coro


def new_agent_keys() -> tuple[str, str]:
    return generate_keypair()


def running_api(settings: Settings) -> Iterator[Api]:
    """The app over ``settings`` with an injected clock, an owner, and agent ``agent-1``."""
    clock = Clock()
    options = replace(options_from(settings), clock=clock, config_refresh_seconds=0.0)
    holder: dict[str, Services] = {}

    async def opener() -> Services:
        holder["s"] = await open_services(settings, options)
        return holder["s"]

    app = create_asgi(settings, services=opener)
    with TestClient(app, base_url=BASE_URL, client=("127.0.0.1", 40000)) as client:
        services = holder["s"]
        public, private = new_agent_keys()
        assert client.portal is not None
        result = client.portal.call(_setup, services, public)
        agent = Agent("agent-1", result.owner.user_principal_id, private, public)
        yield Api(client, services, clock, agent, settings.data_dir)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from running_api(Settings(data_dir=tmp_path / "data", admin_token="s3cret-admin-token"))


async def _setup(services: Services, public_key_b64: str) -> SetUpRecords:
    return await setup_owner_and_agent(
        services.store,
        owner_name="Ada",
        agent_id="agent-1",
        public_key_b64=public_key_b64,
        policy_yaml=ALLOW_ALL,
        options=services.options,
    )


async def upsert(services: Services, owner_id: str, yaml_text: str) -> PolicyRecord:
    return await services.policies.upsert(PolicyUpsert(yaml_text, owner_id=owner_id))


def from_address(api: Api, address: str, method: str, path: str, **kwargs: Any) -> Any:
    """A request to the running application as if from ``address`` (the ASGI scope client)."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(
            app=api.client.app, client=(address, 50000), raise_app_exceptions=False
        )
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
            return await c.request(method, path, **kwargs)

    return api.run(send())
