"""Policy drafts, use case by use case: the agent proposes, the owner approves (the policy is
stored and bound to the target) or denies, and each side reads only its own."""

from __future__ import annotations

from dataclasses import replace

import pytest

from openleash.domain.errors import AuthenticationError, InvalidInputError, NotFoundError
from openleash.domain.models import DraftStatus
from openleash.service.drafts import DraftProposal, Drafts
from openleash.service.owner_factor import Denial, FactorProof

from .conftest import POLICY, World


def _drafts(world: World) -> Drafts:
    return Drafts(world.store, world.options)


def _proposal(**fields: object) -> DraftProposal:
    return DraftProposal.from_body({"policy_yaml": POLICY, "name": " Shopping ", **fields})


async def test_a_proposed_draft_is_approved_into_a_bound_policy(world: World) -> None:
    drafts = _drafts(world)
    filed = await drafts.propose(world.agent_call(), _proposal(justification="cheaper"))
    assert (filed.status, filed.name, filed.justification) == ("PENDING", "Shopping", "cheaper")
    assert filed.applies_to_agent_principal_id == world.agent.agent_principal_id, "absent: itself"
    assert await drafts.list_for_agent(world.agent_call(), None) == [filed]

    approved = await drafts.approve(world.owner_call(), filed.policy_draft_id, FactorProof())
    assert (approved.status, approved.resolved_by) == ("APPROVED", world.owner.user_principal_id)
    assert approved == await drafts.for_owner(world.owner_call(), filed.policy_draft_id)
    async with world.store.read() as tx:
        policy = await tx.get_policy(approved.resulting_policy_id or "")
        bindings = await tx.list_bindings("user", world.owner.user_principal_id)
    assert policy is not None
    assert policy.policy_yaml == POLICY
    bound = [b for b in bindings if b.policy_id == policy.policy_id]
    assert [b.applies_to_agent_principal_id for b in bound] == [world.agent.agent_principal_id]
    assert (await world.audit_types())[-2:] == ["POLICY_DRAFT_CREATED", "POLICY_DRAFT_APPROVED"]

    with pytest.raises(InvalidInputError) as caught:
        await drafts.approve(world.owner_call(), filed.policy_draft_id, FactorProof())
    assert caught.value.code == "INVALID_STATUS"


async def test_an_explicit_null_target_means_every_agent(world: World) -> None:
    filed = await _drafts(world).propose(
        world.agent_call(), _proposal(applies_to_agent_principal_id=None)
    )
    assert filed.applies_to_agent_principal_id is None


async def test_a_proposal_is_refused_when_invalid_or_aimed_elsewhere(world: World) -> None:
    for body, code in (
        ({}, "INVALID_REQUEST"),
        ({"policy_yaml": POLICY, "applies_to_agent_principal_id": 7}, "INVALID_REQUEST"),
        ({"policy_yaml": POLICY, "name": "x" * 201}, "INVALID_REQUEST"),
    ):
        with pytest.raises(InvalidInputError) as caught:
            DraftProposal.from_body(body)
        assert caught.value.code == code
    drafts = _drafts(world)
    with pytest.raises(InvalidInputError) as caught:
        await drafts.propose(world.agent_call(), _proposal(policy_yaml="version: 9\n"))
    assert caught.value.code == "INVALID_POLICY"
    with pytest.raises(InvalidInputError) as caught:
        await drafts.propose(world.agent_call(), _proposal(applies_to_agent_principal_id="other"))
    assert caught.value.code == "INVALID_AGENT"
    assert await drafts.list_for_owner(world.owner_call(), None) == []


async def test_a_denied_draft_binds_nothing(world: World) -> None:
    drafts = _drafts(world)
    filed = await drafts.propose(world.agent_call(), _proposal())
    async with world.store.read() as tx:
        before = len(await tx.list_policies(world.owner.user_principal_id))
    denied = await drafts.deny(
        world.owner_call(), filed.policy_draft_id, Denial(FactorProof(), "no")
    )
    assert (denied.status, denied.denial_reason, denied.resulting_policy_id) == (
        "DENIED",
        "no",
        None,
    )
    assert await drafts.for_agent(world.agent_call(), filed.policy_draft_id) == denied
    async with world.store.read() as tx:
        assert len(await tx.list_policies(world.owner.user_principal_id)) == before
    with pytest.raises(InvalidInputError) as caught:
        await drafts.deny(world.owner_call(), filed.policy_draft_id, Denial(FactorProof()))
    assert caught.value.code == "INVALID_STATUS"


async def test_the_lists_filter_by_status(world: World) -> None:
    drafts = _drafts(world)
    filed = await drafts.propose(world.agent_call(), _proposal())
    owner = world.owner_call()
    assert await drafts.list_for_owner(owner, DraftStatus.PENDING) == [filed]
    assert await drafts.list_for_owner(owner, DraftStatus.DENIED) == []
    assert await drafts.list_for_agent(world.agent_call(), DraftStatus.APPROVED) == []
    with pytest.raises(InvalidInputError):
        await drafts.list_for_owner(owner, "LOST")
    with pytest.raises(InvalidInputError):
        await drafts.list_for_agent(world.agent_call(), "LOST")


async def test_another_owner_neither_sees_nor_answers_a_draft(world: World) -> None:
    drafts = _drafts(world)
    filed = await drafts.propose(world.agent_call(), _proposal())
    stranger = world.owner_call(replace(world.owner, user_principal_id="someone-else"))
    assert await drafts.list_for_owner(stranger, None) == []
    with pytest.raises(NotFoundError):
        await drafts.for_owner(stranger, filed.policy_draft_id)
    with pytest.raises(NotFoundError):
        await drafts.approve(stranger, filed.policy_draft_id, FactorProof())
    with pytest.raises(NotFoundError):
        await drafts.deny(stranger, filed.policy_draft_id, Denial(FactorProof()))
    with pytest.raises(NotFoundError):
        await drafts.for_agent(world.agent_call(), "no-such-draft")
    assert (await drafts.for_owner(world.owner_call(), filed.policy_draft_id)).status == "PENDING"


async def test_the_agent_reads_use_up_its_nonce(world: World) -> None:
    drafts = _drafts(world)
    await drafts.list_for_agent(world.agent_call("n-1"), None)
    with pytest.raises(AuthenticationError) as caught:
        await drafts.list_for_agent(world.agent_call("n-1"), None)
    assert caught.value.code == "NONCE_REPLAY"
