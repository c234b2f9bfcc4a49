"""Audit records of changes, built in one place so every use case writes the same shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openleash.domain.errors import InvalidInputError
from openleash.domain.ids import new_id
from openleash.domain.models import AuditEvent
from openleash.service.ports import AuditLog, Store
from openleash.service.timefmt import iso


def change_event(
    now: datetime, event_type: str, principal_id: str | None, **metadata: Any
) -> AuditEvent:
    return AuditEvent(
        event_id=new_id(),
        timestamp=iso(now),
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


async def read_page(
    store: Store, *, limit: int, cursor: str | None, filters: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A page of audit events, newest first, in the wire shape ``{items, total, next_cursor}``."""
    if not 1 <= limit <= 500:
        raise InvalidInputError("INVALID_REQUEST", "limit must be between 1 and 500")
    before = _cursor(cursor)
    async with store.read() as tx:
        rows, total = await tx.page(limit=limit, before_seq=before, filters=filters)
    next_cursor = str(rows[-1][0]) if len(rows) == limit else None
    return {
        "items": [event.to_wire() for _, event in rows],
        "total": total,
        "next_cursor": next_cursor,
    }


def _cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    # ASCII digits only ("²" is a digit to str.isdigit) and within a 64-bit integer.
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise InvalidInputError("INVALID_REQUEST", "cursor must be a value from next_cursor")
    return int(cursor)
