"""Units of work: all or nothing, revisions, and coroutines sharing one store."""

from __future__ import annotations

import asyncio

import pytest

from openleash.service.ports import Store

from . import records as r
from .conftest import StoreFactory
from .refusals import outcome


class BoomError(Exception):
    pass


async def test_exception_rolls_back_everything(store: Store) -> None:
    before = await store.revision()

    async def write_everything_then_fail() -> None:
        async with store.transaction() as tx:
            await tx.add_owner(r.owner())
            await tx.add_agent(r.agent())
            await tx.put_policy(r.policy())
            await tx.add_binding(r.binding("b-1"))
            await tx.add_key(r.signing_key("k1"), make_active=True)
            await tx.use_nonce("agent-a", "n1", 0, 1000)
            await tx.add_challenge(r.challenge())
            await tx.add_invite(r.invite())
            await tx.append([r.event(1)])
            await tx.bump_revision()
            raise BoomError

    with pytest.raises(BoomError):
        await write_everything_then_fail()
    assert await store.revision() == before
    async with store.transaction() as tx:
        assert await tx.list_owners() == []
        assert await tx.list_agents() == []
        assert await tx.list_policies() == []
        assert await tx.list_bindings("user", "user-1") == []
        assert await tx.list_keys() == []
        await tx.use_nonce("agent-a", "n1", 0, 1000)  # not recorded: usable
        assert await tx.take_challenge("ch-1") is None
        assert await tx.get_invite("inv-1") is None
        assert await tx.page(limit=10) == ([], 0)


async def test_cancellation_rolls_back(store: Store) -> None:
    started = asyncio.Event()

    async def stuck() -> None:
        async with store.transaction() as tx:
            await tx.add_owner(r.owner())
            started.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(stuck())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with store.transaction() as tx:
        assert await tx.list_owners() == []


async def test_normal_exit_commits(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.add_owner(r.owner())
    async with store.transaction() as tx:
        assert await tx.get_owner("user-1") == r.owner()


async def test_revision_grows_with_each_committed_bump(store: Store) -> None:
    start = await store.revision()
    async with store.transaction() as tx:
        await tx.add_owner(r.owner())
    assert await store.revision() == start, "only bump_revision moves it"
    async with store.transaction() as tx:
        await tx.bump_revision()
    first = await store.revision()
    assert first > start
    async with store.transaction() as tx:
        await tx.bump_revision()
    assert await store.revision() > first


async def test_revision_is_seen_by_other_openers(store_factory: StoreFactory) -> None:
    writer, reader = await store_factory(), await store_factory()
    seen = await reader.revision()
    async with writer.transaction() as tx:
        await tx.bump_revision()
        await tx.add_owner(r.owner())
        assert await reader.revision() == seen, "uncommitted work is invisible"
    assert await reader.revision() > seen
    async with reader.transaction() as tx:
        assert await tx.get_owner("user-1") == r.owner()


async def test_concurrent_coroutines_do_not_interleave(store: Store) -> None:
    async def claim(worker: int) -> list[bool]:
        won = []
        for n in range(20):
            async with store.transaction() as tx:
                await asyncio.sleep(0)
                ok = await outcome(tx.use_nonce("agent-a", f"n{n}", 0, 1000)) == "ok"
                await asyncio.sleep(0)
                if ok:
                    await tx.append([r.event(n, event_id=f"w{worker}-{n}")])
            won.append(ok)
        return won

    results = await asyncio.gather(*(claim(w) for w in range(4)))
    assert [sum(column) for column in zip(*results, strict=True)] == [1] * 20
    async with store.transaction() as tx:
        _, total = await tx.page(limit=1)
    assert total == 20


async def test_read_unit_sees_committed_state_and_refuses_writes(
    store_factory: StoreFactory,
) -> None:
    writer, reader = await store_factory(), await store_factory()
    async with writer.transaction() as tx:
        await tx.add_owner(r.owner())
    async with reader.read() as tx:
        assert [o.user_principal_id for o in await tx.list_owners()] == [
            r.owner().user_principal_id
        ]
    with pytest.raises(Exception, match=r"(?i)readonly|read-only|unavailable"):
        async with reader.read() as tx:
            await tx.add_owner(r.owner("someone-else"))


async def test_read_unit_does_not_hold_up_writers(store_factory: StoreFactory) -> None:
    a, b = await store_factory(), await store_factory()
    async with a.read() as tx:
        await tx.list_owners()
        # another process writes while this snapshot is open
        async with b.transaction() as wtx:
            await wtx.add_owner(r.owner())
    async with a.read() as tx:
        assert len(await tx.list_owners()) == 1
