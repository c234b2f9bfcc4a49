"""The one time module: how the project writes, reads and counts timestamps.

What it writes is what JavaScript's ``Date.prototype.toISOString`` writes
(``2026-03-29T01:00:00.000Z``: UTC, milliseconds, ``Z``), and it is part of the wire: tokens
carry ``iat``/``exp`` as these strings, and records, signed requests and audit entries carry
them too. Every clock of the project is timezone-aware; a naive datetime is refused, never read
as local time.
"""

from __future__ import annotations

from datetime import UTC, datetime


def to_ms(moment: datetime) -> datetime:
    """``moment`` in UTC, truncated to whole milliseconds as a JavaScript ``Date`` holds it."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        # INVARIANT: a naive datetime is ambiguous; every clock in the project is aware.
        raise ValueError("timestamp must be timezone-aware")
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond - utc.microsecond % 1000)


def iso_ms(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.sssZ``: an aware ``moment`` in UTC, cut (not rounded) to
    milliseconds."""
    # isoformat truncates to milliseconds, as Date does, pads the year to four digits, and ends
    # in "+00:00" for UTC; strftime is slower and does not pad years before 1000.
    return to_ms(moment).isoformat(timespec="milliseconds")[:-6] + "Z"


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch (what the nonce and usage tables count in)."""
    return int(moment.timestamp() * 1000)


def parse_iso(text: str) -> datetime:
    """An ISO-8601 timestamp with an explicit offset (``Z`` or ``±HH:MM``); ``ValueError`` else."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("timestamp has no UTC offset")
    return moment


def parse_timestamp(text: str) -> datetime | None:
    """:func:`parse_iso` for input that may be anything: ``None`` when it is not a timestamp
    with a zone (or implausibly short or long)."""
    if not 10 < len(text) < 40:
        return None
    try:
        return parse_iso(text)
    except ValueError:
        return None
