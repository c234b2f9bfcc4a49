"""What anyone may ask: health, the public keys, a proof's verdict, the playground."""

from __future__ import annotations

import pytest

from openleash.domain.errors import InvalidInputError, PolicyError
from openleash.service.policies import Policies, PolicyUpsert
from openleash.service.public import PlaygroundRun, ProofCheck, Public

from .conftest import World

PROVEN = """\
version: 1
default: deny
rules:
  - id: small
    effect: allow
    action: purchase
    constraints: { amount_max: 10000 }
    proof: { required: true }
"""


def _public(world: World) -> Public:
    return Public(world.store, world.runtime, world.options)


async def _proof(world: World) -> tuple[str, str]:
    """A proof token of an allowed purchase, and the action's hash."""
    async with world.store.read() as tx:
        (policy,) = await tx.list_policies(world.owner.user_principal_id)
    await Policies(world.store, world.options).upsert(
        PolicyUpsert(PROVEN, policy_id=policy.policy_id)
    )
    decision = await world.authorize(world.purchase(500))
    return decision["proof_token"], decision["action_hash"]


async def test_health_says_whether_the_store_records_writes(world: World) -> None:
    health = await _public(world).health()
    assert (health.ready, health.store) == (True, "ok")
    assert (health.time, health.version) == (
        "2026-07-01T09:00:00.000Z",
        f"v{world.options.version}",
    )


async def test_the_public_keys_are_the_signing_keys(world: World) -> None:
    keys = await _public(world).public_keys()
    assert [key.kid for key in keys] == [
        key.kid for key in (await world.runtime.snapshot()).keyring.keys
    ]
    assert keys
    assert keys[0].active


async def test_a_proof_is_checked_against_what_its_reader_expects(world: World) -> None:
    token, digest = await _proof(world)
    public = _public(world)
    valid = await public.verify_proof(ProofCheck.from_body({"token": token}))
    assert (valid.valid, valid.reason) == (True, None)
    assert valid.claims is not None
    assert valid.claims["action_hash"] == digest
    expected = {"token": token, "expected_action_hash": digest}
    assert (await public.verify_proof(ProofCheck.from_body(expected))).valid
    other = await public.verify_proof(
        ProofCheck.from_body({**expected, "expected_agent_id": "someone-else"})
    )
    assert (other.valid, other.reason, other.claims) == (False, "agent_id mismatch", valid.claims)


async def test_a_missing_or_bad_proof_is_a_verdict_not_an_error(world: World) -> None:
    public = _public(world)
    for body in ([], {}, {"token": ""}, {"token": 5}):
        missing = await public.verify_proof(ProofCheck.from_body(body))
        assert (missing.valid, missing.reason, missing.claims) == (False, "Missing token", None)
    forged = await public.verify_proof(ProofCheck.from_body({"token": "v4.public.forged"}))
    assert (forged.valid, forged.claims) == (False, None)
    assert forged.reason


async def test_the_playground_decides_one_action_under_one_policy(world: World) -> None:
    action = world.purchase(500)
    answer = await _public(world).playground(
        PlaygroundRun.from_body({"policy_yaml": PROVEN, "action": action})
    )
    decision = answer["decision"]
    assert (decision["result"], decision["matched_rule_id"]) == ("ALLOW", "small")
    assert (decision["action_id"], decision["proof_token"]) == (action["action_id"], None)
    assert answer["debug"]["trace"][0]["rule_id"] == "small"


async def test_the_playground_reads_its_command_first(world: World) -> None:
    action = world.purchase(500)
    for body in ([], {"action": action}, {"policy_yaml": PROVEN}):
        with pytest.raises(InvalidInputError) as caught:
            PlaygroundRun.from_body(body)
        assert caught.value.code == "INVALID_REQUEST"
    with pytest.raises(InvalidInputError) as caught:
        PlaygroundRun.from_body({"policy_yaml": PROVEN, "action": {"action_type": "x"}})
    assert caught.value.code == "INVALID_ACTION_REQUEST"
    run = PlaygroundRun.from_body({"policy_yaml": "version: 1\nrules: [", "action": action})
    with pytest.raises(PolicyError):
        await _public(world).playground(run)
