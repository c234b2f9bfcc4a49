from datetime import UTC, datetime, timedelta, timezone

from openleash.service.timefmt import iso, parse_timestamp


def test_iso_writes_utc_milliseconds_with_z() -> None:
    assert iso(datetime(2026, 3, 29, 1, 2, 3, 999_999, tzinfo=UTC)) == "2026-03-29T01:02:03.999Z"
    assert iso(datetime(2026, 3, 29, 1, 2, 3, tzinfo=UTC)) == "2026-03-29T01:02:03.000Z"
    plus_two = timezone(timedelta(hours=2))
    assert iso(datetime(2026, 3, 29, 3, 0, tzinfo=plus_two)) == "2026-03-29T01:00:00.000Z"


def test_parse_timestamp_needs_a_zone() -> None:
    assert parse_timestamp("2026-03-29T01:00:00.000Z") == datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert parse_timestamp("2026-03-29T01:00:00") is None
    assert parse_timestamp("not a date") is None
