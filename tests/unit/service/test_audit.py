"""Audit reading, use case by use case: pages and their cursor, the owner's own page, search,
export, tail and the chain verified."""

from __future__ import annotations

import pytest

from openleash.domain.errors import ForbiddenError, InvalidInputError, NotFoundError
from openleash.domain.models import Agent, Status
from openleash.domain.timefmt import iso_ms
from openleash.service.audit_query import Audit, AuditFilter, AuditQuery

from .conftest import World


async def _decide(world: World, times: int) -> None:
    for _ in range(times):
        await world.authorize(world.purchase(100))


async def test_pages_go_newest_first_through_the_cursor(world: World) -> None:
    await _decide(world, 3)
    audit = Audit(world.store)
    first = await audit.page(AuditFilter(event_type="DECISION_CREATED"), limit=2)
    assert first.total == 3
    assert [e.event_type for e in first.events] == ["DECISION_CREATED"] * 2
    assert first.next_cursor is not None
    rest = await audit.page(
        AuditFilter(event_type="DECISION_CREATED"), limit=2, cursor=first.next_cursor
    )
    assert len(rest.events) == 1
    assert rest.next_cursor is None
    assert rest.events[0].timestamp <= first.events[-1].timestamp


async def test_a_page_refuses_a_bad_limit_or_cursor(world: World) -> None:
    audit = Audit(world.store)
    with pytest.raises(InvalidInputError, match="limit must be between 1 and 500"):
        await audit.page(AuditFilter(), limit=501)
    with pytest.raises(InvalidInputError, match="cursor must be a value from next_cursor"):
        await audit.page(AuditFilter(), limit=5, cursor="²")


async def test_the_owner_sees_only_their_agents(world: World) -> None:
    await _decide(world, 1)
    audit = Audit(world.store)
    call = world.owner_call()
    own = await audit.owner_page(
        call, AuditFilter(agent_principal_id=world.agent.agent_principal_id), limit=50
    )
    assert own.total >= 1
    assert all(e.metadata_json.get("owner_id") == call.owner_id for e in own.events)
    with pytest.raises(NotFoundError):
        await audit.owner_page(call, AuditFilter(agent_principal_id="nope"), limit=50)
    stranger = Agent(
        "ap-2", "other", "user", "owner-2", "key", Status.ACTIVE, iso_ms(world.clock())
    )
    async with world.store.transaction() as tx:
        await tx.add_agent(stranger)
    with pytest.raises(ForbiddenError):
        await audit.owner_page(call, AuditFilter(agent_principal_id="ap-2"), limit=50)
    with pytest.raises(InvalidInputError, match="since must be an ISO-8601"):
        await audit.owner_page(call, AuditFilter(since="yesterday"), limit=50)


async def test_search_export_and_tail_read_the_same_records(world: World) -> None:
    await _decide(world, 2)
    audit = Audit(world.store)
    now = world.clock()
    found = await audit.search(AuditQuery(agent="shopper", result="allow"), limit=10, now=now)
    assert [e.event_type for _, e in found] == ["DECISION_CREATED"] * 2
    exported = [
        row async for row in audit.export(AuditQuery(agent="shopper", result="allow"), now=now)
    ]
    assert sorted(row.seq for row in exported) == sorted(seq for seq, _ in found)
    tailed = [row async for row in audit.tail(2)]
    assert [row.seq for row in tailed] == sorted(seq for seq, _ in found)
    with pytest.raises(InvalidInputError, match="since must be an ISO-8601"):
        await audit.search(AuditQuery(since="soon"), limit=10, now=now)
    with pytest.raises(InvalidInputError, match="must not be negative"):
        [row async for row in audit.tail(-1)]


async def test_the_chain_verifies(world: World) -> None:
    await _decide(world, 2)
    report = await Audit(world.store).verify()
    assert report.ok
    assert report.records == report.last_seq > 0
