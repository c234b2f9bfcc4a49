"""Time as policies speak of it: IANA time zones and the windows limits count over.

A window is *rolling* (``90s``, ``15m``, ``24h``, ``7d``: that long before now) or *calendar*
(``day``, ``week``, ``month``: since the current one began in the limit's time zone, weeks
starting on Monday). Calendar starts are local midnights converted to UTC through ``zoneinfo``,
so they are right across daylight-saving changes. Nothing here reads a clock.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, available_timezones

from openleash.domain.jsonvalue import JsonValue
from openleash.domain.timefmt import iso_ms
from openleash.policy.checker import Checker, shown
from openleash.policy.model import Window
from openleash.policy.syntax import Path

CALENDAR_WINDOWS: dict[str, Literal["day", "week", "month"]] = {
    "day": "day",
    "week": "week",
    "month": "month",
}
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The longest rolling window: a year, leap or not. It bounds how far back usage is counted,
#: and so how long the server must keep a record of allowed actions.
MAX_WINDOW_SECONDS = 366 * 86400

_ROLLING = re.compile(r"([0-9]+)([A-Za-z]*)")


@functools.cache
def known_timezones() -> frozenset[str]:
    # Read once: the tz database does not change while the server runs.
    return frozenset(available_timezones())


def parse_timezone(c: Checker, data: JsonValue, path: Path) -> str | None:
    name = c.string(data, path)
    if name is None:
        return None
    if name not in known_timezones():
        c.fail(path, f"unknown time zone `{name}`; use an IANA name such as Europe/Stockholm")
        return None
    return name


def parse_window(c: Checker, data: JsonValue, path: Path) -> Window | None:
    text = c.string(data, path)
    if text is None:
        return None
    calendar = CALENDAR_WINDOWS.get(text)
    if calendar is not None:
        return Window(text, calendar=calendar)
    found = _ROLLING.fullmatch(text)
    if found is None:
        c.fail(
            path,
            f"must be `day`, `week`, `month` or a duration such as `90s`, `15m`, "
            f"`24h`, `7d`, not {shown(text)}",
        )
        return None
    amount, unit = int(found.group(1)), found.group(2)
    if not unit:
        c.fail(path, f"`{text}` has no unit; use s, m, h or d, as in `{text}s`")
        return None
    if unit not in UNIT_SECONDS:
        c.fail(path, f"unknown window unit `{unit}` in `{text}`; use s, m, h or d")
        return None
    seconds = amount * UNIT_SECONDS[unit]
    if seconds == 0:
        c.fail(path, f"`{text}` is empty; a window must be longer than zero")
        return None
    if seconds > MAX_WINDOW_SECONDS:
        c.fail(path, f"`{text}` is longer than the longest window, 366d")
        return None
    return Window(text, seconds=seconds)


def window_start(window: Window, zone: ZoneInfo, now: datetime) -> datetime:
    """The first instant (UTC) that counts towards ``window`` at ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if window.seconds is not None:
        return now.astimezone(UTC) - timedelta(seconds=window.seconds)
    day = now.astimezone(zone).date()
    if window.calendar == "week":
        day -= timedelta(days=day.weekday())
    elif window.calendar == "month":
        day = day.replace(day=1)
    # INVARIANT: fold=0 reads a midnight that a DST change skips with the offset before the
    # change, which lands on the change itself: the first instant the local date has.
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def iso_utc(now: datetime) -> str:
    """``now`` as ``2026-03-29T01:00:00.000Z``, as JavaScript's ``toISOString`` writes it."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return iso_ms(now)
