"""Approvals, use case by use case: a held decision, the agent's request, the owner's answer,
and the one action the approval lets through."""

from __future__ import annotations

from dataclasses import replace

import pytest

from openleash.domain.errors import (
    AuthenticationError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from openleash.domain.models import ApprovalStatus
from openleash.service.approvals import ApprovalAsk, Approvals
from openleash.service.audit_chain import verify_chain
from openleash.service.owner_factor import Denial, FactorProof

from .conftest import World

LARGE = 50_000


def _approvals(world: World) -> Approvals:
    return Approvals(world.store, world.runtime, world.options)


async def _held(world: World) -> tuple[dict[str, object], dict[str, object]]:
    action = world.purchase(LARGE)
    decision = await world.authorize(action)
    assert decision["result"] == "REQUIRE_APPROVAL"
    return action, decision


async def _filed(world: World) -> tuple[dict[str, object], str]:
    action, decision = await _held(world)
    ask = ApprovalAsk.from_body({"decision_id": decision["decision_id"], "action": action})
    filed = await _approvals(world).ask(world.agent_call(), ask)
    assert filed.status == "PENDING"
    return action, filed.approval_request_id


async def test_an_approval_is_requested_given_and_used_once(world: World) -> None:
    action, decision = await _held(world)
    body = {"decision_id": decision["decision_id"], "action": action, "justification": "broken"}
    approvals = _approvals(world)
    filed = await approvals.ask(world.agent_call(), ApprovalAsk.from_body(body))
    retried = await approvals.ask(world.agent_call(), ApprovalAsk.from_body(body))
    assert retried == filed, "the same decision asked again answers the request filed"
    assert (filed.justification, filed.kind) == ("broken", "approval")
    request_id = filed.approval_request_id

    answer = await approvals.approve(world.owner_call(), request_id, FactorProof())
    assert (answer.status, answer.request.assurance_level) == ("APPROVED", "LOW")
    assert answer.token is not None
    assert answer.request.resolved_by == world.owner.user_principal_id
    polled = await approvals.for_agent(world.agent_call(), request_id)
    assert polled.token == answer.token, "the agent reads the same token"

    allowed = await world.authorize({**action, "approval_token": answer.token.token})
    assert (allowed["result"], allowed["reason"]) == ("ALLOW", "Approved by owner")
    assert allowed["approval"]["approved_by"] == world.owner.user_principal_id

    with pytest.raises(InvalidInputError) as used:
        await world.authorize({**action, "approval_token": answer.token.token})
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
    mismatched = ApprovalAsk.from_body({"decision_id": decision["decision_id"], "action": other})
    with pytest.raises(InvalidInputError) as caught:
        await _approvals(world).ask(world.agent_call(), mismatched)
    assert caught.value.code == "DECISION_MISMATCH"
    unknown = ApprovalAsk.from_body({"decision_id": "no-such-decision", "action": action})
    with pytest.raises(InvalidInputError) as caught:
        await _approvals(world).ask(world.agent_call(), unknown)
    assert caught.value.code == "DECISION_NOT_FOUND"
    async with world.store.read() as tx:
        assert await tx.list_approval_requests() == []


async def test_an_expired_request_cannot_be_approved(world: World) -> None:
    _, request_id = await _filed(world)
    world.clock.advance(world.options.approval_request_ttl_seconds)
    approvals = _approvals(world)
    with pytest.raises(InvalidInputError) as caught:
        await approvals.approve(world.owner_call(), request_id, FactorProof())
    assert caught.value.code == "REQUEST_EXPIRED"
    read = await approvals.for_owner(world.owner_call(), request_id)
    assert (read.status, read.request.status, read.token) == ("EXPIRED", "PENDING", None)


async def test_a_denied_request_gives_no_token(world: World) -> None:
    _, request_id = await _filed(world)
    approvals = _approvals(world)
    denied = await approvals.deny(world.owner_call(), request_id, Denial(FactorProof(), "not now"))
    assert (denied.status, denied.denial_reason) == ("DENIED", "not now")
    read = await approvals.for_agent(world.agent_call(), request_id)
    assert (read.status, read.request.denial_reason, read.token) == ("DENIED", "not now", None)
    assert read.request == denied, "deny answers the request as stored"
    with pytest.raises(InvalidInputError) as caught:
        await approvals.approve(world.owner_call(), request_id, FactorProof())
    assert caught.value.code == "INVALID_STATUS"
    with pytest.raises(InvalidInputError) as caught:
        await approvals.deny(world.owner_call(), request_id, Denial(FactorProof()))
    assert caught.value.code == "INVALID_STATUS"
    assert (await world.audit_types())[-1] == "APPROVAL_REQUEST_DENIED"


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


async def test_an_agent_asks_only_in_its_own_name_and_reads_only_its_own(world: World) -> None:
    action, decision = await _held(world)
    other = {**action, "principal": {**action["principal"], "agent_id": "someone-else"}}
    ask = ApprovalAsk.from_body({"decision_id": decision["decision_id"], "action": other})
    with pytest.raises(ForbiddenError) as caught:
        await _approvals(world).ask(world.agent_call(), ask)
    assert caught.value.code == "AGENT_MISMATCH"
    with pytest.raises(NotFoundError):
        await _approvals(world).for_agent(world.agent_call(), "no-such-request")


async def test_reading_a_request_uses_up_the_agent_nonce(world: World) -> None:
    _, request_id = await _filed(world)
    approvals = _approvals(world)
    await approvals.for_agent(world.agent_call("n-read"), request_id)
    with pytest.raises(AuthenticationError) as caught:
        await approvals.for_agent(world.agent_call("n-read"), request_id)
    assert caught.value.code == "NONCE_REPLAY"


async def test_the_owner_lists_by_effective_status(world: World) -> None:
    _, first = await _filed(world)
    approvals = _approvals(world)
    owner = world.owner_call()
    listed = await approvals.list_for_owner(owner, status=ApprovalStatus.PENDING, limit=10)
    assert [a.request.approval_request_id for a in listed] == [first]
    world.clock.advance(world.options.approval_request_ttl_seconds)
    owner = world.owner_call()
    assert await approvals.list_for_owner(owner, status=ApprovalStatus.PENDING, limit=10) == []
    expired = await approvals.list_for_owner(owner, status=ApprovalStatus.EXPIRED, limit=10)
    assert [(a.request.approval_request_id, a.status) for a in expired] == [(first, "EXPIRED")]
    for status, limit in (("LOST", 10), (None, 0), (None, 501)):
        with pytest.raises(InvalidInputError) as caught:
            await approvals.list_for_owner(owner, status=status, limit=limit)
        assert caught.value.code == "INVALID_REQUEST"


async def test_another_owner_neither_sees_nor_answers_a_request(world: World) -> None:
    _, request_id = await _filed(world)
    approvals = _approvals(world)
    stranger = world.owner_call(replace(world.owner, user_principal_id="someone-else"))
    assert await approvals.list_for_owner(stranger, status=None, limit=10) == []
    with pytest.raises(NotFoundError):
        await approvals.for_owner(stranger, request_id)
    with pytest.raises(NotFoundError):
        await approvals.approve(stranger, request_id, FactorProof())
    with pytest.raises(NotFoundError):
        await approvals.deny(stranger, request_id, Denial(FactorProof()))
    assert (await approvals.for_owner(world.owner_call(), request_id)).status == "PENDING"


async def test_a_step_up_needs_a_second_factor(world: World) -> None:
    _, request_id = await _filed(world)
    async with world.store.transaction() as tx:
        stored = await tx.get_approval_request(request_id)
        assert stored is not None
        await tx.add_approval_request(
            replace(stored, approval_request_id="step-up", decision_id="d-2", kind="step_up")
        )
    with pytest.raises(ForbiddenError) as caught:
        await _approvals(world).approve(world.owner_call(), "step-up", FactorProof())
    assert caught.value.code == "TOTP_SETUP_REQUIRED"
    assert (await _approvals(world).for_owner(world.owner_call(), "step-up")).status == "PENDING"


async def test_the_counterparty_trust_follows_the_agent_policy(world: World) -> None:
    approvals = _approvals(world)
    agent = world.agent
    trust = await approvals.counterparty_trust(agent.agent_id, agent.agent_principal_id, "x.test")
    assert trust == "UNKNOWN"
    assert await approvals.counterparty_trust(agent.agent_id, "re-enrolled", "x.test") is None
