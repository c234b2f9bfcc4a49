"""Building ActionRequests for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def action(
    agent_id: str, owner_id: str, action_type: str = "purchase", **payload: Any
) -> dict[str, Any]:
    return {
        "action_id": str(uuid.uuid4()),
        "action_type": action_type,
        "requested_at": now_iso(),
        "principal": {"agent_id": agent_id},
        "subject": {"principal_id": owner_id},
        "payload": payload,
    }
