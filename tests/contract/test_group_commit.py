"""``Store.submit``: units submitted together share a transaction but succeed or fail alone."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from openleash.domain.errors import OpenLeashError, StoreUnavailableError
from openleash.service.ports import NonceUse, Store, Transaction
from openleash.store.sql.sqlite import SqliteStore

from . import records as r
from .refusals import outcome


class RefusedError(Exception):
    pass


async def test_concurrent_units_all_commit(store: Store) -> None:
    async def unit(n: int) -> int:
        async def work(tx: Transaction) -> int:
            await tx.use_nonce("agent-a", f"n-{n}", 0, 10_000)
            await tx.append([r.event(n)])
            return n

        return await store.submit(work)

    results = await asyncio.gather(*(unit(n) for n in range(50)))
    assert results == list(range(50))
    async with store.read() as tx:
        _, total = await tx.page(limit=1)
    assert total == 50


async def test_a_failing_unit_leaves_no_trace_and_spares_the_others(store: Store) -> None:
    async def good(n: int) -> None:
        async def work(tx: Transaction) -> None:
            await tx.append([r.event(n)])

        await store.submit(work)

    async def bad() -> None:
        async def work(tx: Transaction) -> None:
            await tx.append([r.event(999)])
            await tx.add_owner(r.owner("half-written"))
            raise RefusedError

        await store.submit(work)

    outcomes = await asyncio.gather(good(1), bad(), good(2), return_exceptions=True)
    assert outcomes[0] is None
    assert isinstance(outcomes[1], RefusedError)
    assert outcomes[2] is None
    async with store.read() as tx:
        events, total = await tx.page(limit=10)
        assert await tx.get_owner("half-written") is None
    assert total == 2
    assert {e.event_id for _, e in events} == {r.event(1).event_id, r.event(2).event_id}


async def test_replayed_nonce_in_the_same_batch_is_refused(store: Store) -> None:
    async def use() -> str:
        async def work(tx: Transaction) -> None:
            await tx.use_nonce("agent-a", "same", 0, 10_000)

        return await outcome(store.submit(work))

    assert sorted(await asyncio.gather(*(use() for _ in range(10)))) == ["NONCE_REPLAY"] * 9 + [
        "ok"
    ]


@pytest.mark.parametrize("count", [1, 200])
async def test_results_come_back_in_any_batch_size(store: Store, count: int) -> None:
    async def unit(n: int) -> int:
        async def work(tx: Transaction) -> int:
            return n * 2

        return await store.submit(work)

    assert await asyncio.gather(*(unit(n) for n in range(count))) == [n * 2 for n in range(count)]


async def test_a_store_that_cannot_begin_fails_every_waiting_unit(store: Store) -> None:
    if not isinstance(store, SqliteStore):
        pytest.skip("SQLite-specific failure injection")

    def refuse(timeout: float) -> None:
        raise StoreUnavailableError("STORE_UNAVAILABLE", "The database is unavailable: injected")

    store._lock.acquire_async = refuse  # type: ignore[method-assign,assignment]

    async def unit() -> None:
        async def work(tx: Transaction) -> None:
            await tx.append([r.event(1)])

        await store.submit(work)

    outcomes = await asyncio.wait_for(
        asyncio.gather(*(unit() for _ in range(3)), return_exceptions=True), timeout=5
    )
    assert all(isinstance(o, OpenLeashError) and o.code == "STORE_UNAVAILABLE" for o in outcomes)


async def test_a_decision_the_database_refuses_fails_alone(store: Store) -> None:
    """A decision recorded in one statement has no savepoint: on PostgreSQL, a refusal of that
    statement aborts the batch's transaction. The unit must be answered its own error and every
    other decision of its batch still recorded (run again in a new transaction)."""
    if "Postgres" not in type(store).__name__:
        pytest.skip("PostgreSQL only: SQLite and memory keep a transaction after a refusal")
    # The owner's audit index refuses an entry past about 2.7 kB (random hex barely compresses).
    oversized = secrets.token_hex(4_000)

    async def decide(n: int, owner_id: str) -> str:
        event = r.event(n, metadata_json={"owner_id": owner_id, "agent_principal_id": "ap-1"})

        async def work(tx: Transaction) -> None:
            nonce = NonceUse("agent-a", f"nonce-{n}", now_ms=1_000, expires_ms=61_000)
            await tx.record_decision(nonce=nonce, allowed=None, held=None, events=[event])

        return await outcome(store.submit(work))

    units = [decide(n, oversized if n == 3 else "user-1") for n in range(8)]
    results = await asyncio.gather(*units)
    assert results[3] == "INVALID_REQUEST"  # a value too long to store: the sender's to fix
    assert [result for n, result in enumerate(results) if n != 3] == ["ok"] * 7
    async with store.read() as tx:
        events, total = await tx.page(limit=20)
    assert total == 7
    assert {e.event_id for _, e in events} == {r.event(n).event_id for n in range(8) if n != 3}
