"""Approval requests: stored, listed, resolved once, consumed once."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from openleash.domain.models import ApprovalRequest
from openleash.service.ports import Store, Transaction

from .refusals import outcome, refused


def request(n: int = 1, **changes: object) -> ApprovalRequest:
    base = ApprovalRequest(
        approval_request_id=f"ar-{n}",
        owner_type="user",
        owner_id="owner-1",
        agent_principal_id="ap-1",
        agent_id="agent-1",
        decision_id=f"d-{n}",
        action={"action_type": "purchase", "payload": {"amount_minor": 500_000}},
        action_hash="ab" * 32,
        action_type="purchase",
        justification="the laptop broke",
        status="PENDING",
        created_at=f"2026-11-28T10:00:0{n}.000Z",
        expires_at="2026-11-29T10:00:00.000Z",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def add(store: Store, *requests: ApprovalRequest) -> None:
    async with store.transaction() as tx:
        for r in requests:
            await tx.add_approval_request(r)


async def test_round_trip_and_listing(store: Store) -> None:
    await add(store, request(1), request(2, agent_principal_id="ap-2"), request(3, status="DENIED"))
    async with store.read() as tx:
        assert await tx.get_approval_request("ar-1") == request(1)
        assert await tx.get_approval_request("nope") is None
        pending = await tx.list_approval_requests(owner_id="owner-1", status="PENDING")
        by_agent = await tx.list_approval_requests(agent_principal_id="ap-2")
    assert [r.approval_request_id for r in pending] == ["ar-2", "ar-1"]  # newest first
    assert [r.approval_request_id for r in by_agent] == ["ar-2"]


async def test_resolution_happens_once_and_not_after_expiry(store: Store) -> None:
    await add(store, request(1), request(2))
    async with store.transaction() as tx:
        await tx.resolve_approval_request(
            "ar-1", status="APPROVED", resolved_at="2026-11-28T11:00:00.000Z", resolved_by="o"
        )
        with refused("INVALID_STATUS"):
            await tx.resolve_approval_request(
                "ar-1", status="DENIED", resolved_at="2026-11-28T11:00:01.000Z", resolved_by="o"
            )
        with refused("REQUEST_EXPIRED"):
            await tx.resolve_approval_request(
                "ar-2", status="APPROVED", resolved_at="2026-11-29T10:00:00.000Z", resolved_by="o"
            )
        with refused("INVALID_STATUS"):
            await tx.resolve_approval_request(
                "nope", status="APPROVED", resolved_at="2026-11-28T11:00:00.000Z", resolved_by="o"
            )
        resolved = await tx.get_approval_request("ar-1")
    assert resolved is not None
    assert (resolved.status, resolved.resolved_by) == ("APPROVED", "o")


async def test_an_approval_is_consumed_exactly_once_under_a_race(store: Store) -> None:
    await add(store, request(1), request(2))
    async with store.transaction() as tx:
        await tx.resolve_approval_request(
            "ar-1", status="APPROVED", resolved_at="2026-11-28T11:00:00.000Z", resolved_by="o"
        )

    async def consume() -> str:
        async def work(tx: Transaction) -> None:
            await tx.consume_approval("ar-1", "2026-11-28T11:05:00.000Z")

        return await outcome(store.submit(work))

    results = await asyncio.gather(*(consume() for _ in range(20)))
    assert sorted(results) == ["APPROVAL_TOKEN_CONSUMED"] * 19 + ["ok"]
    async with store.transaction() as tx:
        with refused("APPROVAL_TOKEN_CONSUMED"):  # still pending
            await tx.consume_approval("ar-2", "2026-11-28T11:05:00.000Z")
