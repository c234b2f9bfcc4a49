"""The one way the project writes a timestamp: ISO-8601, UTC, milliseconds, ``Z``.

It is what JavaScript's ``Date.prototype.toISOString`` writes (``2026-03-29T01:00:00.000Z``),
and it is part of the wire: tokens, records, signed requests and audit entries carry it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso_ms(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.sssZ``: ``moment`` in UTC, cut (not rounded) to milliseconds."""
    # isoformat truncates to milliseconds, as Date does, pads the year to four digits, and ends
    # in "+00:00" for UTC; strftime is slower and does not pad years before 1000.
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
