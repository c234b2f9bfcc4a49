"""What an owner's live view (Server-Sent Events) shows: the owner's audit records as they are
appended, by any process, read from the log itself after the last one sent (inv §8.8)."""

from __future__ import annotations

from typing import Any

from openleash.domain.audit import AuditRow
from openleash.domain.models import ApprovalStatus
from openleash.service.ports import Store

#: Audit events that also announce a change in the approvals inbox.
_INBOX = {
    "APPROVAL_REQUEST_CREATED": ("approval_created", None),
    "APPROVAL_REQUEST_APPROVED": ("approval_resolved", ApprovalStatus.APPROVED),
    "APPROVAL_REQUEST_DENIED": ("approval_resolved", ApprovalStatus.DENIED),
}


async def head(store: Store) -> int:
    """Where a new stream starts: after every record appended so far."""
    async with store.read() as tx:
        return await tx.last_seq()


async def since(
    store: Store, owner_id: str, after_seq: int, limit: int = 200
) -> tuple[list[dict[str, Any]], int]:
    """The messages for the owner's records after ``after_seq``, and the seq to continue from."""
    async with store.read() as tx:
        rows = await tx.audit_rows(after_seq=after_seq, limit=limit, filters={"owner_id": owner_id})
    messages: list[dict[str, Any]] = []
    for row in rows:
        messages.extend(_messages(row))
    return messages, rows[-1].seq if rows else after_seq


def _messages(row: AuditRow) -> list[dict[str, Any]]:
    found = [
        {
            "type": "audit",
            "seq": row.seq,
            "agent_principal_id": row.agent_principal_id,
            "event_type": row.event_type,
            "result": row.result,
        }
    ]
    inbox = _INBOX.get(row.event_type)
    if inbox is not None:
        kind, status = inbox
        message: dict[str, Any] = {"type": kind, "agent_principal_id": row.agent_principal_id}
        metadata = row.event().metadata_json
        message["approval_request_id"] = metadata.get("approval_request_id")
        if status is not None:
            message["status"] = status
        found.append(message)
    return found
