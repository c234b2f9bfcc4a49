"""What an owner's live view (Server-Sent Events) shows: the owner's audit records as they are
appended, by any process, read from the log itself after the last one sent (inv §8.8)."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from openleash.domain.audit import AuditRow
from openleash.domain.models import ApprovalStatus
from openleash.service.ports import AuditFilter, AuditLog, Units


class AuditMessage(TypedDict):
    """An audit record of the owner was appended."""

    type: Literal["audit"]
    seq: int
    agent_principal_id: str | None
    event_type: str
    result: str | None


InboxChange = Literal["approval_created", "approval_resolved"]


class InboxMessage(TypedDict):
    """The approvals inbox changed: a request was filed, or answered (``status``)."""

    type: InboxChange
    agent_principal_id: str | None
    approval_request_id: str | None
    status: NotRequired[ApprovalStatus]


#: Audit events that also announce a change in the approvals inbox.
_INBOX: dict[
    str, tuple[Literal["approval_created", "approval_resolved"], ApprovalStatus | None]
] = {
    "APPROVAL_REQUEST_CREATED": ("approval_created", None),
    "APPROVAL_REQUEST_APPROVED": ("approval_resolved", ApprovalStatus.APPROVED),
    "APPROVAL_REQUEST_DENIED": ("approval_resolved", ApprovalStatus.DENIED),
}


async def head(store: Units[AuditLog]) -> int:
    """Where a new stream starts: after every record appended so far."""
    async with store.read() as tx:
        return await tx.last_seq()


async def since(
    store: Units[AuditLog], owner_id: str, after_seq: int, limit: int = 200
) -> tuple[list[AuditMessage | InboxMessage], int]:
    """The messages for the owner's records after ``after_seq``, and the seq to continue from."""
    mine = AuditFilter(owner_id=owner_id)
    async with store.read() as tx:
        rows = await tx.audit_rows(after_seq=after_seq, limit=limit, filters=mine)
    messages: list[AuditMessage | InboxMessage] = []
    for row in rows:
        messages.extend(_messages(row))
    return messages, rows[-1].seq if rows else after_seq


def _messages(row: AuditRow) -> list[AuditMessage | InboxMessage]:
    found: list[AuditMessage | InboxMessage] = [
        AuditMessage(
            type="audit",
            seq=row.seq,
            agent_principal_id=row.agent_principal_id,
            event_type=row.event_type,
            result=row.result,
        )
    ]
    inbox = _INBOX.get(row.event_type)
    if inbox is not None:
        kind, status = inbox
        request_id = row.event().metadata_json.get("approval_request_id")
        message = InboxMessage(
            type=kind,
            agent_principal_id=row.agent_principal_id,
            approval_request_id=request_id if isinstance(request_id, str) else None,
        )
        if status is not None:
            message["status"] = status
        found.append(message)
    return found
