"""``schedule``: a rule matches only while the server clock is inside it.

The clock is the server's (``EvalContext.now``), read as wall-clock time in the schedule's
``timezone``: during a daylight-saving change an hour is skipped or lived twice, as it is on
the owner's wall. ``between: [start, end]`` ends before ``end``. When ``start > end`` the window
wraps past midnight and belongs to the day it *starts* on: ``days: [fri]`` with
``between: ["22:00", "02:00"]`` is Friday 22:00 to Saturday 02:00, not the early hours of
Friday. ``start == end`` is refused: it would read as both "never" and "all day"; leave
``between`` out for all day.
"""

from __future__ import annotations

import re
from datetime import datetime

from openleash.domain.jsonvalue import JsonValue
from openleash.policy.checker import Checker, optional, shown
from openleash.policy.model import DAYS, Schedule
from openleash.policy.syntax import Path
from openleash.policy.windows import parse_timezone

SCHEDULE_KEYS = ("timezone", "days", "between")
_HH_MM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def parse_schedule(c: Checker, data: JsonValue, path: Path) -> Schedule | None:
    before = c.count()
    node = c.mapping(data, path, keys=SCHEDULE_KEYS, required=())
    if node is None:
        return None
    timezone = optional(c, node, path, "timezone", parse_timezone)
    days = optional(c, node, path, "days", _days)
    between = optional(c, node, path, "between", _between)
    if c.count() != before:
        return None
    return Schedule(
        timezone=timezone if timezone is not None else "UTC",
        days=days if days is not None else DAYS,
        between=between,
    )


def _days(c: Checker, data: JsonValue, path: Path) -> tuple[str, ...] | None:
    days = c.unique_choices(data, path, DAYS, what="day")
    if days is not None and not days:
        c.fail(path, "must name at least one day; leave `days` out for every day")
        return None
    # In week order, so that the same days written in another order mean the same policy.
    return tuple(day for day in DAYS if day in days) if days is not None else None


def _between(c: Checker, data: JsonValue, path: Path) -> tuple[str, str] | None:
    before = c.count()
    items = c.items(data, path)
    if items is None:
        return None
    if len(items) != 2:
        c.fail(path, f"must be [start, end], two times as HH:MM, not {len(items)} items")
        return None
    times: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, str) and _HH_MM.fullmatch(item) is not None:
            times.append(item)
        else:
            c.fail((*path, i), f"must be a time as HH:MM (00:00 to 23:59), not {shown(item)}")
    if c.count() != before:
        return None
    start, end = times
    if start == end:
        c.fail(path, f"start and end are both `{start}`; leave `between` out for all day")
        return None
    return start, end


def schedule_holds(schedule: Schedule, now: datetime) -> bool:
    """Whether ``now`` (timezone-aware) falls inside ``schedule``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(schedule.zone)
    weekday = local.weekday()
    if schedule.minutes is None:
        return weekday in schedule.weekdays
    start, end = schedule.minutes
    minute = local.hour * 60 + local.minute
    if start < end:
        return start <= minute < end and weekday in schedule.weekdays
    if minute >= start:
        return weekday in schedule.weekdays
    # Past midnight in a wrapping window: it is the previous day's window.
    return minute < end and (weekday - 1) % 7 in schedule.weekdays
