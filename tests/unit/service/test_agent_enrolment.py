"""Enrolment by registration challenge, then the owner's activation: a challenge is taken once,
a failed registration leaves it usable, and the agent decides only once its owner activated it."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from openleash.crypto import generate_keypair, sign
from openleash.domain.errors import AuthenticationError, InvalidInputError, NotFoundError
from openleash.domain.models import Owner, Status
from openleash.service import owner_agents, registration

from .conftest import World


class Enrolling:
    """An agent about to enrol with the world's owner: its keys, and its challenge."""

    def __init__(self, world: World, agent_id: str = "helper") -> None:
        self.world = world
        self.agent_id = agent_id
        self.public_key, self.private_key = generate_keypair()

    async def challenge(self) -> dict[str, Any]:
        body = {
            "agent_id": self.agent_id,
            "agent_pubkey_b64": self.public_key,
            "owner_type": "user",
            "owner_id": self.world.owner.user_principal_id,
        }
        return await registration.issue_challenge(self.world.store, body, self.world.options)

    def registration(self, challenge: dict[str, Any], *, key: str | None = None) -> dict[str, Any]:
        signed = sign(key or self.private_key, base64.b64decode(challenge["challenge_b64"]))
        return {
            "challenge_id": challenge["challenge_id"],
            "agent_id": self.agent_id,
            "agent_pubkey_b64": self.public_key,
            "signature_b64": signed,
            "owner_type": "user",
            "owner_id": self.world.owner.user_principal_id,
        }

    async def register(self, body: dict[str, Any]) -> dict[str, Any]:
        return await registration.register(self.world.store, body, self.world.options)


async def test_a_challenge_enrols_a_pending_agent_once(world: World) -> None:
    helper = Enrolling(world)
    challenge = await helper.challenge()

    enrolled = await helper.register(helper.registration(challenge))

    assert enrolled["status"] == Status.PENDING
    with pytest.raises(InvalidInputError) as again:
        await helper.register(helper.registration(challenge))
    assert again.value.code == "CHALLENGE_NOT_FOUND"
    assert (await world.audit_types())[-1] == "AGENT_REGISTERED"


async def test_a_failed_registration_leaves_the_challenge_usable(world: World) -> None:
    helper = Enrolling(world)
    challenge = await helper.challenge()
    _, someone_else = generate_keypair()

    with pytest.raises(AuthenticationError) as forged:
        await helper.register(helper.registration(challenge, key=someone_else))

    assert forged.value.code == "INVALID_SIGNATURE"
    enrolled = await helper.register(helper.registration(challenge))
    assert enrolled["agent_id"] == "helper"


async def test_an_expired_challenge_is_refused(world: World) -> None:
    helper = Enrolling(world)
    challenge = await helper.challenge()
    world.clock.advance(world.options.challenge_ttl_seconds)

    with pytest.raises(InvalidInputError) as caught:
        await helper.register(helper.registration(challenge))

    assert caught.value.code == "CHALLENGE_EXPIRED"
    async with world.store.read() as tx:
        assert await tx.find_agents_by_id("helper") == []


async def test_the_owner_activates_a_pending_agent_once(world: World) -> None:
    helper = Enrolling(world)
    enrolled = await helper.register(helper.registration(await helper.challenge()))
    apid = enrolled["agent_principal_id"]
    waiting = await owner_agents.pending_agents(world.store, world.owner_call())
    assert [a["agent_principal_id"] for a in waiting] == [apid]
    assert (await world.runtime.snapshot()).agent("helper") is not None

    activated = await owner_agents.set_status(
        world.store, world.owner_call(), apid, {"status": "ACTIVE"}, world.options
    )

    assert activated["status"] == Status.ACTIVE
    found = (await world.runtime.snapshot()).agent("helper")
    assert found is not None
    assert found.status == Status.ACTIVE, "the runtime sees this process's change at once"
    assert await owner_agents.pending_agents(world.store, world.owner_call()) == []
    with pytest.raises(InvalidInputError) as again:
        await owner_agents.set_status(
            world.store, world.owner_call(), apid, {"status": "ACTIVE"}, world.options
        )
    assert again.value.code == "INVALID_STATUS"


async def test_another_owner_cannot_activate_the_agent(world: World) -> None:
    helper = Enrolling(world)
    enrolled = await helper.register(helper.registration(await helper.challenge()))
    stranger = Owner("someone-else", "Eve", "ACTIVE", world.owner.created_at)
    async with world.store.transaction() as tx:
        await tx.add_owner(stranger)

    with pytest.raises(NotFoundError):
        await owner_agents.set_status(
            world.store,
            world.owner_call(stranger),
            enrolled["agent_principal_id"],
            {"status": "ACTIVE"},
            world.options,
        )

    async with world.store.read() as tx:
        agent = await tx.get_agent(enrolled["agent_principal_id"])
    assert agent is not None
    assert agent.status == Status.PENDING
