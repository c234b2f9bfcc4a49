"""Per-process tables keyed by client address: bounded memory, least recently seen forgotten.

These hold what must be counted for callers who have not proved who they are (an address that
keeps failing to log in, a client's budget of anonymous requests). They live in the memory of
one worker process: with several workers each keeps its own table, so a client gets up to
workers x the budget. The size cap bounds memory under a flood from many addresses; forgetting
an address only ever gives it a fresh start, never access.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from openleash.domain.errors import TooManyRequestsError

#: Addresses remembered per table; about 100 bytes each.
MAX_KEYS = 50_000

V = TypeVar("V")


class BoundedTable(Generic[V]):
    """A dict of at most ``max_keys`` entries that drops the least recently used first."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        self._rows: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        value = self._rows.get(key)
        if value is not None:
            self._rows.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        self._rows[key] = value
        self._rows.move_to_end(key)
        while len(self._rows) > self.max_keys:
            self._rows.popitem(last=False)

    def pop(self, key: str) -> None:
        self._rows.pop(key, None)

    def __len__(self) -> int:
        return len(self._rows)


@dataclass(frozen=True, slots=True)
class _Failures:
    count: int
    last_ms: int
    locked_until_ms: int


class FailureLocks:
    """Failures per key: after ``free`` in a row the key is locked for ``base_seconds``,
    doubling with each further failure up to ``max_seconds``. A key quiet for ``max_seconds``
    starts again from nothing, so an owner's old typos do not lock them days later."""

    def __init__(
        self, free: int, base_seconds: int, max_seconds: int, max_keys: int = MAX_KEYS
    ) -> None:
        self.free, self.base_seconds, self.max_seconds = free, base_seconds, max_seconds
        self._table: BoundedTable[_Failures] = BoundedTable(max_keys)

    def check(self, key: str, now_ms: int, message: str) -> None:
        """Raise ``LOGIN_LOCKED`` (with the seconds to wait) while ``key`` is locked."""
        row = self._table.get(key)
        if row is not None and row.locked_until_ms > now_ms:
            raise locked_error(row.locked_until_ms - now_ms, message)

    def fail(self, key: str, now_ms: int) -> None:
        row = self._table.get(key)
        if row is None or now_ms - row.last_ms > self.max_seconds * 1000:
            row = _Failures(0, now_ms, 0)
        count = row.count + 1
        beyond = count - self.free
        until = row.locked_until_ms
        if beyond >= 0:
            until = now_ms + min(self.base_seconds * 2**beyond, self.max_seconds) * 1000
        self._table.put(key, _Failures(count, now_ms, until))

    def clear(self, key: str) -> None:
        self._table.pop(key)


def locked_error(wait_ms: int, message: str, code: str = "LOGIN_LOCKED") -> TooManyRequestsError:
    wait = max(1, -(-wait_ms // 1000))
    return TooManyRequestsError(
        code, f"{message}; try again in {wait} seconds", {"retry_after_seconds": wait}
    )
