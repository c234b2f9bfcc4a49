"""Approvals, use case by use case: a held decision, the agent's request, the owner's answer,
and the one action the approval lets through."""

from __future__ import annotations

import pytest

from openleash.domain.errors import AuthenticationError, InvalidInputError
from openleash.service import approvals
from openleash.service.audit_chain import verify_chain

from .conftest import World

LARGE = 50_000


async def _held(world: World) -> tuple[dict[str, object], dict[str, object]]:
    action = world.purchase(LARGE)
    decision = await world.authorize(action)
    assert decision["result"] == "REQUIRE_APPROVAL"
    return action, decision


async def _filed(world: World) -> tuple[dict[str, object], str]:
    action, decision = await _held(world)
    body = {"decision_id": decision["decision_id"], "action": action}
    filed = await approvals.create_request(world.store, world.agent_call(), body, world.options)
    assert filed["status"] == "PENDING"
    return action, filed["approval_request_id"]


async def test_an_approval_is_requested_given_and_used_once(world: World) -> None:
    action, decision = await _held(world)
    body = {"decision_id": decision["decision_id"], "action": action, "justification": "broken"}
    filed = await approvals.create_request(world.store, world.agent_call(), body, world.options)
    retried = await approvals.create_request(world.store, world.agent_call(), body, world.options)
    assert retried == filed, "the same decision asked again answers the request filed"
    request_id = filed["approval_request_id"]

    keyring = (await world.runtime.snapshot()).keyring
    answer = await approvals.approve(
        world.store, keyring, world.owner_call(), request_id, {}, world.options
    )
    assert (answer["status"], answer["assurance_level"]) == ("APPROVED", "LOW")

    allowed = await world.authorize({**action, "approval_token": answer["approval_token"]})
    assert (allowed["result"], allowed["reason"]) == ("ALLOW", "Approved by owner")
    assert allowed["approval"]["approved_by"] == world.owner.user_principal_id

    with pytest.raises(InvalidInputError) as used:
        await world.authorize({**action, "approval_token": answer["approval_token"]})
    assert used.value.code == "APPROVAL_TOKEN_CONSUMED"

    assert (await world.audit_types())[-4:] == [
        "APPROVAL_REQUEST_CREATED",
        "APPROVAL_REQUEST_APPROVED",
        "APPROVAL_TOKEN_USED",
        "DECISION_CREATED",
    ]
    assert (await verify_chain(world.store)).ok


async def test_a_request_must_name_a_held_decision_of_the_same_action(world: World) -> None:
    action, decision = await _held(world)
    other = world.purchase(LARGE + 1)
    mismatched = {"decision_id": decision["decision_id"], "action": other}
    with pytest.raises(InvalidInputError) as caught:
        await approvals.create_request(world.store, world.agent_call(), mismatched, world.options)
    assert caught.value.code == "DECISION_MISMATCH"
    unknown = {"decision_id": "no-such-decision", "action": action}
    with pytest.raises(InvalidInputError) as caught:
        await approvals.create_request(world.store, world.agent_call(), unknown, world.options)
    assert caught.value.code == "DECISION_NOT_FOUND"
    async with world.store.read() as tx:
        assert await tx.list_approval_requests() == []


async def test_an_expired_request_cannot_be_approved(world: World) -> None:
    _, request_id = await _filed(world)
    world.clock.advance(world.options.approval_request_ttl_seconds)
    keyring = (await world.runtime.snapshot()).keyring
    with pytest.raises(InvalidInputError) as caught:
        await approvals.approve(
            world.store, keyring, world.owner_call(), request_id, {}, world.options
        )
    assert caught.value.code == "REQUEST_EXPIRED"
    view = await approvals.get_for_owner(world.store, world.owner_call(), request_id)
    assert view["status"] == "EXPIRED"


async def test_a_denied_request_gives_no_token(world: World) -> None:
    _, request_id = await _filed(world)
    denied = await approvals.deny(
        world.store, world.owner_call(), request_id, {"reason": "not now"}, world.options
    )
    assert denied["status"] == "DENIED"
    keyring = (await world.runtime.snapshot()).keyring
    view = await approvals.get_for_agent(
        world.store, keyring, world.agent_call(), request_id, world.options
    )
    assert (view["status"], view["denial_reason"]) == ("DENIED", "not now")
    assert "approval_token" not in view
    with pytest.raises(InvalidInputError) as caught:
        await approvals.approve(
            world.store, keyring, world.owner_call(), request_id, {}, world.options
        )
    assert caught.value.code == "INVALID_STATUS"


async def test_a_replayed_nonce_records_nothing(world: World) -> None:
    small = world.purchase(100)
    assert (await world.authorize(small, nonce="n-1"))["result"] == "ALLOW"
    before = await world.audit_types()
    with pytest.raises(AuthenticationError) as caught:
        await world.authorize(world.purchase(LARGE), nonce="n-1")
    assert caught.value.code == "NONCE_REPLAY"
    assert await world.audit_types() == before
    async with world.store.read() as tx:
        assert await tx.list_approval_requests() == []
