"""Recording a decided action at once: nonce, allowed action, held decision, audit records."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from openleash.domain.errors import AuthenticationError
from openleash.domain.models import HeldDecision, UsageFilter
from openleash.service.ports import NonceUse, Store, Transaction
from tests.contract.records import event
from tests.contract.test_ledger import allowed

NONCE = NonceUse("agent-a", "nonce-1", now_ms=1_000, expires_ms=61_000)


def held(decision_id: str) -> HeldDecision:
    return HeldDecision(
        decision_id, "owner-1", "ap-1", "hash", "REQUIRE_APPROVAL", "ask", None, "why", None, "t"
    )


async def _state(store: Store) -> dict[str, Any]:
    async with store.read() as tx:
        events, _ = await tx.page(limit=100)
        usage = await tx.usage(UsageFilter(owner_id="owner-1", since_ms=0))
        hold = await tx.get_held_decision("d-held")
    return {"events": [e.event_id for _, e in events], "usage": usage, "held": hold}


async def test_everything_is_recorded_and_chained(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.record_decision(
            nonce=NONCE, allowed=allowed(1, amount=250), held=None, events=[event(1)]
        )
        await tx.record_decision(
            nonce=NonceUse("agent-a", "nonce-2", 1_000, 61_000),
            allowed=None,
            held=held("d-held"),
            events=[event(2), event(3)],
        )
    state = await _state(store)
    assert state["events"] == ["ev-3", "ev-2", "ev-1"]
    assert state["usage"] == (250, 1)
    assert state["held"] == held("d-held")
    async with store.read() as tx:
        chained = await tx.audit_rows(after_seq=0, limit=10)
    assert [row.prev_hash for row in chained[1:]] == [row.hash for row in chained[:-1]]


async def test_a_used_nonce_raises_and_the_unit_records_nothing(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.use_nonce(NONCE.agent_id, NONCE.nonce, NONCE.now_ms, NONCE.expires_ms)

    async def replay(tx: Transaction) -> None:
        await tx.record_decision(
            nonce=NONCE, allowed=allowed(9), held=held("d-held"), events=[event(9)]
        )

    async def fresh(tx: Transaction) -> str:
        nonce = NonceUse("agent-a", "nonce-fresh", 1_000, 61_000)
        await tx.record_decision(
            nonce=nonce, allowed=allowed(10, amount=5), held=None, events=[event(10)]
        )
        return "recorded"

    with pytest.raises(AuthenticationError) as refused:
        await store.submit(replay)
    assert refused.value.code == "NONCE_REPLAY"
    assert refused.value.message == "Nonce has already been used"
    # the chain goes on from where it was: the refused unit left no record and no gap
    assert await store.submit(fresh) == "recorded"
    state = await _state(store)
    assert state == {"events": ["ev-10"], "usage": (5, 1), "held": None}
    async with store.read() as tx:
        [row] = await tx.audit_rows(after_seq=0, limit=10)
    assert row.seq == 1


async def test_a_replay_in_a_batch_undoes_only_its_own_unit(store: Store) -> None:
    """Units submitted together share a transaction: the one whose nonce is used is refused
    alone, before and after units of the batch commit."""
    async with store.transaction() as tx:
        await tx.use_nonce(NONCE.agent_id, NONCE.nonce, NONCE.now_ms, NONCE.expires_ms)

    def unit(n: int, nonce: NonceUse) -> Callable[[Transaction], Awaitable[int]]:
        async def work(tx: Transaction) -> int:
            await tx.record_decision(nonce=nonce, allowed=allowed(n), held=None, events=[event(n)])
            return n

        return work

    fresh = [NonceUse("agent-a", f"batch-{n}", 1_000, 61_000) for n in (1, 3)]
    outcomes = await asyncio.gather(
        store.submit(unit(1, fresh[0])),
        store.submit(unit(2, NONCE)),
        store.submit(unit(3, fresh[1])),
        return_exceptions=True,
    )
    assert outcomes[0] == 1
    assert outcomes[2] == 3
    assert isinstance(outcomes[1], AuthenticationError)
    assert outcomes[1].code == "NONCE_REPLAY"
    state = await _state(store)
    assert state["events"] == ["ev-3", "ev-1"]
    assert state["usage"] == (200, 2)
