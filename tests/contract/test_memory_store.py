"""What is particular to the in-memory store: opening it, sharing a database, copies, refused
writes, the writers' turn, and records equal to those SQLite writes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from openleash.domain.errors import OpenLeashError
from openleash.service.audit_chain import verify_chain
from openleash.service.ports import Store, Transaction
from openleash.store import is_memory_url, open_store, store_path
from openleash.store.chain import AuditCheckpointRule
from openleash.store.memory import MemoryDatabase, MemoryStore, ReadOnlyError, UniqueViolationError
from openleash.store.sql.sqlite import SqliteStore

from . import records as r
from .test_approvals import request as approval
from .test_ledger import allowed
from .test_owner_access_and_outbox import delivery

#: The bound of the stores here, and the slack allowed on top of it (a slow, shared machine).
TIMEOUT = 0.3
SLACK = 1.0


async def test_memory_url_opens_a_new_empty_store_each_time() -> None:
    first, second = await open_store("memory:"), await open_store(" MEMORY: ")
    try:
        assert isinstance(first, MemoryStore)
        assert isinstance(second, MemoryStore)
        async with first.transaction() as tx:
            await tx.add_owner(r.owner())
        async with second.read() as tx:
            assert await tx.list_owners() == [], "each memory: store is its own"
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("name", ["memory:", "Memory:"])
def test_memory_names_no_file(name: str) -> None:
    assert is_memory_url(name)
    with pytest.raises(ValueError, match="in-memory store, which keeps nothing"):
        store_path(name)


@pytest.mark.parametrize("name", ["memory://x", "memory:x", ":memory:", "data/memory:"])
def test_only_memory_colon_names_the_memory_store(name: str) -> None:
    assert not is_memory_url(name)


async def test_stores_over_one_database_share_it_and_close_alone() -> None:
    database = MemoryDatabase()
    a, b = MemoryStore(database), MemoryStore(database)
    async with a.transaction() as tx:
        await tx.add_owner(r.owner())
        await tx.bump_revision()
    assert await b.revision() == 1
    assert (a.local_revision(), b.local_revision()) == (1, 0)
    await a.close()
    with pytest.raises(RuntimeError, match="closed"):
        async with a.read():
            pass
    async with b.read() as tx:
        assert await tx.list_owners() == [r.owner()]


async def test_a_taken_key_is_refused_and_nothing_of_the_write_is_left() -> None:
    store = MemoryStore()
    async with store.transaction() as tx:
        await tx.add_owner(r.owner())
        await tx.add_key(r.key("k1"), make_active=True)
        await tx.add_approval_request(approval(1))
        await tx.replace_backup_codes("user-1", ["a"])
    for write in (
        lambda tx: tx.add_owner(r.owner(display_name="another")),
        lambda tx: tx.add_key(r.key("k1"), make_active=True),
        lambda tx: tx.replace_backup_codes("user-1", ["b", "b"]),
        lambda tx: tx.add_approval_request(approval(1, approval_request_id="ar-other")),
    ):
        async with store.transaction() as tx:
            with pytest.raises(UniqueViolationError, match=r"stored already|twice"):
                await write(tx)
            # Nothing of the refused write is left: the key stays active, the codes as they were.
            assert [(k.kid, k.active) for k in await tx.list_keys()] == [("k1", True)]
            assert await tx.list_owners() == [r.owner()]
            assert await tx.count_backup_codes("user-1") == 1
            assert [a.approval_request_id for a in await tx.list_approval_requests()] == ["ar-1"]


async def test_a_read_unit_refuses_every_write_even_one_that_changes_nothing() -> None:
    store = MemoryStore()
    writes = [
        lambda tx: tx.revoke_session("missing", r.at(1)),
        lambda tx: tx.use_invite("missing", r.at(1)),
        lambda tx: tx.purge_nonces(0),
        lambda tx: tx.bump_revision(),
        lambda tx: tx.append([r.event(1)]),
        lambda tx: tx.record_allowed(allowed(1)),
    ]
    for write in writes:
        with pytest.raises(ReadOnlyError, match="read-only"):
            async with store.read() as tx:
                await write(tx)
    async with store.read() as tx:
        await tx.append([])  # nothing to write: no write (as on SQL)
        assert await tx.page(limit=10) == ([], 0)
    assert await store.revision() == 0


async def test_records_are_copies_the_caller_cannot_change() -> None:
    store = MemoryStore()
    agent = r.agent()
    job = delivery(1)
    async with store.transaction() as tx:
        await tx.add_agent(agent)
        await tx.enqueue_webhook(job)
        await tx.add_approval_request(approval(1))
    agent.attributes["team"] = "changed after storing"
    job.data["nested"]["é"].append("changed")
    async with store.read() as tx:
        stored = await tx.get_agent("ap-1")
        assert stored is not None
        stored.attributes["nested"]["list"].clear()
        stored_approval = await tx.get_approval_request("ar-1")
        assert stored_approval is not None
        stored_approval.action["payload"].clear()
    async with store.read() as tx:
        assert await tx.get_agent("ap-1") == r.agent()
        assert await tx.get_webhook("wh-1") == delivery(1)
        assert await tx.get_approval_request("ar-1") == approval(1)


async def test_a_transaction_cannot_be_used_after_it_ends() -> None:
    store = MemoryStore()
    async with store.transaction() as tx:
        pass
    with pytest.raises(RuntimeError, match="has ended"):
        await tx.add_owner(r.owner())
    async with store.read() as tx:
        pass
    with pytest.raises(RuntimeError, match="has ended"):
        await tx.list_owners()


async def test_expired_nonces_go_when_a_transaction_first_uses_one() -> None:
    store = MemoryStore()
    async with store.transaction() as tx:
        for n in range(50):
            await tx.use_nonce("agent-a", f"old-{n}", 0, 100)
    async with store.transaction() as tx:
        await tx.use_nonce("agent-a", "new", 100, 1_000)
        await tx.use_nonce("agent-a", "old-1", 100, 1_000)  # expired: usable again
    assert set(store.database.version.nonces) == {("agent-a", "new"), ("agent-a", "old-1")}
    async with store.transaction() as tx:
        assert await tx.purge_nonces(1_000) == 2


async def test_a_writer_holding_its_turn_times_out_the_others_and_reads_go_on() -> None:
    store = MemoryStore(timeout=TIMEOUT)
    held, release = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with store.transaction() as tx:
            await tx.add_owner(r.owner("slow"))
            held.set()
            await release.wait()

    async def add(tx: Transaction) -> None:
        await tx.add_owner(r.owner("refused"))

    task = asyncio.create_task(holder())
    await held.wait()
    loop = asyncio.get_running_loop()
    for attempt in (store.submit(add), _write(store)):
        started = loop.time()
        with pytest.raises(OpenLeashError) as caught:
            await asyncio.wait_for(attempt, TIMEOUT + SLACK + 5)
        assert caught.value.code == "STORE_UNAVAILABLE"
        assert loop.time() - started < TIMEOUT + SLACK
    async with store.read() as tx:
        assert await tx.list_owners() == [], "the writer's work is not visible yet"
    assert await store.readiness() == "unavailable"
    release.set()
    await task
    assert await store.readiness() == "ok"
    async with store.read() as tx:
        assert [o.user_principal_id for o in await tx.list_owners()] == ["slow"]


async def _write(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.add_owner(r.owner("refused"))


async def test_the_records_and_checkpoints_are_those_sqlite_writes(tmp_path: Path) -> None:
    key = r.signing_key("k1")
    events = [
        r.event(0, event_type="KEY_CREATED"),
        *(r.event(n, timestamp=r.at(n * 7)) for n in range(1, 9)),
        r.event(9, metadata_json={"result": "DENY", "big": 2**60, "nested": {"é": ["\u2028"]}}),
    ]
    rule = AuditCheckpointRule(every_records=4, every_seconds=30)
    stores: list[Store] = [
        SqliteStore.open(tmp_path / "openleash.db", audit_checkpoints=rule),
        MemoryStore(audit_checkpoints=rule),
    ]
    written = []
    try:
        for store in stores:
            async with store.transaction() as tx:
                await tx.add_key(key, make_active=True)
                await tx.append(events[:1])
            for n in range(1, len(events), 3):
                async with store.transaction() as tx:
                    await tx.append(events[n : n + 3])
            async with store.read() as tx:
                written.append(
                    (await tx.audit_rows(after_seq=0, limit=100), await tx.list_checkpoints())
                )
            assert (await verify_chain(store)).ok
    finally:
        for store in stores:
            await store.close()
    (lite_rows, lite_checkpoints), (memory_rows, memory_checkpoints) = written
    assert memory_rows == lite_rows
    assert memory_checkpoints == lite_checkpoints
    assert len(memory_checkpoints) >= 3


async def test_bindings_keep_their_order_through_an_undone_unit() -> None:
    store = MemoryStore()
    async with store.transaction() as tx:
        await tx.put_policy(r.policy())
        for n in range(3):
            await tx.add_binding(r.binding(f"b-{n}"))

    async def unbind_then_fail(tx: Transaction) -> None:
        await tx.delete_bindings("pol-1")
        raise LookupError

    with pytest.raises(LookupError):
        await store.submit(unbind_then_fail)
    async with store.read() as tx:
        assert [b.binding_id for b in await tx.list_bindings("user", "user-1")] == [
            "b-0",
            "b-1",
            "b-2",
        ]
