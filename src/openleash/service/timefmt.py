"""Timestamps as the wire writes them: ISO-8601 UTC with milliseconds and ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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
