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


def _javascript_iso(moment: datetime) -> str:
    """Date.prototype.toISOString written out by hand: the reference every formatter matches."""
    utc = moment.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def test_every_timestamp_formatter_writes_the_same_bytes() -> None:
    from openleash.crypto import iso_ms as crypto_iso_ms
    from openleash.domain.timefmt import iso_ms
    from openleash.policy.windows import iso_utc

    start = datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=-5)))
    for step in range(200):
        moment = start + timedelta(days=step * 37, microseconds=step * 4_321)
        expected = _javascript_iso(moment)
        assert iso_ms(moment) == expected
        assert iso(moment) == expected
        assert crypto_iso_ms(moment) == expected
        assert iso_utc(moment) == expected
