"""Schedules: the server clock, the schedule's time zone, end-exclusive windows that may wrap."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openleash.domain.errors import PolicyError
from openleash.domain.models import Result
from openleash.policy import Schedule, parse_policy, schedule_holds
from openleash.policy.model import DAYS

from .helpers import CONTEXT, action, decide, rules_policy


def at(text: str, zone: str = "UTC") -> datetime:
    """A local wall-clock time (``2026-03-30 08:00``) in ``zone``, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


WEEKDAYS_9_TO_5 = Schedule(
    timezone="Europe/Stockholm",
    days=("mon", "tue", "wed", "thu", "fri"),
    between=("09:00", "17:00"),
)


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        ("2026-03-30 09:00", True),  # Monday, the first minute
        ("2026-03-30 08:59:59", False),
        ("2026-03-30 16:59:59", True),
        ("2026-03-30 17:00", False),  # end exclusive
        ("2026-04-03 12:00", True),  # Friday
        ("2026-04-04 12:00", False),  # Saturday
        ("2026-03-29 12:00", False),  # Sunday
    ],
)
def test_business_hours(local: str, inside: bool) -> None:
    assert schedule_holds(WEEKDAYS_9_TO_5, at(local, "Europe/Stockholm")) is inside


def test_days_are_read_in_the_schedules_time_zone() -> None:
    # Monday 00:30 in Stockholm is still Sunday in UTC.
    monday_only = Schedule(timezone="Europe/Stockholm", days=("mon",))
    moment = at("2026-03-29 22:30")  # UTC
    assert moment.astimezone(UTC).weekday() == 6
    assert schedule_holds(monday_only, moment)
    assert not schedule_holds(Schedule(days=("mon",)), moment)


def test_the_clock_is_read_as_wall_time_across_dst() -> None:
    nine_to_five = Schedule(timezone="Europe/Stockholm", between=("09:00", "17:00"))
    # 08:30 UTC is 09:30 in winter but 10:30 in summer; 15:30 UTC is 16:30 / 17:30.
    assert schedule_holds(nine_to_five, at("2026-03-28 15:30"))
    assert not schedule_holds(nine_to_five, at("2026-03-30 15:30"))
    assert schedule_holds(nine_to_five, at("2026-03-30 07:00"))
    assert not schedule_holds(nine_to_five, at("2026-03-28 07:00"))


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        ("2026-04-03 21:59", False),  # Friday, before
        ("2026-04-03 22:00", True),  # Friday night
        ("2026-04-03 23:59", True),
        ("2026-04-04 00:00", True),  # Saturday early hours belong to Friday's window
        ("2026-04-04 01:59", True),
        ("2026-04-04 02:00", False),  # end exclusive
        ("2026-04-04 22:30", False),  # Saturday night is not scheduled
        ("2026-04-03 01:00", False),  # Friday early hours belong to Thursday's window
    ],
)
def test_a_window_that_wraps_belongs_to_the_day_it_starts(local: str, inside: bool) -> None:
    friday_nights = Schedule(days=("fri",), between=("22:00", "02:00"))
    assert schedule_holds(friday_nights, at(local)) is inside


def test_wrapping_window_every_day() -> None:
    nights = Schedule(between=("22:00", "06:00"))
    assert schedule_holds(nights, at("2026-01-01 23:00"))
    assert schedule_holds(nights, at("2026-01-01 05:59"))
    assert not schedule_holds(nights, at("2026-01-01 06:00"))
    assert not schedule_holds(nights, at("2026-01-01 21:59"))


def test_until_midnight() -> None:
    evenings = Schedule(between=("18:00", "00:00"))
    assert schedule_holds(evenings, at("2026-01-01 23:59:59"))
    assert not schedule_holds(evenings, at("2026-01-02 00:00"))
    assert not schedule_holds(evenings, at("2026-01-01 17:59"))


def test_an_empty_schedule_is_always() -> None:
    assert schedule_holds(Schedule(), at("2026-01-01 03:00", "Asia/Tokyo"))


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule_holds(Schedule(), datetime(2026, 1, 1))


def reference_holds(schedule: Schedule, now: datetime) -> bool:
    """Brute force: is ``now`` in one of the windows of the days around it, by wall clock?"""
    local = now.astimezone(schedule.zone).replace(tzinfo=None)
    for offset in (-1, 0):
        day = (local + timedelta(days=offset)).replace(hour=0, minute=0, second=0, microsecond=0)
        if DAYS[day.weekday()] not in schedule.days:
            continue
        if schedule.between is None:
            start, end = day, day + timedelta(days=1)
        else:
            begin, finish = (datetime.strptime(t, "%H:%M") for t in schedule.between)
            start = day.replace(hour=begin.hour, minute=begin.minute)
            end = day.replace(hour=finish.hour, minute=finish.minute)
            if end <= start:
                end += timedelta(days=1)
        if start <= local < end:
            return True
    return False


TIMES = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 1, 30, 59])
)
SCHEDULES = st.builds(
    lambda zone, days, between: Schedule(
        timezone=zone, days=tuple(d for d in DAYS if d in days), between=between
    ),
    st.sampled_from(["UTC", "Europe/Stockholm", "America/New_York", "Asia/Kolkata"]),
    st.sets(st.sampled_from(DAYS), min_size=1),
    st.none() | st.tuples(TIMES, TIMES).filter(lambda b: b[0] != b[1]),
)


@given(
    schedule=SCHEDULES,
    now=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1)),
)
def test_schedule_agrees_with_a_brute_force_reference(schedule: Schedule, now: datetime) -> None:
    aware = now.replace(tzinfo=UTC)
    assert schedule_holds(schedule, aware) is reference_holds(schedule, aware)


# ---- in rules -------------------------------------------------------------------------------


SCHEDULED = """\
- id: office
  effect: allow
  action: "*"
  schedule: {schedule}
- id: otherwise
  effect: allow
  action: "*"
  obligations: [{{type: HUMAN_APPROVAL}}]
"""


def test_outside_the_schedule_evaluation_goes_on_to_the_next_rule() -> None:
    p = rules_policy(SCHEDULED.format(schedule="{days: [mon], between: ['09:00', '17:00']}"))
    monday_morning = replace(CONTEXT, now=at("2026-03-30 10:00"))
    monday_evening = replace(CONTEXT, now=at("2026-03-30 18:00"))
    inside = decide(p, action(), monday_morning)
    assert (inside.result, inside.matched_rule_id) == (Result.ALLOW, "office")
    outside = decide(p, action(), monday_evening)
    assert (outside.result, outside.matched_rule_id) == (Result.REQUIRE_APPROVAL, "otherwise")
    assert outside.trace[0]["schedule_match"] is False
    assert outside.trace[0]["limits_match"] is None
    assert outside.trace[1]["schedule_match"] is True


def test_the_agents_requested_at_is_never_the_clock() -> None:
    p = rules_policy(SCHEDULED.format(schedule="{between: ['09:00', '17:00']}"))
    a = action()
    a["requested_at"] = "2026-03-30T10:00:00.000Z"
    evening = replace(CONTEXT, now=at("2026-03-30 20:00"))
    assert decide(p, a, evening).matched_rule_id == "otherwise"


def test_schedule_is_not_reached_when_constraints_fail() -> None:
    p = rules_policy(
        "- {id: r, effect: allow, action: '*', constraints: {amount_max: 1}, schedule: {}}\n"
    )
    entry = decide(p, action(payload={"amount_minor": 5})).trace[0]
    assert entry["constraints_match"] is False
    assert entry["schedule_match"] is None


def test_days_are_stored_in_week_order() -> None:
    p = rules_policy("- {id: r, effect: allow, action: x, schedule: {days: [sun, mon, wed]}}\n")
    schedule = p.rules[0].schedule
    assert schedule is not None
    assert schedule.days == ("mon", "wed", "sun")
    assert schedule.timezone == "UTC"
    assert schedule.between is None


# ---- validation -----------------------------------------------------------------------------


def refusal(schedule: str) -> str:
    text = f"""\
        version: 1
        default: deny
        rules:
          - id: r
            effect: allow
            action: x
            schedule:
              {schedule}
        """
    with pytest.raises(PolicyError) as caught:
        parse_policy(textwrap.dedent(text))
    return str(caught.value)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("timezone: Mars/Olympus", "rules[0].schedule.timezone: unknown time zone `Mars/Olympus`"),
        ("timezone: europe/stockholm", "unknown time zone `europe/stockholm`"),
        ("timezone: 5", "rules[0].schedule.timezone: must be a string, not a number"),
        ("days: [mon, funday]", "rules[0].schedule.days[1]: unknown day `funday`"),
        ("days: [Mon]", "unknown day `Mon`"),
        ("days: [mon, tue, mon]", "rules[0].schedule.days[2]: duplicate day `mon`"),
        ("days: []", "rules[0].schedule.days: must name at least one day"),
        ("days: mon", "rules[0].schedule.days: must be a list, not a string"),
        ('between: ["09:00"]', "rules[0].schedule.between: must be [start, end]"),
        ('between: ["09:00", "12:00", "17:00"]', "must be [start, end]"),
        ('between: ["9:00", "17:00"]', "rules[0].schedule.between[0]: must be a time as HH:MM"),
        ('between: ["09:00", "24:00"]', "rules[0].schedule.between[1]: must be a time as HH:MM"),
        ('between: ["09:00", "17:60"]', "must be a time as HH:MM"),
        ('between: ["09:00", 1700]', "must be a time as HH:MM (00:00 to 23:59), not `1700`"),
        ('between: ["09:00", "09:00"]', "start and end are both `09:00`"),
        ("hours: [9, 17]", "rules[0].schedule: unknown key `hours`"),
    ],
)
def test_schedule_errors_are_located(schedule: str, message: str) -> None:
    error = refusal(schedule)
    assert message in error
    assert "(line 8)" in error or "(line 9)" in error
