"""Sends what the outbox holds: every server process runs one dispatcher; a delivery is claimed
(leased) by one of them per attempt, retried with backoff, and its outcome audited.

The approval token of an ``approval_request.approved`` event is derived when the event is sent
(the same token the agent's poll returns), so the outbox never holds one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from openleash.domain.models import Status, WebhookDelivery
from openleash.domain.timefmt import epoch_ms
from openleash.service.approvals import approval_token
from openleash.service.audit import record
from openleash.service.ports import AgentRepo, ApprovalRepo, AuditLog, Units, WebhookOutbox
from openleash.service.runtime import Runtime
from openleash.service.webhooks import Deliverer, Delivery, DeliveryOutcome, webhook_body

log = logging.getLogger("openleash.webhooks")

#: How long one attempt may hold a delivery before another process may try it again.
LEASE_SECONDS = 60
BATCH = 20


class DispatchTx(WebhookOutbox, AgentRepo, ApprovalRepo, AuditLog, Protocol):
    """What sending the outbox touches: the deliveries, the agents they go to, the approvals
    whose token an event carries, and the audit log of the outcomes."""


class WebhookDispatcher:
    """Claims due deliveries of the outbox, attempts them and records (and audits) how each
    went; ``runtime`` gives the keys that derive approval tokens."""

    def __init__(
        self,
        store: Units[DispatchTx],
        runtime: Runtime,
        deliverer: Deliverer,
        clock: Callable[[], datetime],
        *,
        poll_seconds: float = 1.0,
    ) -> None:
        self._runtime = runtime
        self._store = store
        self._deliverer = deliverer
        self._clock = clock
        self._poll_seconds = poll_seconds

    async def run(self) -> None:
        """Deliver until cancelled; a failure of one round is logged, never fatal."""
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook dispatch round failed")
            await asyncio.sleep(self._poll_seconds)

    async def run_once(self) -> int:
        """Attempt every delivery now due that this process could claim, at the same time (a
        slow receiver holds up only its own deliveries); how many it tried."""
        async with self._store.read() as tx:
            due = await tx.due_webhooks(epoch_ms(self._clock()), BATCH)
        claimed: list[tuple[WebhookDelivery, int]] = []
        for delivery in due:
            now_ms = epoch_ms(self._clock())
            lease = now_ms + LEASE_SECONDS * 1000
            async with self._store.transaction() as tx:
                if await tx.claim_webhook(delivery.delivery_id, now_ms, lease):
                    claimed.append((delivery, lease))
        await asyncio.gather(*(self._attempt(delivery, lease) for delivery, lease in claimed))
        return len(claimed)

    async def _attempt(self, delivery: WebhookDelivery, lease: int) -> None:
        data = dict(delivery.data)
        approved = delivery.event_type == "approval_request.approved"
        # Before the read: the store refuses a unit opened inside another (it would deadlock).
        keyring = (await self._runtime.snapshot()).keyring if approved else None
        async with self._store.read() as tx:
            agent = await tx.get_agent(delivery.agent_principal_id)
            request = (
                await tx.get_approval_request(str(data.get("approval_request_id")))
                if approved
                else None
            )
        if keyring is not None:
            token = approval_token(keyring, request) if request is not None else None
            data["approval_token"] = token.token if token else None
        if agent is None or not agent.webhook_url or agent.status != Status.ACTIVE:
            outcome = DeliveryOutcome(
                False, None, "the agent is revoked or has no webhook", 1, True
            )
        else:
            body = webhook_body(
                delivery.event_type, delivery.created_at, delivery.agent_principal_id, data
            )
            outcome = await self._deliverer.attempt(
                Delivery(
                    delivery_id=delivery.delivery_id,
                    url=agent.webhook_url,
                    secret=agent.webhook_secret,
                    auth_token=agent.webhook_auth_token,
                    event_type=delivery.event_type,
                    body=body,
                    attempts_made=delivery.attempts,
                )
            )
        await self._finish(delivery, lease, outcome, agent.webhook_url if agent else "")

    async def _finish(
        self, delivery: WebhookDelivery, lease: int, outcome: DeliveryOutcome, url: str
    ) -> None:
        now = self._clock()
        attempts = delivery.attempts + 1
        if outcome.delivered:
            status, next_ms, event = "DELIVERED", epoch_ms(now), "WEBHOOK_DELIVERED"
        elif outcome.gave_up:
            status, next_ms, event = "FAILED", epoch_ms(now), "WEBHOOK_DELIVERY_FAILED"
        else:
            delay = outcome.retry_after_s or 1.0
            status, next_ms, event = "PENDING", epoch_ms(now) + int(delay * 1000), None
        async with self._store.transaction() as tx:
            if not await tx.finish_webhook_attempt(
                delivery.delivery_id,
                status=status,
                attempts=attempts,
                next_attempt_ms=next_ms,
                last_error=outcome.error,
                last_status_code=outcome.status_code,
                lease_until_ms=lease,
            ):
                return  # the lease ran out: another process owns the delivery now
            if event is not None:
                agent = await tx.get_agent(delivery.agent_principal_id)
                await record(
                    tx,
                    now,
                    event,
                    delivery.agent_principal_id,
                    delivery_id=delivery.delivery_id,
                    webhook_url=_shown(url),
                    webhook_event=delivery.event_type,
                    agent_principal_id=delivery.agent_principal_id,
                    owner_id=agent.owner_id if agent else None,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    attempts=attempts,
                )


def _shown(url: str) -> str:
    """The receiver's address for the audit log: no credentials, query or fragment (agents
    sometimes put tokens there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
