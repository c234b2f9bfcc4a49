"""Enrolment by registration challenge, then the owner's activation: a challenge is taken once,
a failed registration leaves it usable, and the agent decides only once its owner activated it."""

from __future__ import annotations

import asyncio
import base64
import threading
from typing import Any

import pytest

from openleash.crypto import NotVerifiedError, generate_keypair, sign
from openleash.domain.errors import AuthenticationError, InvalidInputError, NotFoundError
from openleash.domain.models import Agent, Challenge, Owner, Status
from openleash.service import owners
from openleash.service.registration import (
    AgentStatusChange,
    ChallengeRequest,
    Enrolment,
    InviteEnrolment,
    Registration,
)

from .conftest import World


class Enrolling:
    """An agent about to enrol with the world's owner: its keys, and its challenge."""

    def __init__(self, world: World, agent_id: str = "helper") -> None:
        self.world = world
        self.use = Registration(world.store, world.options)
        self.agent_id = agent_id
        self.public_key, self.private_key = generate_keypair()

    async def challenge(self) -> Challenge:
        body = {
            "agent_id": self.agent_id,
            "agent_pubkey_b64": self.public_key,
            "owner_type": "user",
            "owner_id": self.world.owner.user_principal_id,
        }
        return await self.use.challenge(ChallengeRequest.from_body(body))

    def registration(self, challenge: Challenge, *, key: str | None = None) -> dict[str, Any]:
        signed = sign(key or self.private_key, base64.b64decode(challenge.challenge_b64))
        return {
            "challenge_id": challenge.challenge_id,
            "agent_id": self.agent_id,
            "agent_pubkey_b64": self.public_key,
            "signature_b64": signed,
            "owner_type": "user",
            "owner_id": self.world.owner.user_principal_id,
        }

    async def register(self, body: dict[str, Any]) -> Agent:
        return await self.use.register(Enrolment.from_body(body))


async def test_a_challenge_enrols_a_pending_agent_once(world: World) -> None:
    helper = Enrolling(world)
    challenge = await helper.challenge()

    enrolled = await helper.register(helper.registration(challenge))

    assert enrolled.status == Status.PENDING
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
    assert enrolled.agent_id == "helper"


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
    apid = enrolled.agent_principal_id
    waiting = await helper.use.pending_agents(world.owner_call())
    assert [a.agent_principal_id for a in waiting] == [apid]
    assert (await world.runtime.snapshot()).agent("helper") is not None

    activate = AgentStatusChange.from_body({"status": "ACTIVE"})
    before = await helper.use.set_status(world.owner_call(), apid, activate)

    assert before.status == Status.PENDING, "the agent as it was"
    found = (await world.runtime.snapshot()).agent("helper")
    assert found is not None
    assert found.status == Status.ACTIVE, "the runtime sees this process's change at once"
    assert await helper.use.pending_agents(world.owner_call()) == []
    with pytest.raises(InvalidInputError) as again:
        await helper.use.set_status(world.owner_call(), apid, activate)
    assert again.value.code == "INVALID_STATUS"


async def test_another_owner_cannot_activate_the_agent(world: World) -> None:
    helper = Enrolling(world)
    enrolled = await helper.register(helper.registration(await helper.challenge()))
    stranger = Owner("someone-else", "Eve", "ACTIVE", world.owner.created_at)
    async with world.store.transaction() as tx:
        await tx.add_owner(stranger)

    with pytest.raises(NotFoundError):
        await helper.use.set_status(
            world.owner_call(stranger),
            enrolled.agent_principal_id,
            AgentStatusChange.from_body({"status": "ACTIVE"}),
        )

    async with world.store.read() as tx:
        agent = await tx.get_agent(enrolled.agent_principal_id)
    assert agent is not None
    assert agent.status == Status.PENDING


async def test_an_invite_enrols_an_active_agent_once(world: World) -> None:
    use = Registration(world.store, world.options)
    invite = await use.agent_invite(world.owner.user_principal_id)
    public_key, _ = generate_keypair()
    body = {
        "invite_id": invite.invite_id,
        "invite_token": invite.invite_token,
        "agent_id": "invited",
        "agent_pubkey_b64": public_key,
    }
    agent = await use.register_with_invite(InviteEnrolment.from_body(body))
    assert (agent.status, agent.owner_id) == (Status.ACTIVE, world.owner.user_principal_id)
    with pytest.raises(InvalidInputError) as used:
        await use.register_with_invite(InviteEnrolment.from_body({**body, "agent_id": "other"}))
    assert used.value.code == "INVITE_USED"
    with pytest.raises(NotFoundError):
        await use.agent_invite("no-such-owner")
    assert "AGENT_REGISTERED_VIA_INVITE" in await world.audit_types()


async def test_commands_keep_the_wire_validation() -> None:
    with pytest.raises(InvalidInputError) as missing:
        ChallengeRequest.from_body({"agent_id": "a"})
    assert (missing.value.code, missing.value.details) == (
        "INVALID_REQUEST",
        {"missing": ["agent_pubkey_b64"]},
    )
    with pytest.raises(InvalidInputError) as status:
        AgentStatusChange.from_body({"status": "PENDING"})
    assert status.value.code == "VALIDATION_ERROR"


async def test_the_owner_revokes_and_the_admin_refuses_an_unknown_agent(world: World) -> None:
    use = Registration(world.store, world.options)
    revoke = AgentStatusChange.from_body({"status": "REVOKED"})
    await use.set_status(world.owner_call(), world.agent.agent_principal_id, revoke)
    (agent,) = await use.agents(world.owner.user_principal_id)
    assert agent.status == Status.REVOKED
    with pytest.raises(InvalidInputError) as again:
        await use.set_status(world.owner_call(), world.agent.agent_principal_id, revoke)
    assert again.value.code == "INVALID_STATUS"
    with pytest.raises(NotFoundError):
        await use.revoke_agent("no-such-agent")
    assert (await world.audit_types())[-1] == "AGENT_REVOKED"


async def test_revoking_a_revoked_agent_changes_and_records_nothing(world: World) -> None:
    use = Registration(world.store, world.options)
    await use.revoke_agent(world.agent.agent_principal_id)
    before = await world.audit_types()
    await use.revoke_agent(world.agent.agent_principal_id)  # the admin asks again
    assert await world.audit_types() == before  # no second AGENT_REVOKED record
    assert before.count("AGENT_REVOKED") == 1


async def test_an_invite_token_is_checked_off_the_loop_and_outside_the_write_lock(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checking a token costs an scrypt hash: a caller guessing tokens must hold neither the
    event loop nor the write lock meanwhile (other decisions and enrolments go on)."""
    use = Registration(world.store, world.options)
    invite = await use.agent_invite(world.owner.user_principal_id)
    checking = threading.Event()
    release = threading.Event()

    def slow_refusal(token: str, token_hash: str, salt: str) -> None:
        checking.set()
        release.wait(5)
        raise NotVerifiedError("wrong token")

    monkeypatch.setattr(owners, "verify_secret", slow_refusal)
    public_key, _ = generate_keypair()
    body = {
        "invite_id": invite.invite_id,
        "invite_token": "a guess",
        "agent_id": "guessed",
        "agent_pubkey_b64": public_key,
    }
    guess = asyncio.create_task(use.register_with_invite(InviteEnrolment.from_body(body)))
    while not checking.is_set():
        await asyncio.sleep(0.001)  # the loop runs while the token is checked
    async with asyncio.timeout(2):
        async with world.store.transaction() as tx:  # and the write lock is free
            await tx.append([])
    assert not guess.done()  # all of that happened while the token was being checked
    release.set()
    with pytest.raises(AuthenticationError) as refused:
        await guess
    assert refused.value.code == "INVALID_INVITE_TOKEN"
