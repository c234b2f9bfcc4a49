from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from openleash.domain.timefmt import epoch_ms, iso_ms, parse_iso, parse_timestamp

SRC = Path(__file__).resolve().parents[2] / "src" / "openleash"


def test_iso_writes_utc_milliseconds_with_z() -> None:
    assert iso_ms(datetime(2026, 3, 29, 1, 2, 3, 999_999, tzinfo=UTC)) == "2026-03-29T01:02:03.999Z"
    assert iso_ms(datetime(2026, 3, 29, 1, 2, 3, tzinfo=UTC)) == "2026-03-29T01:02:03.000Z"
    plus_two = timezone(timedelta(hours=2))
    assert iso_ms(datetime(2026, 3, 29, 3, 0, tzinfo=plus_two)) == "2026-03-29T01:00:00.000Z"


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
        assert crypto_iso_ms(moment) == expected
        assert iso_utc(moment) == expected


def test_a_naive_datetime_is_refused_never_read_as_local_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        iso_ms(datetime(2026, 3, 29, 1, 0))


def test_parse_iso_raises_where_parse_timestamp_answers_none() -> None:
    assert parse_iso("2026-03-29T03:00:00+02:00") == datetime(2026, 3, 29, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="offset"):
        parse_iso("2026-03-29T01:00:00")
    assert epoch_ms(datetime(1970, 1, 1, 0, 0, 1, 500_000, tzinfo=UTC)) == 1500


def test_one_time_module() -> None:
    """Timestamps are written and read by domain/timefmt.py alone (no second formatter)."""
    others = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if ("timefmt" in path.stem or "timestamps" in path.stem) and path.parent.name != "domain"
    )
    assert others == []
