"""Timestamps as the wire writes them: ISO-8601 UTC with milliseconds and ``Z``."""

from __future__ import annotations

from datetime import datetime

from openleash.domain.timefmt import iso_ms

#: The domain's formatter under the name the services have always called it by.
iso = iso_ms


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
