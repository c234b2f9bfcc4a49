"""The Authorizer on the in-memory store: the command it takes, the decisions it records (before
the write transaction or in it, when limits read the ledger), its proofs and refusals."""

from __future__ import annotations

import pytest

from openleash.crypto import action_hash, verify_token
from openleash.domain.errors import AuthenticationError, ForbiddenError, InvalidInputError
from openleash.domain.models import Result
from openleash.service.authorize import Authorized, AuthorizeRequest
from openleash.service.policies import Policies, PolicyUpsert

from .conftest import World

#: Small purchases with a proof; with LIMITED, under a spend limit (decided in the write
#: transaction, which reads the ledger).
PROVEN = """\
version: 1
default: deny
rules:
  - id: small
    effect: allow
    action: purchase
    constraints: { amount_max: 10000 }
    proof: { required: true, ttl_seconds: 300 }
"""
LIMITED = (
    PROVEN
    + """\
    limits:
      - spend: 1000
        window: 24h
"""
)


async def _decide(world: World, body: dict[str, object], nonce: str | None = None) -> Authorized:
    snap = await world.runtime.snapshot()
    call = world.agent_call(nonce)
    command = AuthorizeRequest.from_body(body, snap.keyring, call.now)
    return await world.authorizer().authorize(snap, call, command)


async def _replace_policy(world: World, policy_yaml: str) -> None:
    async with world.store.read() as tx:
        (policy,) = await tx.list_policies(world.owner.user_principal_id)
    await Policies(world.store, world.options).upsert(
        PolicyUpsert(policy_yaml, policy_id=policy.policy_id)
    )


async def test_an_allow_is_recorded_with_a_proof_of_the_action(world: World) -> None:
    await _replace_policy(world, PROVEN)
    action = world.purchase(500)
    decided = await _decide(world, action)
    assert decided.evaluation.result is Result.ALLOW
    assert (decided.request.action_id, decided.digest) == (action["action_id"], action_hash(action))
    assert decided.approval is None
    assert decided.proof is not None
    keyring = (await world.runtime.snapshot()).keyring
    claims = verify_token(decided.proof.token, keyring, now=world.clock(), purpose="proof")
    assert (claims["decision_id"], claims["action_hash"]) == (decided.decision_id, decided.digest)
    assert claims["agent_id"] == world.agent.agent_id
    assert (await world.audit_types())[-1] == "DECISION_CREATED"


async def test_a_held_decision_is_kept_for_its_approval_request(world: World) -> None:
    decided = await _decide(world, world.purchase(50_000))
    assert (decided.evaluation.result, decided.proof) == (Result.REQUIRE_APPROVAL, None)
    async with world.store.read() as tx:
        held = await tx.get_held_decision(decided.decision_id)
    assert held is not None
    assert (held.action_hash, held.result) == (decided.digest, "REQUIRE_APPROVAL")


async def test_a_replayed_nonce_undoes_the_decision(world: World) -> None:
    await _decide(world, world.purchase(500), nonce="n-1")
    before = await world.audit_types()
    with pytest.raises(AuthenticationError) as caught:
        await _decide(world, world.purchase(600), nonce="n-1")
    assert caught.value.code == "NONCE_REPLAY"
    assert await world.audit_types() == before


async def test_limits_are_read_in_the_transaction_that_records(world: World) -> None:
    await _replace_policy(world, LIMITED)
    first = await _decide(world, world.purchase(700))
    assert first.evaluation.result is Result.ALLOW
    assert first.proof is not None
    second = await _decide(world, world.purchase(400))
    assert second.evaluation.result is Result.DENY, "700 + 400 is past the limit of 1000"
    third = await _decide(world, world.purchase(300))
    assert third.evaluation.result is Result.ALLOW, "a denied action counts for nothing"


async def test_an_agent_acts_only_in_its_own_name(world: World) -> None:
    action = world.purchase(500)
    action["principal"] = {"agent_id": "someone-else"}
    with pytest.raises(ForbiddenError) as caught:
        await _decide(world, action)
    assert caught.value.code == "AGENT_MISMATCH"


async def test_an_agent_without_a_policy_is_refused(world: World) -> None:
    async with world.store.transaction() as tx:
        for policy in await tx.list_policies():
            await tx.delete_policy(policy.policy_id)
        await tx.bump_revision()
    with pytest.raises(ForbiddenError) as caught:
        await _decide(world, world.purchase(500))
    assert caught.value.code == "NO_POLICY"


async def test_the_command_checks_the_body_then_its_approval_token_then_the_action(
    world: World,
) -> None:
    keyring, now = (await world.runtime.snapshot()).keyring, world.clock()
    with pytest.raises(InvalidInputError) as caught:
        AuthorizeRequest.from_body([world.purchase(500)], keyring, now)
    assert caught.value.code == "INVALID_ACTION_REQUEST"
    bad_action = {"action_type": "purchase"}
    for token in (5, "v4.public.forged"):
        with pytest.raises(AuthenticationError) as refused:
            AuthorizeRequest.from_body({**bad_action, "approval_token": token}, keyring, now)
        assert refused.value.code == "INVALID_APPROVAL_TOKEN"
    with pytest.raises(InvalidInputError) as caught:
        AuthorizeRequest.from_body({**bad_action, "approval_token": ""}, keyring, now)
    assert caught.value.code == "INVALID_ACTION_REQUEST", "an empty token is no token"
    action = world.purchase(500)
    command = AuthorizeRequest.from_body({**action, "extra": 1}, keyring, now)
    assert "extra" not in command.action, "stripped as the hash needs it"
    assert (command.agent_id, command.action_type) == (world.agent.agent_id, "purchase")
    assert (command.requested_at, command.trust_profile, command.approval) == (
        action["requested_at"],
        None,
        None,
    )
