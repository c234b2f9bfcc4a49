"""Single use: each proof's ``decision_id`` is accepted once.

A cache only needs to remember a decision until its proof expires: after that the proof is
refused as expired anyway. The verifier depends only on the :class:`ReplayCache` Protocol.
:class:`InMemoryReplayCache` (the default) serves one process;
:class:`~openleash.verify.sqlite_replay.SQLiteReplayCache` shares one file between the processes
(workers) of one host, and is the only module of this package that touches a database.
"""

from __future__ import annotations

import heapq
import threading
from datetime import datetime
from typing import Protocol, runtime_checkable

__all__ = ["InMemoryReplayCache", "ReplayCache"]


@runtime_checkable
class ReplayCache(Protocol):
    """Remembers used decisions. ``claim`` returns ``True`` the first time a ``decision_id``
    is claimed (the caller may accept the proof) and ``False`` ever after, until
    ``expires_at``; it may forget entries whose ``expires_at`` is at or before ``now``."""

    def claim(self, decision_id: str, expires_at: datetime, now: datetime) -> bool: ...


class InMemoryReplayCache:
    """A replay cache in this process's memory, bounded by expiry: it holds only the
    decisions whose proofs have not expired yet."""

    def __init__(self) -> None:
        self._expiry: dict[str, datetime] = {}
        self._queue: list[tuple[datetime, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def claim(self, decision_id: str, expires_at: datetime, now: datetime) -> bool:
        with self._lock:
            self._forget_expired(now)
            if decision_id in self._expiry:
                return False
            self._expiry[decision_id] = expires_at
            heapq.heappush(self._queue, (expires_at, decision_id))
            return True

    def _forget_expired(self, now: datetime) -> None:
        while self._queue and self._queue[0][0] <= now:
            _, decision_id = heapq.heappop(self._queue)
            self._expiry.pop(decision_id, None)
