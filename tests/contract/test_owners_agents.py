"""Owners and agents: round trips, re-enrolment, revocation, webhook uniqueness."""

from __future__ import annotations

import dataclasses

import pytest

from openleash.domain.errors import OpenLeashError
from openleash.service.ports import Store

from . import records as r


async def test_owner_round_trip(store: Store) -> None:
    first, second = r.owner("user-1"), r.owner("org-1", owner_type="org", created_at=r.at(9))
    async with store.transaction() as tx:
        await tx.add_owner(first)
        await tx.add_owner(second)
    async with store.transaction() as tx:
        assert await tx.get_owner("user-1") == first
        assert await tx.get_owner("org-1") == second
        assert await tx.get_owner("nobody") is None
        assert await tx.list_owners() == [first, second]


async def test_agent_round_trip_keeps_every_field(store: Store) -> None:
    stored = r.agent(webhook_url="https://hooks.example/a", revoked_at=None)
    async with store.transaction() as tx:
        await tx.add_agent(stored)
    async with store.transaction() as tx:
        loaded = await tx.get_agent("ap-1")
        assert loaded == stored
        assert loaded is not None
        assert (loaded.webhook_secret, loaded.webhook_auth_token) == ("secret-ap-1", "token-ap-1")
        assert await tx.find_active_agent("agent-a") == stored
        assert await tx.get_agent("missing") is None
        assert await tx.find_active_agent("missing") is None


async def test_list_agents_all_and_by_owner(store: Store) -> None:
    a1 = r.agent("ap-1", "agent-a", "user-1")
    a2 = r.agent("ap-2", "agent-b", "user-2", created_at=r.at(10))
    a3 = r.agent("ap-3", "agent-c", "user-1", created_at=r.at(20))
    async with store.transaction() as tx:
        for a in (a1, a2, a3):
            await tx.add_agent(a)
    async with store.transaction() as tx:
        assert await tx.list_agents() == [a1, a2, a3]
        assert await tx.list_agents("user-1") == [a1, a3]
        assert await tx.list_agents("nobody") == []


async def test_reenrolment_by_same_owner_revokes_the_previous_agent(store: Store) -> None:
    old = r.agent("ap-old", "agent-a", "user-1")
    new = r.agent("ap-new", "agent-a", "user-1", created_at=r.at(30), public_key_b64="pk2")
    async with store.transaction() as tx:
        await tx.add_agent(old)
    async with store.transaction() as tx:
        await tx.add_agent(new)
    async with store.transaction() as tx:
        assert await tx.find_active_agent("agent-a") == new
        revoked = await tx.get_agent("ap-old")
        assert revoked == dataclasses.replace(old, status="REVOKED", revoked_at=new.created_at)


async def test_agent_id_of_another_owner_is_taken(store: Store) -> None:
    mine = r.agent("ap-1", "agent-a", "user-1")
    async with store.transaction() as tx:
        await tx.add_agent(mine)
    with pytest.raises(OpenLeashError) as caught:
        async with store.transaction() as tx:
            await tx.add_agent(r.agent("ap-2", "agent-a", "user-2"))
    assert caught.value.code == "AGENT_ID_TAKEN"
    assert caught.value.message == 'Agent id "agent-a" is already registered to another owner'
    async with store.transaction() as tx:
        assert await tx.find_active_agent("agent-a") == mine
        assert await tx.get_agent("ap-2") is None


async def test_agent_id_is_free_again_once_revoked(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.add_agent(r.agent("ap-1", "agent-a", "user-1"))
        assert await tx.revoke_agent("ap-1", r.at(5))
        await tx.add_agent(r.agent("ap-2", "agent-a", "user-2"))
    async with store.transaction() as tx:
        found = await tx.find_active_agent("agent-a")
        assert found is not None
        assert found.agent_principal_id == "ap-2"


async def test_revoke_agent(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.add_agent(r.agent())
    async with store.transaction() as tx:
        assert await tx.revoke_agent("ap-1", r.at(7)) is True
        assert await tx.revoke_agent("ap-1", r.at(8)) is False
        assert await tx.revoke_agent("missing", r.at(8)) is False
    async with store.transaction() as tx:
        agent = await tx.get_agent("ap-1")
        assert agent is not None
        assert (agent.status, agent.revoked_at) == ("REVOKED", r.at(7))
        assert await tx.find_active_agent("agent-a") is None


async def test_webhook_url_taken(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.add_agent(r.agent("ap-1", "agent-a", webhook_url="https://hooks.example/a"))
        await tx.add_agent(r.agent("ap-2", "agent-b", webhook_url=""))
        await tx.add_agent(r.agent("ap-3", "agent-c", webhook_url="https://hooks.example/c"))
        await tx.revoke_agent("ap-3", r.at(1))
    async with store.transaction() as tx:
        assert await tx.webhook_url_taken("https://hooks.example/a") is True
        assert await tx.webhook_url_taken("https://hooks.example/b") is False
        assert await tx.webhook_url_taken("https://hooks.example/c") is True, "revoked agents count"
        assert await tx.webhook_url_taken("") is False, "no webhook is never a conflict"
