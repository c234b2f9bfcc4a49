"""A :class:`~openleash.verify.replay.ReplayCache` in a SQLite file, shared by the processes
(workers) of one host.

The one module of :mod:`openleash.verify` allowed to import ``sqlite3`` (an import-linter
contract keeps it so); the verifier itself knows only the Protocol.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path

__all__ = ["SQLiteReplayCache"]


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
