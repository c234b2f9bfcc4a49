"""The audit hash chain: one chain in seq order across transactions, stores, processes and
group-commit batches whose units roll back; signed checkpoints written as records are."""

from __future__ import annotations

import asyncio
import multiprocessing

import pytest

from openleash.crypto import GENESIS_HASH, KeyRing, record_hash, verify_checkpoint
from openleash.domain.audit import CHAINED_WIDTH, AuditRow
from openleash.domain.models import AuditEvent
from openleash.service.audit_chain import verify_chain
from openleash.service.ports import Store, Transaction
from openleash.store import open_store
from openleash.store.sql.sqlite import AuditCheckpointRule

from . import _workers
from . import records as r
from .conftest import StoreFactory


class RefusedError(Exception):
    pass


async def _rows(store: Store) -> list[AuditRow]:
    async with store.read() as tx:
        return await tx.audit_rows(after_seq=0, limit=100_000)


def _assert_linked(rows: list[AuditRow]) -> None:
    prev = GENESIS_HASH
    for expected_seq, row in enumerate(rows, start=1):
        assert row.seq == expected_seq
        assert row.prev_hash == prev
        assert row.hash == record_hash(prev, row[:CHAINED_WIDTH])
        prev = row.hash


async def _append(store: Store, *events: AuditEvent) -> None:
    async with store.transaction() as tx:
        await tx.append(list(events))


async def test_records_of_successive_transactions_form_one_chain(store: Store) -> None:
    await _append(store, r.event(0))
    await _append(store, r.event(1), r.event(2))
    await _append(store)
    await _append(store, r.event(3))

    rows = await _rows(store)

    assert [row.event_id for row in rows] == ["ev-0", "ev-1", "ev-2", "ev-3"]
    _assert_linked(rows)
    report = await verify_chain(store)
    assert report.ok, report.problem
    assert (report.records, report.head_hash) == (4, rows[-1].hash)


async def test_the_hash_covers_the_stored_columns(store: Store) -> None:
    event = r.event(
        7,
        metadata_json={
            "owner_id": "user-9",
            "agent_principal_id": "ap-9",
            "action_type": "purchase",
            "result": "DENY",
            "nested": {"é": [1, 2.5, None]},
        },
    )
    await _append(store, event)

    (row,) = await _rows(store)

    assert (row.owner_id, row.agent_principal_id, row.action_type, row.result) == (
        "user-9",
        "ap-9",
        "purchase",
        "DENY",
    )
    assert row.event() == event
    assert row.hash == record_hash(GENESIS_HASH, row[:CHAINED_WIDTH])
    for index in range(CHAINED_WIDTH):
        changed = list(row[:CHAINED_WIDTH])
        changed[index] = 999 if index == 0 else f"{changed[index]}!"
        assert record_hash(GENESIS_HASH, changed) != row.hash


async def test_two_stores_on_one_file_share_the_chain(store_factory: StoreFactory) -> None:
    first, second = await store_factory(), await store_factory()
    for n in range(6):
        await _append(first if n % 2 else second, r.event(n))

    rows = await _rows(first)

    assert [row.event_id for row in rows] == [f"ev-{n}" for n in range(6)]
    _assert_linked(rows)
    assert (await verify_chain(second)).ok


@pytest.mark.sql_only(
    "processes writing at once over one database (an in-memory store is one process's)"
)
def test_processes_writing_at_once_keep_one_chain(store_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers, nonces = 3, [f"n-{n}" for n in range(60)]
    start, out = ctx.Barrier(workers), ctx.Queue()
    procs = [
        ctx.Process(target=_workers.claim_nonces, args=(store_url, w, nonces, start, out))
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    try:
        results = [out.get(timeout=30) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
    assert all(not isinstance(result, str) for _, result in results), results

    async def check() -> None:
        store = await open_store(store_url)
        try:
            rows = await _rows(store)
            report = await verify_chain(store)
        finally:
            await store.close()
        assert len(rows) == workers * len(nonces)
        _assert_linked(rows)
        assert report.ok, report.problem

    asyncio.run(check())


async def test_a_unit_rolled_back_in_a_batch_leaves_the_chain_whole(store: Store) -> None:
    async def good(n: int) -> None:
        async def work(tx: Transaction) -> None:
            await tx.append([r.event(n)])

        await store.submit(work)

    async def bad(n: int) -> None:
        async def work(tx: Transaction) -> None:
            await tx.append([r.event(n), r.event(n + 1000)])
            raise RefusedError

        await store.submit(work)

    outcomes = await asyncio.gather(
        good(0), bad(1), good(2), bad(3), bad(4), good(5), return_exceptions=True
    )
    refused = [isinstance(o, RefusedError) for o in outcomes]
    assert refused == [False, True, False, True, True, False]
    await good(6)

    rows = await _rows(store)

    assert [row.event_id for row in rows] == ["ev-0", "ev-2", "ev-5", "ev-6"]
    _assert_linked(rows)
    assert (await verify_chain(store)).ok


async def test_checkpoints_every_n_records_and_at_key_events(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory(audit_checkpoints=AuditCheckpointRule(every_records=5))
    key = r.signing_key("k1")
    async with store.transaction() as tx:
        await tx.add_key(key, make_active=True)
        await tx.append([r.event(0, event_type="KEY_CREATED", timestamp=r.at(0))])
    for n in range(1, 12):
        await _append(store, r.event(n, timestamp=r.at(1)))
    async with store.read() as tx:
        checkpoints = await tx.list_checkpoints()
    rows = await _rows(store)
    report = await verify_chain(store)

    assert [c.seq for c in checkpoints] == [1, 5, 10]
    ring = KeyRing([key])
    for checkpoint in checkpoints:
        assert checkpoint.kid == "k1"
        assert checkpoint.head_hash == rows[checkpoint.seq - 1].hash
        assert checkpoint.created_at == rows[checkpoint.seq - 1].timestamp
        public_key = ring.verification_key("k1")
        assert public_key is not None
        verify_checkpoint(
            public_key,
            seq=checkpoint.seq,
            head_hash=checkpoint.head_hash,
            kid=checkpoint.kid,
            created_at=checkpoint.created_at,
            signature_b64=checkpoint.signature,
        )
    assert report.ok, report.problem
    assert (report.checkpoints_verified, report.last_checkpoint_seq) == (3, 10)


async def test_a_checkpoint_is_due_once_the_interval_passes(store_factory: StoreFactory) -> None:
    rule = AuditCheckpointRule(every_records=1000, every_seconds=60)
    store = await store_factory(audit_checkpoints=rule)
    async with store.transaction() as tx:
        await tx.add_key(r.signing_key("k1"), make_active=True)
    for n, second in enumerate([0, 30, 59, 61, 90, 121, 200]):
        await _append(store, r.event(n, timestamp=r.at(second)))
    async with store.read() as tx:
        checkpoints = await tx.list_checkpoints()

    assert [c.seq for c in checkpoints] == [1, 4, 6, 7]


async def test_no_key_no_checkpoint_and_the_chain_still_holds(store: Store) -> None:
    await _append(store, *(r.event(n) for n in range(3)))

    async with store.read() as tx:
        assert await tx.list_checkpoints() == []
    report = await verify_chain(store)

    assert report.ok
    assert report.checkpoints_verified == 0
    assert report.notes  # the records are not pinned by any signature yet


async def test_a_checkpoint_rolled_back_with_its_unit_is_gone(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory(audit_checkpoints=AuditCheckpointRule(every_records=3))
    async with store.transaction() as tx:
        await tx.add_key(r.signing_key("k1"), make_active=True)
    await _append(store, r.event(0, timestamp=r.at(0)), r.event(1, timestamp=r.at(0)))

    async def crosses_a_checkpoint_then_fails(tx: Transaction) -> None:
        await tx.append([r.event(100, timestamp=r.at(0)), r.event(101, timestamp=r.at(0))])
        raise RefusedError

    async def appends(tx: Transaction) -> None:
        await tx.append([r.event(2, timestamp=r.at(0))])

    outcomes = await asyncio.gather(
        store.submit(crosses_a_checkpoint_then_fails),
        store.submit(appends),
        return_exceptions=True,
    )
    async with store.read() as tx:
        checkpoints = await tx.list_checkpoints()
    rows = await _rows(store)
    report = await verify_chain(store)

    assert isinstance(outcomes[0], RefusedError)
    assert [row.event_id for row in rows] == ["ev-0", "ev-1", "ev-2"]
    assert [(c.seq, c.head_hash) for c in checkpoints] == [(1, rows[0].hash), (3, rows[2].hash)]
    assert report.ok, report.problem
