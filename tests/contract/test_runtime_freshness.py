"""The runtime's agent cache: this process's own changes are seen at once, another process's
when a request names an agent the cache does not know as active (before, for up to
``config_refresh_seconds`` an agent just enrolled got ``401 AGENT_NOT_FOUND``)."""

from __future__ import annotations

from openleash.service.ports import Store
from openleash.service.runtime import Runtime

from . import records as r
from .conftest import StoreFactory

#: Far longer than the test: only the mechanisms under test can refresh the cache.
REFRESH_SECONDS = 3600.0


async def _enrol(store: Store, apid: str, agent_id: str, status: str = "ACTIVE") -> None:
    async with store.transaction() as tx:
        await tx.add_agent(r.agent(apid, agent_id, status=status))
        await tx.bump_revision()


async def test_this_process_sees_its_own_changes_at_once(store: Store) -> None:
    runtime = Runtime(store, REFRESH_SECONDS)
    assert (await runtime.snapshot()).agent("agent-a") is None
    await _enrol(store, "ap-1", "agent-a", status="PENDING")
    pending = (await runtime.snapshot()).agent("agent-a")
    assert pending is not None
    assert pending.status == "PENDING"
    async with store.transaction() as tx:
        await tx.activate_agent("ap-1")
        await tx.bump_revision()
    active = (await runtime.snapshot()).agent("agent-a")
    assert active is not None
    assert active.status == "ACTIVE"
    async with store.transaction() as tx:
        assert await tx.revoke_agent("ap-1", r.at(9))
        await tx.bump_revision()
    revoked = (await runtime.snapshot()).agent("agent-a")
    assert revoked is not None
    assert revoked.status == "REVOKED"


async def test_a_change_without_a_revision_bump_keeps_the_cache(store: Store) -> None:
    runtime = Runtime(store, REFRESH_SECONDS)
    first = await runtime.snapshot()
    async with store.transaction() as tx:
        await tx.use_nonce("agent-a", "n-1", 0, 10_000)
    assert await runtime.snapshot() is first


async def test_another_process_s_enrolment_is_found_by_a_recheck(
    store_factory: StoreFactory,
) -> None:
    here, there = await store_factory(), await store_factory()
    runtime = Runtime(here, REFRESH_SECONDS)
    cached = await runtime.snapshot()
    await _enrol(there, "ap-1", "agent-a")
    assert (await runtime.snapshot()).agent("agent-a") is None, "cached for the refresh time"
    fresh = await runtime.recheck(cached)
    found = fresh.agent("agent-a")
    assert found is not None
    assert found.status == "ACTIVE"
    assert (await runtime.snapshot()) is fresh


async def test_a_recheck_for_a_made_up_id_does_not_reload(store: Store) -> None:
    runtime = Runtime(store, REFRESH_SECONDS)
    cached = await runtime.snapshot()
    assert await runtime.recheck(cached) is cached
    assert await runtime.recheck(cached) is cached
