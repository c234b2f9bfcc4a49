"""Which records a replay reads: ``--since`` as people write it, and how far before it the
candidate's limits look back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from openleash.domain.errors import InvalidInputError
from openleash.domain.timefmt import parse_timestamp
from openleash.policy import Policy, Window

_SPAN = re.compile(r"([0-9]{1,6})([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: The longest a calendar window can reach back, in any time zone (a month of 31 days, plus
#: the largest offset from UTC).
_CALENDAR_REACH = {
    "day": timedelta(days=2),
    "week": timedelta(days=8),
    "month": timedelta(days=32),
}


def parse_since(text: str | None, now: datetime) -> datetime | None:
    """An ISO-8601 time with a zone, a date (midnight UTC), or a span back from ``now``."""
    if not text:
        return None
    span = _SPAN.fullmatch(text)
    if span is not None:
        return now - timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    if _DATE.fullmatch(text):
        text += "T00:00:00Z"
    moment = parse_timestamp(text)
    if moment is None:
        raise InvalidInputError(
            "INVALID_REQUEST",
            "since must be an ISO-8601 time with a zone (2026-01-31T09:00:00Z), a date, or a "
            f"span back from now such as 30m, 12h or 7d; got {text!r}",
        )
    return moment.astimezone(UTC)


def warm_up_start(policy: Policy, since: datetime | None) -> datetime | None:
    """The first instant whose decisions the replay from ``since`` needs, to count what the
    candidate's limits count; ``None`` for the first record of all."""
    if since is None or policy.reads_allowed_before:
        return None
    reach = max(
        (_reach(limit.window) for rule in policy.rules for limit in rule.limits or ()),
        default=timedelta(0),
    )
    return since - reach


def _reach(window: Window) -> timedelta:
    if window.seconds is not None:
        return timedelta(seconds=window.seconds)
    return _CALENDAR_REACH[window.calendar or "month"]
