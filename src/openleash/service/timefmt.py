"""Timestamps as the wire writes them: ISO-8601 UTC with milliseconds and ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    # isoformat truncates to milliseconds and ends in "+00:00" for UTC; strftime is slower.
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def parse_timestamp(text: str) -> datetime | None:
    """An ISO-8601 date-time with a zone (``Z`` or an offset); None when it is not one."""
    if not 10 < len(text) < 40:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment
