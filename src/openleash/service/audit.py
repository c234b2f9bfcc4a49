"""Audit records of changes, built in one place so every use case writes the same shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openleash.domain.ids import new_id
from openleash.domain.models import AuditEvent
from openleash.domain.timefmt import iso_ms
from openleash.service.ports import AuditLog


def change_event(
    now: datetime, event_type: str, principal_id: str | None, **metadata: Any
) -> AuditEvent:
    return AuditEvent(
        event_id=new_id(),
        timestamp=iso_ms(now),
        event_type=event_type,
        principal_id=principal_id,
        action_id=None,
        decision_id=None,
        metadata_json=metadata,
    )


async def record(
    log: AuditLog, now: datetime, event_type: str, principal_id: str | None, **metadata: Any
) -> None:
    await log.append([change_event(now, event_type, principal_id, **metadata)])
