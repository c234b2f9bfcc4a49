"""Owner credentials and sessions, held decisions, policy drafts and the webhook outbox: every
field kept, and each single-use step taken once."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from openleash.domain.models import (
    ApprovalRequest,
    HeldDecision,
    OwnerCredentials,
    OwnerSession,
    PolicyDraft,
    WebhookDelivery,
)
from openleash.service.ports import Store, Transaction

from . import records as r
from .refusals import refused


def credentials(**changes: object) -> OwnerCredentials:
    base = OwnerCredentials(
        user_principal_id="user-1",
        updated_at=r.T0,
        passphrase_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        totp_secret="JBSWY3DPEHPK3PXP",
        totp_enabled=True,
        totp_pending=None,
        totp_last_counter=59_000_000,
        failed_logins=2,
        locked_until_ms=1_800_000_000_000,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def draft(n: int, **changes: object) -> PolicyDraft:
    base = PolicyDraft(
        policy_draft_id=f"pd-{n}",
        owner_type="user",
        owner_id="user-1",
        agent_principal_id="ap-1",
        agent_id="agent-a",
        applies_to_agent_principal_id="ap-1",
        name=f"draft {n}",
        description="tighter\nlimits",
        policy_yaml="version: 1\ndefault: deny\nrules: []\n",
        justification="asked for",
        status="PENDING",
        created_at=r.at(n),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def delivery(n: int, **changes: object) -> WebhookDelivery:
    base = WebhookDelivery(
        delivery_id=f"wh-{n}",
        agent_principal_id="ap-1",
        event_type="approval.resolved",
        data={"approval_request_id": f"ar-{n}", "nested": {"é": [1, 2.5, None]}},
        created_at=r.at(n),
        next_attempt_ms=1_000 * n,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def test_credentials_round_trip_and_replace(store: Store) -> None:
    async with store.transaction() as tx:
        assert await tx.get_credentials("user-1") is None
        await tx.put_credentials(credentials())
        await tx.put_credentials(credentials(user_principal_id="user-2", totp_enabled=False))
    async with store.transaction() as tx:
        assert await tx.get_credentials("user-1") == credentials()
        changed = credentials(passphrase_hash=None, totp_last_counter=None, failed_logins=0)
        await tx.put_credentials(changed)
    async with store.read() as tx:
        assert await tx.get_credentials("user-1") == changed
        other = await tx.get_credentials("user-2")
    assert other is not None
    assert other.totp_enabled is False


async def test_a_totp_step_is_accepted_once(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.put_credentials(credentials(totp_last_counter=None))
    async with store.transaction() as tx:
        assert await tx.advance_totp_counter("user-1", 100)
        assert not await tx.advance_totp_counter("user-1", 100)
        assert not await tx.advance_totp_counter("user-1", 99)
        assert await tx.advance_totp_counter("user-1", 101)
        assert not await tx.advance_totp_counter("nobody", 1)


async def test_backup_codes_are_used_once_and_replaced_whole(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.replace_backup_codes("user-1", ["a", "b", "c"])
        assert await tx.count_backup_codes("user-1") == 3

    async def use(code: str) -> bool:
        async def work(tx: Transaction) -> bool:
            return await tx.use_backup_code("user-1", code, r.at(1))

        return await store.submit(work)

    assert sorted(await asyncio.gather(*(use("b") for _ in range(5)))) == [False] * 4 + [True]
    async with store.transaction() as tx:
        assert not await tx.use_backup_code("user-1", "z", r.at(2))
        assert await tx.count_backup_codes("user-1") == 2
        await tx.replace_backup_codes("user-1", ["d"])
        assert await tx.count_backup_codes("user-1") == 1
        assert not await tx.use_backup_code("user-1", "a", r.at(3))


async def test_sessions_are_revoked_once(store: Store) -> None:
    sessions = [OwnerSession(f"s-{n}", "user-1", f"csrf-{n}", r.at(n), r.at(600)) for n in range(3)]
    async with store.transaction() as tx:
        for session in sessions:
            await tx.add_session(session)
        await tx.add_session(OwnerSession("s-other", "user-2", "csrf", r.at(0), r.at(600)))
    async with store.transaction() as tx:
        assert await tx.get_session("s-0") == sessions[0]
        assert await tx.get_session("missing") is None
        assert await tx.revoke_session("s-0", r.at(10))
        assert not await tx.revoke_session("s-0", r.at(11))
        assert await tx.revoke_sessions("user-1", r.at(12)) == 2
        assert await tx.revoke_sessions("user-1", r.at(13)) == 0
    async with store.read() as tx:
        assert await tx.get_session("s-0") == replace(sessions[0], revoked_at=r.at(10))
        other = await tx.get_session("s-other")
    assert other is not None
    assert other.revoked_at is None


async def test_held_decisions_and_approval_details_round_trip(store: Store) -> None:
    held = HeldDecision(
        "dec-1", "user-1", "ap-1", "ab" * 32, "REQUIRE_STEP_UP", "rule-1", "HIGH", "big", None, r.T0
    )
    request = ApprovalRequest(
        approval_request_id="ar-1",
        owner_type="user",
        owner_id="user-1",
        agent_principal_id="ap-1",
        agent_id="agent-a",
        decision_id="dec-1",
        action={"action_type": "purchase", "payload": {"amount_minor": 5}},
        action_hash="ab" * 32,
        action_type="purchase",
        justification=None,
        status="PENDING",
        created_at=r.at(0),
        expires_at=r.at(600),
        kind="step_up",
        min_assurance_level="HIGH",
        matched_rule_id="rule-1",
        reason="big",
        explanation="over 1000",
        context={"limits": [{"spent": 2.5}]},
    )
    async with store.transaction() as tx:
        await tx.hold_decision(held)
        await tx.add_approval_request(request)
        await tx.add_approval_request(replace(request, approval_request_id="ar-2", decision_id="x"))
    async with store.transaction() as tx:
        assert await tx.get_held_decision("dec-1") == held
        assert await tx.get_held_decision("missing") is None
        assert await tx.list_approval_requests(decision_id="dec-1") == [request]
        await tx.resolve_approval_request(
            "ar-1",
            status="APPROVED",
            resolved_at=r.at(5),
            resolved_by="user-1",
            assurance_level="HIGH",
            approval_token_expires_at=r.at(65),
        )
    async with store.read() as tx:
        resolved = await tx.get_approval_request("ar-1")
    assert resolved == replace(
        request,
        status="APPROVED",
        resolved_at=r.at(5),
        resolved_by="user-1",
        assurance_level="HIGH",
        approval_token_expires_at=r.at(65),
    )


async def test_drafts_list_newest_first_and_resolve_once(store: Store) -> None:
    async with store.transaction() as tx:
        for n in range(3):
            await tx.add_draft(draft(n, agent_principal_id="ap-2" if n == 1 else "ap-1"))
    async with store.transaction() as tx:
        assert await tx.get_draft("pd-0") == draft(0)
        assert [d.policy_draft_id for d in await tx.list_drafts(owner_id="user-1")] == [
            "pd-2",
            "pd-1",
            "pd-0",
        ]
        assert [d.policy_draft_id for d in await tx.list_drafts(agent_principal_id="ap-2")] == [
            "pd-1"
        ]
        assert await tx.list_drafts(owner_id="user-1", limit=1) == [draft(2)]
        await tx.resolve_draft(
            "pd-0",
            status="APPROVED",
            resolved_at=r.at(9),
            resolved_by="user-1",
            resulting_policy_id="pol-9",
        )
        with refused("INVALID_STATUS"):
            await tx.resolve_draft(
                "pd-0", status="DENIED", resolved_at=r.at(10), resolved_by="user-1"
            )
        with refused("INVALID_STATUS"):
            await tx.resolve_draft(
                "missing", status="DENIED", resolved_at=r.at(10), resolved_by="user-1"
            )
        pending = await tx.list_drafts(status="PENDING")
    assert [d.policy_draft_id for d in pending] == ["pd-2", "pd-1"]


async def test_binding_rank_can_be_set(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.put_policy(r.policy())
        await tx.add_binding(r.binding("b-1", rank=1))
        await tx.set_binding_rank("b-1", 7)
        assert await tx.list_bindings("user", "user-1") == [r.binding("b-1", rank=7)]


async def test_webhook_deliveries_are_claimed_once_and_finished(store: Store) -> None:
    async with store.transaction() as tx:
        for n in (3, 1, 2):
            await tx.enqueue_webhook(delivery(n))
    async with store.read() as tx:
        due = await tx.due_webhooks(2_000, 10)
        assert await tx.get_webhook("wh-1") == delivery(1)
    assert [d.delivery_id for d in due] == ["wh-1", "wh-2"]

    async def claim() -> bool:
        async def work(tx: Transaction) -> bool:
            return await tx.claim_webhook("wh-1", 2_000, 32_000)

        return await store.submit(work)

    assert sorted(await asyncio.gather(*(claim() for _ in range(5)))) == [False] * 4 + [True]
    async with store.transaction() as tx:
        assert [d.delivery_id for d in await tx.due_webhooks(2_000, 10)] == ["wh-2"]
        # an attempt whose lease ran out (another process took the delivery over) records nothing
        assert not await tx.finish_webhook_attempt(
            "wh-1",
            status="DELIVERED",
            attempts=1,
            next_attempt_ms=2_000,
            last_error=None,
            last_status_code=200,
            lease_until_ms=31_999,
        )
        assert await tx.finish_webhook_attempt(
            "wh-1",
            status="FAILED",
            attempts=1,
            next_attempt_ms=60_000,
            last_error="HTTP 500",
            last_status_code=500,
            lease_until_ms=32_000,
        )
        finished = await tx.get_webhook("wh-1")
    assert finished == replace(
        delivery(1),
        status="FAILED",
        attempts=1,
        next_attempt_ms=60_000,
        last_error="HTTP 500",
        last_status_code=500,
    )
