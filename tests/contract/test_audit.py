"""The audit log: append, newest-first pages, cursors, filters and the total."""

from __future__ import annotations

import pytest

from openleash.domain.models import AuditEvent
from openleash.service.ports import AuditFilter, Store

from . import records as r


async def _append(store: Store, events: list[AuditEvent]) -> None:
    async with store.transaction() as tx:
        await tx.append(events)


async def _page(
    store: Store, limit: int, before: int | None = None, **filters: str | None
) -> tuple[list[tuple[int, AuditEvent]], int]:
    async with store.transaction() as tx:
        return await tx.page(
            limit=limit, before_seq=before, filters=AuditFilter(**filters) if filters else None
        )


async def test_empty_log(store: Store) -> None:
    assert await _page(store, 10) == ([], 0)
    assert await _page(store, 10, owner_id="user-1") == ([], 0)
    await _append(store, [])
    assert await _page(store, 10) == ([], 0)


async def test_events_round_trip_newest_first(store: Store) -> None:
    events = [r.event(n) for n in range(5)]
    events[2] = r.event(2, principal_id=None, action_id=None, decision_id=None, metadata_json={})
    await _append(store, events[:3])
    await _append(store, events[3:])
    items, total = await _page(store, 10)
    assert total == 5
    assert [e for _, e in items] == events[::-1]
    seqs = [s for s, _ in items]
    assert seqs == sorted(seqs, reverse=True)
    assert len(set(seqs)) == 5


async def test_cursor_walks_the_whole_log_once(store: Store) -> None:
    await _append(store, [r.event(n) for n in range(23)])
    seen: list[str] = []
    cursor = None
    while True:
        items, total = await _page(store, 5, cursor)
        assert total == 23
        if not items:
            break
        seen += [e.event_id for _, e in items]
        cursor = items[-1][0]
    assert seen == [f"ev-{n}" for n in reversed(range(23))]


async def test_limit(store: Store) -> None:
    await _append(store, [r.event(n) for n in range(3)])
    assert await _page(store, 0) == ([], 3)
    items, _ = await _page(store, 2)
    assert [e.event_id for _, e in items] == ["ev-2", "ev-1"]


async def test_filters_by_owner_and_agent_come_from_metadata(store: Store) -> None:
    await _append(
        store,
        [
            r.event(0, metadata_json={"owner_id": "user-1", "agent_principal_id": "ap-1"}),
            r.event(1, metadata_json={"owner_id": "user-2", "agent_principal_id": "ap-2"}),
            r.event(2, metadata_json={"owner_id": "user-1"}),
            r.event(3, metadata_json={"agent_principal_id": "ap-1"}),
            r.event(4, metadata_json={"owner_id": 7, "agent_principal_id": ["ap-1"]}),
        ],
    )
    items, total = await _page(store, 10, owner_id="user-1")
    assert ([e.event_id for _, e in items], total) == (["ev-2", "ev-0"], 2)
    items, total = await _page(store, 10, agent_principal_id="ap-1")
    assert ([e.event_id for _, e in items], total) == (["ev-3", "ev-0"], 2)
    items, total = await _page(store, 10, owner_id="user-1", agent_principal_id="ap-1")
    assert ([e.event_id for _, e in items], total) == (["ev-0"], 1)
    items, _ = await _page(store, 10)
    assert items[0][1].metadata_json == {"owner_id": 7, "agent_principal_id": ["ap-1"]}


async def test_filters_by_type_principal_and_time(store: Store) -> None:
    await _append(
        store,
        [
            r.event(0, event_type="AGENT_REGISTERED", principal_id="ap-1"),
            r.event(1, event_type="DECISION_CREATED", principal_id="ap-2"),
            r.event(2, event_type="DECISION_CREATED", principal_id="ap-1"),
            r.event(3, event_type="KEY_ROTATED", principal_id=None),
        ],
    )

    async def ids(**filters: str | None) -> tuple[list[str], int]:
        items, total = await _page(store, 10, None, **filters)
        return [e.event_id for _, e in items], total

    assert await ids(event_type="DECISION_CREATED") == (["ev-2", "ev-1"], 2)
    assert await ids(principal_id="ap-1") == (["ev-2", "ev-0"], 2)
    assert await ids(since=r.at(2)) == (["ev-3", "ev-2"], 2), "since is inclusive"
    assert await ids(until=r.at(2)) == (["ev-1", "ev-0"], 2), "until is exclusive"
    assert await ids(since=r.at(1), until=r.at(3), principal_id="ap-1") == (["ev-2"], 1)
    assert await ids(event_type=None, principal_id="ap-2") == (["ev-1"], 1), "None: no filter"


async def test_filtered_cursor(store: Store) -> None:
    owners = ["user-1", "user-2"]
    await _append(store, [r.event(n, metadata_json={"owner_id": owners[n % 2]}) for n in range(10)])
    items, total = await _page(store, 3, owner_id="user-1")
    assert ([e.event_id for _, e in items], total) == (["ev-8", "ev-6", "ev-4"], 5)
    items, total = await _page(store, 3, items[-1][0], owner_id="user-1")
    assert ([e.event_id for _, e in items], total) == (["ev-2", "ev-0"], 5)


async def test_unknown_filter_is_refused(store: Store) -> None:
    with pytest.raises(TypeError, match="owner"):
        await _page(store, 10, owner="user-1")


async def test_an_empty_filter_does_not_filter(store: Store) -> None:
    await _append(store, [r.event(n, metadata_json={"owner_id": "user-1"}) for n in range(2)])
    assert (await _page(store, 10, owner_id="", event_type=""))[1] == 2
