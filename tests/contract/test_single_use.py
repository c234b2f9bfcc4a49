"""Nonces, registration challenges and invites: each can be used once."""

from __future__ import annotations

import dataclasses

import pytest

from openleash.service.ports import Store

from . import records as r
from .refusals import refused

NOW = 1_800_000_000_000
TTL = 600_000


async def test_nonce_replay_is_refused_until_it_expires(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.use_nonce("agent-a", "n1", NOW, NOW + TTL)
        with refused("NONCE_REPLAY"):
            await tx.use_nonce("agent-a", "n1", NOW + 1, NOW + 1 + TTL)
    async with store.transaction() as tx:
        with refused("NONCE_REPLAY"):
            await tx.use_nonce("agent-a", "n1", NOW + TTL - 1, NOW + 2 * TTL)
        await tx.use_nonce("agent-b", "n1", NOW, NOW + TTL)  # nonces are per agent
        await tx.use_nonce("agent-a", "n2", NOW, NOW + TTL)
    async with store.transaction() as tx:
        later = NOW + TTL
        await tx.use_nonce("agent-a", "n1", later, later + TTL)  # expired: reusable
        with refused("NONCE_REPLAY"):
            await tx.use_nonce("agent-a", "n1", later, later + TTL)


async def test_purge_removes_only_expired_nonces(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.use_nonce("agent-a", "old-1", NOW, NOW + 10)
        await tx.use_nonce("agent-a", "old-2", NOW, NOW + 20)
        await tx.use_nonce("agent-a", "live", NOW, NOW + TTL)
    async with store.transaction() as tx:
        assert await tx.purge_nonces(NOW + 20) == 2
        assert await tx.purge_nonces(NOW + 20) == 0
        with refused("NONCE_REPLAY"):
            await tx.use_nonce("agent-a", "live", NOW + 21, NOW + TTL)
        await tx.use_nonce("agent-a", "old-1", NOW + 21, NOW + TTL)


async def test_challenge_is_taken_once(store: Store) -> None:
    stored = r.challenge(agent_attributes={"a": [1, {"b": None}]})
    bare = r.challenge("ch-2", owner_type=None, owner_id=None, agent_attributes={})
    async with store.transaction() as tx:
        await tx.add_challenge(stored)
        await tx.add_challenge(bare)
    async with store.transaction() as tx:
        assert await tx.take_challenge("ch-1") == stored
        assert await tx.take_challenge("ch-1") is None
        assert await tx.take_challenge("missing") is None
    async with store.transaction() as tx:
        assert await tx.take_challenge("ch-1") is None
        assert await tx.take_challenge("ch-2") == bare


async def test_challenge_taken_in_a_failed_transaction_is_still_there(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.add_challenge(r.challenge())

    async def take_then_fail() -> None:
        async with store.transaction() as tx:
            assert await tx.take_challenge("ch-1") is not None
            raise LookupError

    with pytest.raises(LookupError):
        await take_then_fail()
    async with store.transaction() as tx:
        assert await tx.take_challenge("ch-1") == r.challenge()


async def test_invite_is_used_once(store: Store) -> None:
    agent_invite = r.invite("inv-1")
    setup_invite = r.invite("inv-2", kind="setup", owner_id="user-2")
    async with store.transaction() as tx:
        await tx.add_invite(agent_invite)
        await tx.add_invite(setup_invite)
    async with store.transaction() as tx:
        assert await tx.get_invite("inv-1") == agent_invite
        assert await tx.get_invite("inv-2") == setup_invite
        assert await tx.get_invite("missing") is None
        await tx.use_invite("inv-1", r.at(30))
        with refused("INVITE_USED"):
            await tx.use_invite("inv-1", r.at(31))
        with refused("INVITE_NOT_FOUND"):
            await tx.use_invite("missing", r.at(31))
    async with store.transaction() as tx:
        assert await tx.get_invite("inv-1") == dataclasses.replace(agent_invite, used_at=r.at(30))
        with refused("INVITE_USED"):
            await tx.use_invite("inv-1", r.at(32))
        assert await tx.get_invite("inv-2") == setup_invite
