"""Single use: each proof's ``decision_id`` is accepted once.

A cache only needs to remember a decision until its proof expires: after that the proof is
refused as expired anyway. :class:`InMemoryReplayCache` serves one process;
:class:`SQLiteReplayCache` shares one file between the processes (workers) of one host.
"""

from __future__ import annotations

import heapq
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["InMemoryReplayCache", "ReplayCache", "SQLiteReplayCache"]


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


_SCHEMA = """
CREATE TABLE IF NOT EXISTS used_proofs (
    decision_id TEXT PRIMARY KEY,
    expires_at_ms INTEGER NOT NULL
)
"""
_PURGE_EVERY = 256


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class SQLiteReplayCache:
    """A replay cache in a SQLite file: every process that opens the same file shares it
    (WAL mode; a claim is one atomic insert). Expired entries are purged as claims go by."""

    def __init__(self, path: str | Path, *, timeout: float = 10.0) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        self._claims = 0
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)

    def claim(self, decision_id: str, expires_at: datetime, now: datetime) -> bool:
        with self._lock:
            self._claims += 1
            if self._claims % _PURGE_EVERY == 1:
                self._db.execute("DELETE FROM used_proofs WHERE expires_at_ms <= ?", (_ms(now),))
            cursor = self._db.execute(
                "INSERT INTO used_proofs (decision_id, expires_at_ms) VALUES (?, ?) "
                "ON CONFLICT (decision_id) DO NOTHING",
                (decision_id, _ms(expires_at)),
            )
            return cursor.rowcount == 1

    def __len__(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM used_proofs").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SQLiteReplayCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
