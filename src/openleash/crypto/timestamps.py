"""Timestamps as JavaScript's ``Date.prototype.toISOString`` writes them.

Tokens carry ``iat``/``exp`` as these strings (not numbers), and SDK verifiers parse them back,
so the format is part of the wire: ``YYYY-MM-DDTHH:MM:SS.sssZ``, UTC, millisecond precision.
"""

from __future__ import annotations

from datetime import UTC, datetime

from openleash.domain import timefmt


def to_ms(moment: datetime) -> datetime:
    """``moment`` in UTC, truncated to whole milliseconds as a JavaScript ``Date`` holds it."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        # INVARIANT: a naive datetime is ambiguous; every clock in the project is aware.
        raise ValueError("timestamp must be timezone-aware")
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond - utc.microsecond % 1000)


def iso_ms(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.sssZ`` for an aware datetime."""
    # to_ms refuses a naive datetime, which the domain formatter would read as local time.
    return timefmt.iso_ms(to_ms(moment))


def parse_iso(text: str) -> datetime:
    """An ISO-8601 timestamp with an explicit offset (``Z`` or ``±HH:MM``); ``ValueError`` else."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("timestamp has no UTC offset")
    return moment
