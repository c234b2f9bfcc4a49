"""The JSON bodies of the audit routes (admin and owner), built from the use case's results."""

from __future__ import annotations

from typing import Any

from openleash.service.audit_query import AuditPage


def audit_page(page: AuditPage) -> dict[str, Any]:
    """``{items, total, next_cursor}``, the events newest first."""
    return {
        "items": [event.to_wire() for event in page.events],
        "total": page.total,
        "next_cursor": page.next_cursor,
    }
