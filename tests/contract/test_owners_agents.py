"""Owners and agents: round trips, re-enrolment, revocation, webhook uniqueness."""

from __future__ import annotations

import pytest

from openleash.domain.errors import OpenLeashError
from openleash.service.ports import Store

from . import records as r
from .refusals import refused


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


async def test_a_live_agent_id_is_never_replaced_even_by_its_owner(store: Store) -> None:
    old = r.agent("ap-old", "agent-a", "user-1")
    async with store.transaction() as tx:
        await tx.add_agent(old)
    for owner in ("user-1", "user-2"):
        with pytest.raises(OpenLeashError) as caught:
            async with store.transaction() as tx:
                await tx.add_agent(r.agent("ap-new", "agent-a", owner, public_key_b64="pk2"))
        assert caught.value.code == "AGENT_ID_TAKEN"
    async with store.transaction() as tx:
        assert await tx.find_active_agent("agent-a") == old
        assert await tx.get_agent("ap-new") is None


async def test_a_pending_agent_id_is_taken_too(store: Store) -> None:
    pending = r.agent("ap-1", "agent-a", "user-1", status="PENDING")
    async with store.transaction() as tx:
        await tx.add_agent(pending)
    with pytest.raises(OpenLeashError) as caught:
        async with store.transaction() as tx:
            await tx.add_agent(r.agent("ap-2", "agent-a", "user-2"))
    assert caught.value.code == "AGENT_ID_TAKEN"
    async with store.transaction() as tx:
        assert await tx.get_agent("ap-1") == pending
        assert await tx.find_active_agent("agent-a") is None
        assert await tx.find_agents_by_id("agent-a") == [pending]


async def test_activate_only_a_pending_agent(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.add_agent(r.agent("ap-1", "agent-a", status="PENDING"))
        await tx.add_agent(r.agent("ap-2", "agent-b"))
    async with store.transaction() as tx:
        await tx.activate_agent("ap-1")
        with refused("INVALID_STATUS"):  # already active
            await tx.activate_agent("ap-1")
        with refused("INVALID_STATUS"):
            await tx.activate_agent("ap-2")
        with refused("INVALID_STATUS"):
            await tx.activate_agent("missing")
        assert await tx.revoke_agent("ap-2", r.at(3))
        with refused("INVALID_STATUS"):  # revoked stays revoked
            await tx.activate_agent("ap-2")
    async with store.transaction() as tx:
        found = await tx.find_active_agent("agent-a")
        assert found is not None
        assert found.agent_principal_id == "ap-1"


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


async def test_webhook_url_taken_among_the_owners_active_agents_only(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.add_agent(r.agent("ap-1", "agent-a", webhook_url="https://hooks.example/a"))
        await tx.add_agent(r.agent("ap-2", "agent-b", webhook_url=""))
        await tx.add_agent(r.agent("ap-3", "agent-c", webhook_url="https://hooks.example/c"))
        await tx.revoke_agent("ap-3", r.at(1))
        await tx.add_agent(
            r.agent("ap-4", "agent-d", webhook_url="https://hooks.example/d", status="PENDING")
        )
    async with store.transaction() as tx:
        assert await tx.webhook_url_taken("https://hooks.example/a", "user-1") is True
        assert await tx.webhook_url_taken("https://hooks.example/a", "user-2") is False, (
            "another owner's URL blocks nobody"
        )
        assert await tx.webhook_url_taken("https://hooks.example/b", "user-1") is False
        assert await tx.webhook_url_taken("https://hooks.example/c", "user-1") is False, (
            "a revoked agent's URL is free"
        )
        assert await tx.webhook_url_taken("https://hooks.example/d", "user-1") is False, (
            "a pending agent (anyone may create one) blocks nothing"
        )
        assert await tx.webhook_url_taken("", "user-1") is False


async def test_expired_challenges_are_purged_a_few_at_a_time(store: Store) -> None:
    async with store.transaction() as tx:
        for n in range(20):
            await tx.add_challenge(r.challenge(f"old-{n:02d}", expires_at=r.at(n)))
        await tx.add_challenge(r.challenge("live", expires_at=r.at(500)))
    async with store.transaction() as tx:
        first = await tx.purge_challenges(r.at(100))
        second = await tx.purge_challenges(r.at(100))
        third = await tx.purge_challenges(r.at(100))
    assert 0 < first < 20
    assert first + second + third == 20
    async with store.transaction() as tx:
        assert await tx.take_challenge("old-19") is None
        assert await tx.take_challenge("live") is not None
