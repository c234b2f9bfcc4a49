"""Policies, bindings and server keys."""

from __future__ import annotations

import dataclasses

import pytest

from openleash.domain.errors import OpenLeashError
from openleash.service.ports import Store

from . import records as r


async def test_policy_round_trip_and_replace(store: Store) -> None:
    first = r.policy("pol-1", applies_to_agent_principal_id="ap-1")
    async with store.transaction() as tx:
        await tx.put_policy(first)
    async with store.transaction() as tx:
        assert await tx.get_policy("pol-1") == first
        assert await tx.get_policy("missing") is None
    changed = dataclasses.replace(first, policy_yaml="version: 1\n", name=None, updated_at=r.at(9))
    async with store.transaction() as tx:
        await tx.put_policy(changed)
    async with store.transaction() as tx:
        assert await tx.get_policy("pol-1") == changed
        assert await tx.list_policies() == [changed]


async def test_replacing_a_policy_keeps_its_bindings(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.put_policy(r.policy("pol-1"))
        await tx.add_binding(r.binding("b-1", "pol-1"))
        await tx.put_policy(r.policy("pol-1", name="renamed"))
    async with store.transaction() as tx:
        assert [b.binding_id for b in await tx.list_bindings("user", "user-1")] == ["b-1"]


async def test_list_policies_all_and_by_owner(store: Store) -> None:
    p1 = r.policy("pol-1", "user-1")
    p2 = r.policy("pol-2", "user-2", created_at=r.at(10))
    p3 = r.policy("pol-3", "user-1", created_at=r.at(20))
    async with store.transaction() as tx:
        for p in (p3, p1, p2):
            await tx.put_policy(p)
    async with store.transaction() as tx:
        assert await tx.list_policies() == [p1, p2, p3]
        assert await tx.list_policies("user-1") == [p1, p3]


async def test_bindings_keep_insertion_order_and_every_field(store: Store) -> None:
    b1 = r.binding("b-1", "pol-1", rank=200, applies_to_agent_principal_id="ap-1")
    b2 = r.binding("b-2", "pol-2", applies_to_group_id="grp-1")
    b3 = r.binding("b-3", "pol-1", rank=100)
    other_owner = r.binding("b-4", "pol-1", owner_id="user-2")
    org = r.binding("b-5", "pol-1", owner_type="org")
    async with store.transaction() as tx:
        await tx.put_policy(r.policy("pol-1"))
        await tx.put_policy(r.policy("pol-2"))
        for b in (b1, b2, b3, other_owner, org):
            await tx.add_binding(b)
    async with store.transaction() as tx:
        assert await tx.list_bindings("user", "user-1") == [b1, b2, b3]
        assert await tx.list_bindings("user", "user-2") == [other_owner]
        assert await tx.list_bindings("org", "user-1") == [org]
        assert await tx.list_bindings("user", "nobody") == []


async def test_binding_to_an_unknown_policy_is_refused(store: Store) -> None:
    with pytest.raises(OpenLeashError) as caught:
        async with store.transaction() as tx:
            await tx.add_binding(r.binding("b-1", "missing"))
    assert caught.value.code == "POLICY_NOT_FOUND"


async def test_delete_policy_deletes_its_bindings(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.put_policy(r.policy("pol-1"))
        await tx.put_policy(r.policy("pol-2"))
        await tx.add_binding(r.binding("b-1", "pol-1"))
        await tx.add_binding(r.binding("b-2", "pol-1", owner_id="user-2"))
        await tx.add_binding(r.binding("b-3", "pol-2"))
    async with store.transaction() as tx:
        assert await tx.delete_policy("pol-1") is True
        assert await tx.delete_policy("pol-1") is False
        assert await tx.delete_policy("missing") is False
    async with store.transaction() as tx:
        assert await tx.get_policy("pol-1") is None
        assert [b.binding_id for b in await tx.list_bindings("user", "user-1")] == ["b-3"]
        assert await tx.list_bindings("user", "user-2") == []


async def test_delete_bindings_of_a_policy(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.put_policy(r.policy("pol-1"))
        await tx.add_binding(r.binding("b-1", "pol-1"))
        await tx.add_binding(r.binding("b-2", "pol-1"))
        await tx.add_binding(r.binding("b-3", "pol-1", owner_id="user-2"))
    async with store.transaction() as tx:
        assert await tx.delete_bindings("pol-1", owner_id="user-1") == 2
        assert await tx.delete_bindings("pol-1", owner_id="user-1") == 0
        assert await tx.delete_bindings("pol-1") == 1
        assert await tx.get_policy("pol-1") is not None, "unbinding keeps the policy"


async def test_first_key_is_active_and_rotation_moves_the_flag(store: Store) -> None:
    async with store.transaction() as tx:
        assert await tx.list_keys() == []
        await tx.add_key(r.key("k1"), make_active=False)
    async with store.transaction() as tx:
        assert [(k.kid, k.active) for k in await tx.list_keys()] == [("k1", True)]
        await tx.add_key(r.key("k2"), make_active=False)
        await tx.add_key(r.key("k3"), make_active=True)
    async with store.transaction() as tx:
        keys = await tx.list_keys()
    assert [(k.kid, k.active) for k in keys] == [("k1", False), ("k2", False), ("k3", True)]
    assert keys[2] == r.key("k3", active=True)
    assert keys[2].private_key_b64 == "priv-k3"


async def test_revoke_key(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.add_key(r.key("k1"), make_active=True)
        await tx.add_key(r.key("k2"), make_active=True)
    async with store.transaction() as tx:
        assert await tx.revoke_key("k1", r.at(5)) is True
        assert await tx.revoke_key("k1", r.at(6)) is False
        assert await tx.revoke_key("missing", r.at(6)) is False
    async with store.transaction() as tx:
        keys = {k.kid: k for k in await tx.list_keys()}
    assert keys["k1"].revoked_at == r.at(5)
    assert keys["k2"].revoked_at is None
    assert keys["k2"].active
