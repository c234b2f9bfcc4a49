"""Limit windows: rolling durations and calendar periods, right across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openleash.policy import Window, window_start
from openleash.policy.windows import MAX_WINDOW_SECONDS, UNIT_SECONDS, iso_utc

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")

DAY = Window("day", calendar="day")
WEEK = Window("week", calendar="week")
MONTH = Window("month", calendar="month")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@given(
    seconds=st.integers(min_value=1, max_value=MAX_WINDOW_SECONDS),
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    zone=st.sampled_from([UTC_ZONE, STOCKHOLM, NEW_YORK]),
)
def test_a_rolling_window_starts_its_length_before_now(
    seconds: int, now: datetime, zone: ZoneInfo
) -> None:
    aware = now.replace(tzinfo=zone)
    start = window_start(Window(f"{seconds}s", seconds=seconds), STOCKHOLM, aware)
    # Elapsed time, not wall-clock time: `aware - timedelta` would be off by an hour across
    # a daylight-saving change.
    assert aware.astimezone(UTC) - start == timedelta(seconds=seconds)
    assert start.tzinfo is UTC


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Spring forward: 2026-03-29 has 23 hours in Stockholm; the day began at 23:00 UTC (+01).
        (utc(2026, 3, 29, 12, 0), utc(2026, 3, 28, 23, 0)),
        (utc(2026, 3, 29, 0, 59), utc(2026, 3, 28, 23, 0)),
        # The next day begins at 22:00 UTC, summer time (+02).
        (utc(2026, 3, 29, 22, 0), utc(2026, 3, 29, 22, 0)),
        (utc(2026, 3, 29, 21, 59), utc(2026, 3, 28, 23, 0)),
        # Fall back: 2026-10-25 has 25 hours; it began at 22:00 UTC (+02).
        (utc(2026, 10, 25, 1, 30), utc(2026, 10, 24, 22, 0)),
        (utc(2026, 10, 25, 22, 59), utc(2026, 10, 24, 22, 0)),
        (utc(2026, 10, 25, 23, 0), utc(2026, 10, 25, 23, 0)),
    ],
)
def test_calendar_day_in_stockholm_across_dst(now: datetime, expected: datetime) -> None:
    assert window_start(DAY, STOCKHOLM, now) == expected


def test_calendar_day_in_new_york_across_dst() -> None:
    # 2026-03-08: clocks go from 02:00 EST to 03:00 EDT; midnight was still EST (-05).
    assert window_start(DAY, NEW_YORK, utc(2026, 3, 8, 12)) == utc(2026, 3, 8, 5)
    assert window_start(DAY, NEW_YORK, utc(2026, 3, 9, 12)) == utc(2026, 3, 9, 4)
    # 2026-11-01: back from 02:00 EDT to 01:00 EST; midnight was EDT (-04).
    assert window_start(DAY, NEW_YORK, utc(2026, 11, 1, 12)) == utc(2026, 11, 1, 4)
    # Just after midnight UTC it is still the evening before in New York.
    assert window_start(DAY, NEW_YORK, utc(2026, 11, 2, 3)) == utc(2026, 11, 1, 4)


def test_week_starts_on_monday() -> None:
    # 2026-03-29 is a Sunday: the week began on Monday 2026-03-23, winter time.
    assert window_start(WEEK, STOCKHOLM, utc(2026, 3, 29, 12)) == utc(2026, 3, 22, 23)
    # Monday 2026-03-30 00:30 in Stockholm (22:30 UTC on Sunday) starts a new week, summer time.
    assert window_start(WEEK, STOCKHOLM, utc(2026, 3, 29, 22, 30)) == utc(2026, 3, 29, 22)
    assert window_start(WEEK, UTC_ZONE, utc(2026, 3, 30, 0, 0)) == utc(2026, 3, 30)
    assert window_start(WEEK, UTC_ZONE, utc(2026, 3, 29, 23, 59)) == utc(2026, 3, 23)


def test_month_starts_on_the_first() -> None:
    assert window_start(MONTH, UTC_ZONE, utc(2026, 3, 31, 23, 59)) == utc(2026, 3, 1)
    # April began in Stockholm at 22:00 UTC on March 31 (summer time since March 29).
    assert window_start(MONTH, STOCKHOLM, utc(2026, 3, 31, 22, 0)) == utc(2026, 3, 31, 22)
    assert window_start(MONTH, STOCKHOLM, utc(2026, 3, 31, 21, 59)) == utc(2026, 2, 28, 23)
    assert window_start(MONTH, NEW_YORK, utc(2026, 11, 15)) == utc(2026, 11, 1, 4)


def test_a_midnight_that_dst_skips_starts_the_day_at_the_change() -> None:
    # Cuba springs forward at midnight: 2026-03-08 00:00 never happens; the day starts at 01:00.
    havana = ZoneInfo("America/Havana")
    start = window_start(DAY, havana, utc(2026, 3, 8, 18))
    assert start.astimezone(havana).replace(tzinfo=None) == datetime(2026, 3, 8, 1, 0)
    assert (start - timedelta(microseconds=1)).astimezone(havana).date() == date(2026, 3, 7)


ZONES = st.sampled_from(
    ["UTC", "Europe/Stockholm", "America/New_York", "America/Havana", "Australia/Lord_Howe"]
)


@given(
    now=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
    zone_name=ZONES,
    calendar=st.sampled_from([DAY, WEEK, MONTH]),
)
def test_calendar_start_is_the_first_instant_of_the_local_period(
    now: datetime, zone_name: str, calendar: Window
) -> None:
    zone = ZoneInfo(zone_name)
    aware = now.replace(tzinfo=UTC)
    start = window_start(calendar, zone, aware)
    local_now, local_start = aware.astimezone(zone), start.astimezone(zone)
    before = (start - timedelta(microseconds=1)).astimezone(zone)
    assert start <= aware
    assert local_start.time().hour in (0, 1)  # midnight, or the hour after a skipped one
    match calendar.calendar:
        case "day":
            assert local_start.date() == local_now.date() != before.date()
        case "week":
            assert local_start.weekday() == 0
            assert local_now.date() - local_start.date() < timedelta(days=7)
            assert before.weekday() == 6
        case "month":
            assert local_start.day == 1
            assert (local_start.year, local_start.month) == (local_now.year, local_now.month)
            assert before.month != local_start.month


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        window_start(DAY, STOCKHOLM, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        iso_utc(datetime(2026, 1, 1))


def test_iso_utc_is_javascript_style() -> None:
    moment = datetime(2026, 3, 29, 3, 4, 5, 678_901, tzinfo=STOCKHOLM)
    assert iso_utc(moment) == "2026-03-29T01:04:05.678Z"


def test_units() -> None:
    assert UNIT_SECONDS == {"s": 1, "m": 60, "h": 3600, "d": 86400}
    assert MAX_WINDOW_SECONDS == 366 * 86400
