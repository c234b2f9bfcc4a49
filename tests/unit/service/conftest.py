"""Use cases of :mod:`openleash.service` run against the in-memory store: no database file, no
server, no HTTP; a fixed clock. Each test gets an owner with one ACTIVE agent, a policy bound to
it and a signing key (``world``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from openleash.api.views.authorize import decision_json
from openleash.crypto import generate_keypair
from openleash.domain.models import Agent, Owner, OwnerSession
from openleash.domain.timefmt import iso_ms
from openleash.service.agent_auth import AgentCall
from openleash.service.authorize import Authorizer, AuthorizeRequest
from openleash.service.keys import Keys
from openleash.service.options import Options
from openleash.service.owner_auth import OwnerCall
from openleash.service.runtime import Runtime
from openleash.service.setup import setup_owner_and_agent
from openleash.store.memory import MemoryStore
from tests.support.actions import action
from tests.support.event_loop import event_runner, pytest_pyfunc_call

__all__ = ["World", "event_runner", "pytest_pyfunc_call"]

START = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)

POLICY = """\
version: 1
default: deny
rules:
  - id: small
    effect: allow
    action: purchase
    constraints: { amount_max: 10000 }
  - id: large
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    store: MemoryStore
    options: Options
    clock: Clock
    runtime: Runtime
    owner: Owner
    agent: Agent
    agent_private_key: str

    def agent_call(self, nonce: str | None = None) -> AgentCall:
        """A verified call of the agent, with a fresh nonce unless one is given."""
        return AgentCall(self.agent, nonce or str(uuid.uuid4()), self.clock())

    def owner_call(self, owner: Owner | None = None) -> OwnerCall:
        """A signed-in owner (the world's, unless another is given)."""
        who = owner or self.owner
        now = self.clock()
        session = OwnerSession(
            str(uuid.uuid4()),
            who.user_principal_id,
            "csrf",
            iso_ms(now),
            iso_ms(now + timedelta(hours=1)),
        )
        return OwnerCall(who, session, now)

    def purchase(self, amount_minor: int) -> dict[str, Any]:
        bought = action(
            self.agent.agent_id, self.owner.user_principal_id, amount_minor=amount_minor
        )
        bought["requested_at"] = iso_ms(self.clock())
        return bought

    async def authorize(self, body: dict[str, Any], nonce: str | None = None) -> dict[str, Any]:
        """``POST /v1/authorize`` of the agent, as the API calls it once the request verified;
        the decision as the API renders it."""
        snap = await self.runtime.snapshot()
        call = self.agent_call(nonce)
        command = AuthorizeRequest.from_body(body, snap.keyring, call.now)
        authorized = await self.authorizer().authorize(snap, call, command)
        return dict(decision_json(authorized))

    def authorizer(self) -> Authorizer:
        return Authorizer(self.store, self.runtime, self.options)

    async def audit_types(self) -> list[str]:
        async with self.store.read() as tx:
            events, _ = await tx.page(limit=1000)
        return [e.event_type for _, e in reversed(events)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(event_runner: asyncio.Runner, clock: Clock) -> Iterator[World]:
    store = MemoryStore()
    options = Options(clock=clock)
    public_key, private_key = generate_keypair()

    async def build() -> World:
        made = await setup_owner_and_agent(
            store,
            owner_name="Ada",
            agent_id="shopper",
            public_key_b64=public_key,
            policy_yaml=POLICY,
            options=options,
        )
        await Keys(store, options).ensure()
        async with store.read() as tx:
            owner = await tx.get_owner(made.owner.user_principal_id)
            agent = await tx.get_agent(made.agent.agent_principal_id)
        assert owner == made.owner  # what was returned is what was stored
        assert agent == made.agent
        return World(store, options, clock, Runtime(store, 0.0), owner, agent, private_key)

    yield event_runner.run(build())
    event_runner.run(store.close())
