"""Policies, use case by use case: the operator's upsert, list, read and delete; the owner's
create, update, re-bind, reorder and delete; the operator's sole-owner default."""

from __future__ import annotations

from dataclasses import replace

import pytest

from openleash.domain.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    OpenLeashError,
    PolicyError,
)
from openleash.domain.models import Owner
from openleash.domain.timefmt import iso_ms
from openleash.service.operator import Operator
from openleash.service.owner_policies import (
    KEEP,
    OwnerPolicies,
    OwnerPolicyCreate,
    OwnerPolicyOrder,
    OwnerPolicyUpdate,
)
from openleash.service.policies import Policies, PolicyUpsert

from .conftest import World

DENY_ALL = "version: 1\ndefault: deny\nrules: []\n"


def _policies(world: World) -> Policies:
    return Policies(world.store, world.options)


def _owned(world: World) -> OwnerPolicies:
    return OwnerPolicies(world.store, world.options)


async def _another_owner(world: World) -> Owner:
    other = Owner("owner-2", "Bo", "ACTIVE", iso_ms(world.clock()))
    async with world.store.transaction() as tx:
        await tx.add_owner(other)
    return other


# -- the operator -------------------------------------------------------------------------------


async def test_an_upsert_creates_then_updates_in_place(world: World) -> None:
    policies = _policies(world)
    owner_id = world.owner.user_principal_id
    created = await policies.upsert(
        PolicyUpsert(DENY_ALL, owner_id=owner_id, applies_to_agent="shopper", name="strict")
    )
    assert created.owner_id == owner_id
    assert created.applies_to_agent_principal_id == world.agent.agent_principal_id
    world.clock.advance(5)
    updated = await policies.upsert(
        PolicyUpsert(DENY_ALL.replace("deny", "allow"), policy_id=created.policy_id)
    )
    assert (updated.policy_id, updated.name) == (created.policy_id, "strict")
    assert updated.updated_at > created.updated_at
    assert await policies.get(created.policy_id) == updated
    listed = await policies.list_for(owner_id)
    assert updated in listed
    assert len(listed) == 2
    assert (await world.audit_types())[-2:] == ["POLICY_UPSERTED", "POLICY_UPDATED"]


async def test_an_upsert_refuses_what_cannot_be_stored(world: World) -> None:
    policies = _policies(world)
    with pytest.raises(PolicyError):
        await policies.upsert(PolicyUpsert("rules: 7", owner_id=world.owner.user_principal_id))
    with pytest.raises(InvalidInputError, match="An owner is required"):
        await policies.upsert(PolicyUpsert(DENY_ALL))
    with pytest.raises(NotFoundError) as missing:
        await policies.upsert(PolicyUpsert(DENY_ALL, owner_id="nobody"))
    assert missing.value.code == "USER_NOT_FOUND"
    other = await _another_owner(world)
    with pytest.raises(InvalidInputError, match="not an agent of this owner"):
        await policies.upsert(
            PolicyUpsert(DENY_ALL, owner_id=other.user_principal_id, applies_to_agent="shopper")
        )
    with pytest.raises(InvalidInputError, match="mode must be one of enforce, observe"):
        PolicyUpsert(DENY_ALL, mode="sometimes")


async def test_a_deleted_policy_is_gone(world: World) -> None:
    policies = _policies(world)
    (policy,) = await policies.list_for()
    assert await policies.delete(policy.policy_id) == policy
    assert await policies.list_for() == []
    for missing in (policies.delete(policy.policy_id), policies.get(policy.policy_id)):
        with pytest.raises(NotFoundError) as refused:
            await missing
        assert refused.value.code == "POLICY_NOT_FOUND"


async def test_the_operator_defaults_to_the_sole_owner(world: World) -> None:
    operator = Operator(world.store, _policies(world), world.options)
    stored = await operator.upsert_policy(PolicyUpsert(DENY_ALL))
    assert stored.owner_id == world.owner.user_principal_id
    await _another_owner(world)
    with pytest.raises(InvalidInputError) as ambiguous:
        await operator.upsert_policy(PolicyUpsert(DENY_ALL))
    assert ambiguous.value.details is not None
    assert len(ambiguous.value.details["owners"]) == 2
    # An update keeps its owner: no default needed.
    kept = await operator.upsert_policy(PolicyUpsert(DENY_ALL, policy_id=stored.policy_id))
    assert kept.owner_id == world.owner.user_principal_id


# -- the owner ----------------------------------------------------------------------------------


async def test_an_owner_creates_policies_last_in_their_tier(world: World) -> None:
    owned = _owned(world)
    call = world.owner_call()
    first = await owned.create(call, OwnerPolicyCreate.from_body({"policy_yaml": DENY_ALL}))
    second = await owned.create(
        call,
        OwnerPolicyCreate.from_body({"policy_yaml": DENY_ALL, "name": "  ", "mode": "observe"}),
    )
    assert second.name is None, "a blank name is no name"
    wide = [p for p in await owned.list_for(call) if p.tier == "owner_wide"]
    assert [p.policy.policy_id for p in wide][-2:] == [first.policy_id, second.policy_id]
    assert wide[-1].rank == wide[-2].rank + 100  # type: ignore[operator]
    assert (wide[-1].mode, wide[-2].mode) == ("observe", "enforce")


async def test_create_refuses_bad_bodies_and_foreign_agents(world: World) -> None:
    with pytest.raises(InvalidInputError) as no_yaml:
        OwnerPolicyCreate.from_body({"name": "x"})
    assert no_yaml.value.code == "INVALID_POLICY"
    with pytest.raises(InvalidInputError) as bad_mode:
        OwnerPolicyCreate.from_body({"policy_yaml": DENY_ALL, "mode": "loud"})
    assert bad_mode.value.code == "VALIDATION_ERROR"
    other = await _another_owner(world)
    with pytest.raises(InvalidInputError) as foreign:
        await _owned(world).create(
            world.owner_call(other),
            OwnerPolicyCreate(DENY_ALL, target=world.agent.agent_principal_id),
        )
    assert foreign.value.code == "INVALID_AGENT"


async def test_an_update_renames_and_rebinds_keeping_what_it_does_not_name(world: World) -> None:
    owned, call = _owned(world), world.owner_call()
    (policy,) = await owned.list_for(call)
    renamed = await owned.update(
        call, policy.policy.policy_id, OwnerPolicyUpdate.from_body({"name": "shop"})
    )
    assert renamed.name == "shop"
    assert renamed.policy_yaml == policy.policy.policy_yaml
    target = world.agent.agent_principal_id
    await owned.update(call, policy.policy.policy_id, OwnerPolicyUpdate(target=target))
    rebound = await owned.get(call, policy.policy.policy_id)
    assert (rebound.tier, rebound.applies_to_agent_principal_id) == ("agent", target)
    assert rebound.policy.name == "shop"
    await owned.update(call, policy.policy.policy_id, OwnerPolicyUpdate(target=None))
    assert (await owned.get(call, policy.policy.policy_id)).tier == "owner_wide"
    assert OwnerPolicyUpdate.from_body({}).name is KEEP


async def test_an_update_refuses_bad_yaml_and_other_owners_policies(world: World) -> None:
    owned, call = _owned(world), world.owner_call()
    (policy,) = await owned.list_for(call)
    with pytest.raises(InvalidInputError) as empty:
        OwnerPolicyUpdate.from_body({"policy_yaml": "  "})
    assert empty.value.code == "VALIDATION_ERROR"
    with pytest.raises(PolicyError):
        await owned.update(call, policy.policy.policy_id, OwnerPolicyUpdate("rules: 7"))
    other = world.owner_call(await _another_owner(world))
    with pytest.raises(NotFoundError):
        await owned.update(other, policy.policy.policy_id, OwnerPolicyUpdate(name="mine"))
    with pytest.raises(NotFoundError):
        await owned.get(other, policy.policy.policy_id)


async def test_reorder_sets_ranks_and_needs_the_whole_tier(world: World) -> None:
    owned, call = _owned(world), world.owner_call()
    (first,) = await owned.list_for(call)
    second = await owned.create(call, OwnerPolicyCreate(DENY_ALL))
    order = (second.policy_id, first.policy.policy_id)
    assert await owned.reorder(call, OwnerPolicyOrder("owner_wide", order)) == order
    assert [p.policy.policy_id for p in await owned.list_for(call)] == list(order)
    with pytest.raises(InvalidInputError, match="Expected 2 policy IDs"):
        await owned.reorder(call, OwnerPolicyOrder("owner_wide", order[:1]))
    with pytest.raises(InvalidInputError, match="duplicates"):
        OwnerPolicyOrder.from_body({"tier": "agent", "ordered_policy_ids": ["a", "a"]})
    assert (await world.audit_types())[-1] == "POLICIES_REORDERED"


async def test_a_change_needs_the_second_factor_when_required(world: World) -> None:
    owned = OwnerPolicies(world.store, replace(world.options, require_totp=True))
    call = world.owner_call()
    (policy,) = await _owned(world).list_for(call)
    with pytest.raises(ForbiddenError) as refused:
        await owned.delete(call, policy.policy.policy_id)
    assert refused.value.code == "TOTP_SETUP_REQUIRED"
    deleted = await _owned(world).delete(call, policy.policy.policy_id)
    assert deleted == policy.policy
    with pytest.raises(OpenLeashError) as gone:
        await _owned(world).delete(call, policy.policy.policy_id)
    assert gone.value.code == "NOT_FOUND"
