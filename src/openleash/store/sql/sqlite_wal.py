"""How processes share one SQLite file: the cross-process write lock and WAL checkpoints."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from pathlib import Path

if sys.platform == "win32":

    def _flock(fd: int) -> None:
        """No flock on Windows: ``BEGIN IMMEDIATE`` and the busy timeout serialize writers."""

    def _funlock(fd: int) -> None:
        pass

    OPEN_FLAGS = os.O_RDWR | os.O_CREAT
else:
    import fcntl

    def _flock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _funlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

    OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


class WriteLock:
    """An exclusive ``flock`` on ``<db>.lock``, taken around every write transaction.

    SQLite's own busy handler sleeps and polls, which puts milliseconds on the tail latency as
    soon as several processes write; a process blocked in ``flock`` wakes the moment the lock is
    released. The lock belongs to the open file description, so two stores opened in one process
    exclude each other too.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, OPEN_FLAGS, 0o600)

    def acquire(self) -> None:
        _flock(self._fd)

    def release(self) -> None:
        _funlock(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class Checkpointer:
    """Copies the WAL back into the database file from a background thread.

    By default SQLite checkpoints inside the ``COMMIT`` that crosses the WAL size threshold: that
    commit then writes up to megabytes and waits for two ``fsync`` calls while it still holds the
    write lock of every process. A ``PASSIVE`` checkpoint needs no write lock and never waits, so
    running it here keeps that work off the write path (the sqlite3 module releases the GIL while
    SQLite works). The committing connection keeps a high automatic threshold as a backstop.
    """

    def __init__(self, path: Path, interval: float) -> None:
        # timeout=0: a PASSIVE checkpoint that finds another one running just skips this round.
        self._conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="openleash-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                continue  # busy or transient: the next round, or the backstop, catches up

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._conn.close()
