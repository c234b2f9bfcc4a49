"""The JSON bodies of the audit routes (admin and owner), built from the use case's results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from openleash.domain.models import AuditEvent
from openleash.service.audit_query import AuditPage


class AuditEventJson(TypedDict):
    """``AuditEvent`` of the document."""

    event_id: str
    timestamp: str
    event_type: str
    principal_id: str | None
    action_id: str | None
    decision_id: str | None
    metadata_json: Mapping[str, object]


class AuditPageJson(TypedDict):
    """``AuditPage`` of the document."""

    items: list[AuditEventJson]
    total: int
    next_cursor: str | None


def audit_event(event: AuditEvent) -> AuditEventJson:
    return {
        "event_id": event.event_id,
        "timestamp": event.timestamp,
        "event_type": event.event_type,
        "principal_id": event.principal_id,
        "action_id": event.action_id,
        "decision_id": event.decision_id,
        "metadata_json": event.metadata_json,
    }


def audit_page(page: AuditPage) -> AuditPageJson:
    """``{items, total, next_cursor}``, the events newest first."""
    return {
        "items": [audit_event(event) for event in page.events],
        "total": page.total,
        "next_cursor": page.next_cursor,
    }
