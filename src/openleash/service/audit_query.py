"""Reading the audit log: search, tail (and follow) and export, with the filters people use."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from openleash.domain.errors import InvalidInputError
from openleash.service.ports import Store, Transaction
from openleash.service.timefmt import iso, parse_timestamp

#: Records read per query when exporting or following.
BATCH = 1000

_RELATIVE = re.compile(r"^([0-9]{1,6})([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """What to look for; every field is optional.

    ``agent`` is an agent principal id or an agent id (``agent-1``); ``since`` and ``until``
    are ISO-8601 times (a date alone is midnight UTC) or a span back from now (``30m``, ``7d``).
    """

    agent: str | None = None
    owner: str | None = None
    event_type: str | None = None
    action_type: str | None = None
    result: str | None = None
    since: str | None = None
    until: str | None = None


async def search(
    store: Store, query: AuditQuery, *, limit: int, now: datetime
) -> list[dict[str, Any]]:
    """Matching records, newest first, each with its ``seq``."""
    if not 1 <= limit <= 100_000:
        raise InvalidInputError("INVALID_REQUEST", "limit must be between 1 and 100000")
    async with store.read() as tx:
        filters = await _filters(tx, query, now)
        found, _ = await tx.page(limit=limit, filters=filters)
    return [{"seq": seq, **event.to_wire()} for seq, event in found]


async def export(
    store: Store, query: AuditQuery, *, now: datetime
) -> AsyncIterator[dict[str, Any]]:
    """Every matching record, oldest first, with its hashes (one JSON object per record).

    Read in batches, each in its own read transaction; the records that exist when the export
    starts are all included."""
    async with store.read() as tx:
        filters = await _filters(tx, query, now)
        end = await tx.last_seq()
    after = 0
    while after < end:
        async with store.read() as tx:
            rows = await tx.audit_rows(after_seq=after, limit=BATCH, filters=filters)
        for row in rows:
            if row.seq > end:
                return
            yield row.to_wire()
        if len(rows) < BATCH:
            return
        after = rows[-1].seq


async def tail(
    store: Store, count: int, *, follow: bool = False, poll_seconds: float = 1.0
) -> AsyncIterator[dict[str, Any]]:
    """The newest ``count`` records, oldest first; with ``follow``, then every new record as it
    is committed, until the caller stops iterating."""
    if count < 0:
        raise InvalidInputError("INVALID_REQUEST", "the number of records must not be negative")
    async with store.read() as tx:
        end = await tx.last_seq()
        rows = await tx.audit_rows(after_seq=max(end - count, 0), limit=count)
    for row in rows:
        yield row.to_wire()
    after = end
    while follow:
        async with store.read() as tx:
            rows = await tx.audit_rows(after_seq=after, limit=BATCH)
        for row in rows:
            yield row.to_wire()
        if rows:
            after = rows[-1].seq
        if len(rows) < BATCH:
            await asyncio.sleep(poll_seconds)


async def _filters(tx: Transaction, query: AuditQuery, now: datetime) -> dict[str, Any]:
    filters: dict[str, Any] = {
        "owner_id": query.owner or None,
        "event_type": query.event_type or None,
        "action_type": query.action_type or None,
        "result": query.result.upper() if query.result else None,
        "since": _moment(query.since, now, "since"),
        "until": _moment(query.until, now, "until"),
    }
    if query.agent:
        filters["agent_principal_id"] = await _agent_principal(tx, query.agent)
    return {k: v for k, v in filters.items() if v is not None}


async def _agent_principal(tx: Transaction, agent: str) -> str:
    if await tx.get_agent(agent) is not None:
        return agent
    active = await tx.find_active_agent(agent)
    if active is not None:
        return active.agent_principal_id
    # A revoked agent id: its newest enrolment.
    known = [a for a in await tx.list_agents() if a.agent_id == agent]
    return max(known, key=lambda a: a.created_at).agent_principal_id if known else agent


def _moment(text: str | None, now: datetime, name: str) -> str | None:
    """A filter time in the stored form (ISO, milliseconds, ``Z``: they compare as text)."""
    if not text:
        return None
    relative = _RELATIVE.match(text)
    if relative is not None:
        span = timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
        return iso(now - span)
    if _DATE.match(text):
        text += "T00:00:00Z"
    moment = parse_timestamp(text)
    if moment is None:
        raise InvalidInputError(
            "INVALID_REQUEST",
            f"{name} must be an ISO-8601 time with a zone (2026-01-31T09:00:00Z), a date, "
            f"or a span back from now such as 30m, 12h or 7d; got {text!r}",
        )
    return iso(moment.astimezone(UTC))
