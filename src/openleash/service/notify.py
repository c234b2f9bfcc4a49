"""Events for an agent's webhook, put in the outbox by the transaction that caused them.

Sending happens later (:mod:`openleash.service.webhook_dispatch`), so a slow or dead receiver
never holds up a decision or an approval, and a delivery survives a crash of the process."""

from __future__ import annotations

from datetime import datetime

from openleash.domain.ids import new_id
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import Agent, WebhookDelivery
from openleash.domain.timefmt import epoch_ms, iso_ms
from openleash.service.ports import WebhookOutbox


async def notify_agent(
    tx: WebhookOutbox, agent: Agent | None, event_type: str, data: JsonObject, now: datetime
) -> str | None:
    """Queue ``event_type`` for ``agent``'s webhook; None when the agent registered none."""
    if agent is None or not agent.webhook_url:
        return None
    delivery = WebhookDelivery(
        delivery_id=new_id(),
        agent_principal_id=agent.agent_principal_id,
        event_type=event_type,
        data=data,
        created_at=iso_ms(now),
        next_attempt_ms=epoch_ms(now),
    )
    await tx.enqueue_webhook(delivery)
    return delivery.delivery_id
