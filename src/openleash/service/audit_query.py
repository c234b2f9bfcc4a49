"""Reading the audit log: pages, search, tail (and follow) and export, with the filters people
use, and verification of its chain."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from openleash.domain.audit import AuditRow
from openleash.domain.errors import ForbiddenError, InvalidInputError, NotFoundError
from openleash.domain.models import AuditEvent
from openleash.domain.timefmt import iso_ms, parse_timestamp
from openleash.service.audit_chain import ChainReport, verify_chain
from openleash.service.owner_auth import OwnerCall
from openleash.service.ports import AgentRepo, AuditLog, KeyRepo, Units
from openleash.service.ports import AuditFilter as AuditFilter

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


@dataclass(frozen=True, slots=True)
class AuditPage:
    """A page of events, newest first; ``next_cursor`` reads the page after it (None: last)."""

    events: list[AuditEvent]
    total: int
    next_cursor: str | None


class AuditTx(AuditLog, AgentRepo, KeyRepo, Protocol):
    """The store roles reading the audit log uses."""


class Audit:
    """Reading the audit log: pages (the API), search, export, tail (the command line) and
    verification of its chain. Records are written by :func:`openleash.service.audit.record`
    inside the use case that changes something."""

    def __init__(self, store: Units[AuditTx]) -> None:
        self._store = store

    async def page(self, where: AuditFilter, *, limit: int, cursor: str | None = None) -> AuditPage:
        """A page of events, newest first; ``INVALID_REQUEST`` for a limit outside 1..500 or a
        cursor not from ``next_cursor``."""
        if not 1 <= limit <= 500:
            raise InvalidInputError("INVALID_REQUEST", "limit must be between 1 and 500")
        before = _cursor(cursor)
        async with self._store.read() as tx:
            rows, total = await tx.page(limit=limit, before_seq=before, filters=where)
        next_cursor = str(rows[-1][0]) if len(rows) == limit else None
        return AuditPage([event for _, event in rows], total, next_cursor)

    async def owner_page(
        self, call: OwnerCall, where: AuditFilter, *, limit: int, cursor: str | None = None
    ) -> AuditPage:
        """The owner's own events (``agent_principal_id``, ``since`` and ``event_type`` filter;
        the other fields are ignored); an agent filter must name one of the owner's agents."""
        agent_principal_id = where.agent_principal_id
        if agent_principal_id is not None:
            async with self._store.read() as tx:
                agent = await tx.get_agent(agent_principal_id)
            if agent is None:
                raise NotFoundError("NOT_FOUND", f"Agent {agent_principal_id} not found")
            if agent.owner_id != call.owner_id:
                raise ForbiddenError("FORBIDDEN", "That agent is not yours")
        if where.since is not None and parse_timestamp(where.since) is None:
            raise InvalidInputError(
                "INVALID_REQUEST", "since must be an ISO-8601 timestamp with a zone"
            )
        own = AuditFilter(
            owner_id=call.owner_id,
            agent_principal_id=agent_principal_id,
            since=where.since,
            event_type=where.event_type,
        )
        return await self.page(own, limit=limit, cursor=cursor)

    async def search(
        self, query: AuditQuery, *, limit: int, now: datetime
    ) -> list[tuple[int, AuditEvent]]:
        """Matching records, newest first, each with its ``seq``."""
        if not 1 <= limit <= 100_000:
            raise InvalidInputError("INVALID_REQUEST", "limit must be between 1 and 100000")
        async with self._store.read() as tx:
            filters = await _filters(tx, query, now)
            found, _ = await tx.page(limit=limit, filters=filters)
        return found

    async def export(self, query: AuditQuery, *, now: datetime) -> AsyncIterator[AuditRow]:
        """Every matching record, oldest first, with its hashes.

        Read in batches, each in its own read transaction; the records that exist when the
        export starts are all included."""
        async with self._store.read() as tx:
            filters = await _filters(tx, query, now)
            end = await tx.last_seq()
        after = 0
        while after < end:
            async with self._store.read() as tx:
                rows = await tx.audit_rows(after_seq=after, limit=BATCH, filters=filters)
            for row in rows:
                if row.seq > end:
                    return
                yield row
            if len(rows) < BATCH:
                return
            after = rows[-1].seq

    async def tail(
        self, count: int, *, follow: bool = False, poll_seconds: float = 1.0
    ) -> AsyncIterator[AuditRow]:
        """The newest ``count`` records, oldest first; with ``follow``, then every new record
        as it is committed, until the caller stops iterating."""
        if count < 0:
            raise InvalidInputError("INVALID_REQUEST", "the number of records must not be negative")
        async with self._store.read() as tx:
            end = await tx.last_seq()
            rows = await tx.audit_rows(after_seq=max(end - count, 0), limit=count)
        for row in rows:
            yield row
        after = end
        while follow:
            async with self._store.read() as tx:
                rows = await tx.audit_rows(after_seq=after, limit=BATCH)
            for row in rows:
                yield row
            if rows:
                after = rows[-1].seq
            if len(rows) < BATCH:
                await asyncio.sleep(poll_seconds)

    async def verify(self) -> ChainReport:
        """Check every record and signed checkpoint (:func:`~.audit_chain.verify_chain`)."""
        return await verify_chain(self._store)


def _cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    # ASCII digits only ("²" is a digit to str.isdigit) and within a 64-bit integer.
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise InvalidInputError("INVALID_REQUEST", "cursor must be a value from next_cursor")
    return int(cursor)


async def _filters(tx: AuditTx, query: AuditQuery, now: datetime) -> AuditFilter:
    since, until = _moment(query.since, now, "since"), _moment(query.until, now, "until")
    return AuditFilter(
        owner_id=query.owner or None,
        agent_principal_id=await _agent_principal(tx, query.agent) if query.agent else None,
        event_type=query.event_type or None,
        action_type=query.action_type or None,
        result=query.result.upper() if query.result else None,
        since=since,
        until=until,
    )


async def _agent_principal(tx: AuditTx, agent: str) -> str:
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
    relative = _RELATIVE.fullmatch(text)
    if relative is not None:
        span = timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
        return iso_ms(now - span)
    if _DATE.fullmatch(text):
        text += "T00:00:00Z"
    moment = parse_timestamp(text)
    if moment is None:
        raise InvalidInputError(
            "INVALID_REQUEST",
            f"{name} must be an ISO-8601 time with a zone (2026-01-31T09:00:00Z), a date, "
            f"or a span back from now such as 30m, 12h or 7d; got {text!r}",
        )
    return iso_ms(moment.astimezone(UTC))
