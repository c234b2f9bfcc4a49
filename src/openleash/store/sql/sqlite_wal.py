"""How processes share one SQLite file: the cross-process write lock and WAL checkpoints."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path

if sys.platform == "win32":

    def _flock(fd: int) -> None:
        """No flock on Windows: ``BEGIN IMMEDIATE`` and the busy timeout serialize writers."""

    def _funlock(fd: int) -> None:
        pass

    def _try_flock(fd: int) -> bool:
        return True

    OPEN_FLAGS = os.O_RDWR | os.O_CREAT
else:
    import fcntl

    def _flock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _funlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

    def _try_flock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC


#: Seconds of event-loop turns to try a busy write lock between, before a thread waits for it.
SPIN_SECONDS = 0.0001
#: Before the checkpoint that takes the write lock: unlocked passes, at most, and how short a
#: pass must be to show that little is left to copy.
CATCH_UP_PASSES = 8
#: How often the checkpointer looks again at a busy write lock.
LOCK_POLL_SECONDS = 0.0005
CAUGHT_UP_SECONDS = 0.001


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def checkpoint_lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".checkpoint-lock")


class WriteLock:
    """An exclusive ``flock`` on ``<db>.lock``, taken around every write transaction.

    SQLite's own busy handler sleeps and polls, which puts milliseconds on the tail latency as
    soon as several processes write; a process blocked in ``flock`` wakes the moment the lock is
    released. The lock belongs to the open file description, so two stores opened in one process
    exclude each other too.

    :meth:`acquire_async` never blocks the event loop: it tries the lock; while another process
    holds it, a thread waits for it to be released, on an open file of its own, and lets it go
    at once, and the loop tries again. The thread never keeps the lock for the loop: the loop
    may be busy with other requests for a while, and a lock held meanwhile would hold up the
    writers of every process.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, OPEN_FLAGS, 0o600)
        # INVARIANT: its own open file description, so that the waiting thread's lock never
        # counts as this one's (flock locks belong to the open file, and attempts through the
        # same one would seem to succeed).
        self._waiter_fd = os.open(path, OPEN_FLAGS, 0o600)
        self._mutex = threading.Lock()
        self._waiting: asyncio.Future[None] | None = None

    def acquire(self) -> None:
        _flock(self._fd)

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never wait."""
        return _try_flock(self._fd)

    async def acquire_async(self, timeout: float) -> None:
        """Take the lock, letting the event loop run other work while another process holds
        it. ``TimeoutError`` if it is not taken within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadline, spin_until = now + timeout, now + SPIN_SECONDS
        # A few turns of the loop first (it goes on serving requests meanwhile): a lock about to
        # be released costs no thread. Spinning longer measured worse: it burns the CPU the
        # holder needs, and a loop that waits longer gathers bigger batches anyway.
        while True:
            if _try_flock(self._fd):
                return
            if loop.time() >= spin_until:
                break
            await asyncio.sleep(0)
        while True:
            if self._waiting is None or self._waiting.done():
                self._waiting = loop.run_in_executor(None, self._wait_until_free)
            # Shielded: a caller that gives up leaves the wait to the next one; it ends by
            # itself once the lock is released.
            async with asyncio.timeout_at(deadline):
                await asyncio.shield(self._waiting)
            if _try_flock(self._fd):
                return
            await asyncio.sleep(0)  # taken again meanwhile: wait for the next release

    def _wait_until_free(self) -> None:
        """In a thread: block until the lock has been released (taking it for an instant)."""
        with self._mutex:
            if self._waiter_fd < 0:
                return
            # A descriptor of its own for the same open file: close() may close the original
            # meanwhile without this thread touching a reused number.
            fd = os.dup(self._waiter_fd)
        try:
            _flock(fd)
            _funlock(fd)
        finally:
            os.close(fd)

    def release(self) -> None:
        _funlock(self._fd)

    def close(self) -> None:
        with self._mutex:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            if self._waiter_fd >= 0:
                os.close(self._waiter_fd)
                self._waiter_fd = -1


class Checkpointer:
    """Copies the WAL back into the database file from a background thread, in two steps.

    Left to itself, SQLite checkpoints inside the ``COMMIT`` that crosses a WAL size threshold:
    that commit copies megabytes and waits for two ``fsync`` calls while it holds the write lock
    of every process. Here, each round first runs a ``PASSIVE`` checkpoint without any lock (it
    never blocks writers; the sqlite3 module releases the GIL while SQLite works). Under constant
    writing such a checkpoint never quite catches up, and SQLite only rewinds the WAL to its start
    once a checkpoint has caught up, so once the log is long enough a last checkpoint runs under
    the write lock, after unlocked passes have left it only the frames of about a millisecond
    to copy and sync (one pass right before would leave it those of the whole pass: about 12 ms
    of writers held up at 4,000 decisions/s, where the last-pass approach measured 2 ms). Only
    one process checkpoints at a time. The committing connection keeps a high automatic
    threshold as a backstop.
    """

    def __init__(self, path: Path, lock: WriteLock, *, interval: float, rewind_pages: int) -> None:
        # timeout=0: a PASSIVE checkpoint that finds another one running skips this round.
        self._conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        # INVARIANT: a lock of its own (its own open file description), so that it excludes this
        # process's transactions too, not only other processes'.
        self._lock = lock
        # One process checkpoints at a time (the others' rounds would only find the WAL copied
        # or a checkpoint running); when it exits, its flock goes and another one takes over.
        self._leader = WriteLock(checkpoint_lock_path(path))
        self._leading = False
        self._interval = interval
        self._rewind_pages = rewind_pages
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="openleash-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if not self._leading:
                self._leading = self._leader.try_acquire()
                if not self._leading:
                    continue
            try:
                self.run_once()
            except sqlite3.Error:
                continue  # transient: the next round, or the backstop, catches up

    def run_once(self) -> None:
        busy, log_pages, _ = self._checkpoint()
        if busy or log_pages < self._rewind_pages:
            return
        # Catch up without the lock first: each pass copies what was written during the one
        # before, so a few passes leave only a millisecond's worth of frames (and of syncing)
        # for the pass that holds every writer up.
        for _ in range(CATCH_UP_PASSES):
            started = time.perf_counter()
            self._checkpoint()
            if time.perf_counter() - started < CAUGHT_UP_SECONDS:
                break
        # Waits for the lock without blocking in flock, so that close() never hangs on a
        # process that holds the write lock itself while it shuts down.
        while not self._lock.try_acquire():
            if self._stop.wait(LOCK_POLL_SECONDS):
                return
        try:
            self._checkpoint()
        finally:
            self._lock.release()

    def _checkpoint(self) -> tuple[int, int, int]:
        busy, log_pages, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(log_pages), int(copied)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._conn.close()
        self._lock.close()
        self._leader.close()
