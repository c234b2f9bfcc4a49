"""Recording a decided action at once: nonce, allowed action, held decision, audit records."""

from __future__ import annotations

from typing import Any

import pytest

from openleash.domain.errors import AuthenticationError, OpenLeashError
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
        assert await tx.record_decision(
            nonce=NONCE, allowed=allowed(1, amount=250), held=None, events=[event(1)]
        )
        assert await tx.record_decision(
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


async def test_a_used_nonce_records_nothing_once_the_unit_is_abandoned(store: Store) -> None:
    async with store.transaction() as tx:
        assert await tx.use_nonce(NONCE.agent_id, NONCE.nonce, NONCE.now_ms, NONCE.expires_ms)

    async def replay(tx: Transaction) -> None:
        if not await tx.record_decision(
            nonce=NONCE, allowed=allowed(9), held=held("d-held"), events=[event(9)]
        ):
            raise AuthenticationError("NONCE_REPLAY", "Nonce has already been used")

    async def fresh(tx: Transaction) -> bool:
        nonce = NonceUse("agent-a", "nonce-fresh", 1_000, 61_000)
        return await tx.record_decision(
            nonce=nonce, allowed=allowed(10, amount=5), held=None, events=[event(10)]
        )

    with pytest.raises(OpenLeashError) as refused:
        await store.submit(replay)
    assert refused.value.code == "NONCE_REPLAY"
    # the chain goes on from where it was: the abandoned unit left no record and no gap
    assert await store.submit(fresh) is True
    state = await _state(store)
    assert state == {"events": ["ev-10"], "usage": (5, 1), "held": None}
    async with store.read() as tx:
        [row] = await tx.audit_rows(after_seq=0, limit=10)
    assert row.seq == 1
