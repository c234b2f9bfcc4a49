"""When the store cannot do its work: the one place that maps storage failures and time limits to
``STORE_UNAVAILABLE``, and the readiness that ``/v1/health`` reports.

Every wait on the store has a bound (``store.timeout_seconds``): a database that stops answering
makes requests fail with ``STORE_UNAVAILABLE`` in that time instead of holding them, and the
event loop, without end. A failed or timed-out unit of work is rolled back, so no decision is
ever answered without its record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from openleash.domain.errors import OpenLeashError, StoreUnavailableError

log = logging.getLogger("openleash")

#: Seconds a request waits for the store before it is answered ``STORE_UNAVAILABLE``.
DEFAULT_TIMEOUT_SECONDS = 5.0
#: Seconds readiness waits for the store at most: health must answer fast, stalled store or not.
HEALTH_TIMEOUT_SECONDS = 1.0
#: After a write failed for want of storage (disk full, I/O error, read-only file), readiness says
#: ``failing`` for this long unless a real write succeeds meanwhile. Its own small probe write may
#: still fit where decisions do not (a row updated in place needs no new page), so it alone
#: cannot clear a failure that recent.
FAILURE_HOLD_SECONDS = 5.0

#: A probe that ended this recently answers the next health checks too: health is public, and
#: a flood of checks must not turn into a flood of writes competing with decisions.
PROBE_REUSE_SECONDS = 0.5

Readiness = Literal["ok", "failing", "unavailable"]


class StoreTimeoutError(StoreUnavailableError):
    """The store did not answer within ``store.timeout_seconds``. Nothing was written."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            "STORE_UNAVAILABLE",
            f"The store did not answer within {seconds:g} s; nothing was recorded. Try again "
            "later (the wait is set by store.timeout_seconds)",
        )


def unavailable(exc: BaseException) -> OpenLeashError:
    """``STORE_UNAVAILABLE`` for a failure of the database or of the way to it. Clients get
    nothing of the database's own text, which may name hosts, users, files, tables or values;
    that goes to the log (bounded), for the operator."""
    if isinstance(exc, StoreUnavailableError):
        return exc
    log.warning("database unavailable: %s: %.300s", type(exc).__name__, exc)
    return StoreUnavailableError(
        "STORE_UNAVAILABLE", "The database is unavailable; try again shortly"
    )


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, StoreUnavailableError)


class WriteHealth:
    """What the store's write transactions came to lately, and readiness worked out from it.

    Readiness reads (``read_probe``) and commits a tiny write (``write_probe``) within
    :data:`HEALTH_TIMEOUT_SECONDS` (or the store's own timeout if shorter). Concurrent health
    checks share one probe, and one that found the store ready less than
    :data:`PROBE_REUSE_SECONDS` ago answers for it, so a flood of them costs at most a couple of
    small writes a second.
    """

    def __init__(
        self,
        read_probe: Callable[[], Awaitable[object]],
        write_probe: Callable[[], Awaitable[object]],
        *,
        timeout: float,
    ) -> None:
        self._read_probe = read_probe
        self._write_probe = write_probe
        self._bound = min(timeout, HEALTH_TIMEOUT_SECONDS)
        self._failed_at: float | None = None
        self._succeeded_at: float | None = None
        self._probe: asyncio.Task[Readiness] | None = None
        self._probed_at = 0.0
        #: What the last probe found: a probe logs only what changed, since anyone may call
        #: health as often as they like and the probes of a store found wanting are not reused.
        self._reported: Readiness = "ok"

    def succeeded(self) -> None:
        self._succeeded_at = time.monotonic()

    def failed(self, exc: BaseException) -> None:
        """A write transaction failed with ``exc``; only storage failures count. A timeout
        says the store is slow or stalled, which the probes find out by themselves."""
        if is_unavailable(exc) and not isinstance(exc, StoreTimeoutError):
            self._failed_at = time.monotonic()

    def failing(self) -> bool:
        failed, succeeded = self._failed_at, self._succeeded_at
        if failed is None or (succeeded is not None and succeeded > failed):
            return False
        return time.monotonic() - failed < FAILURE_HOLD_SECONDS

    async def readiness(self) -> Readiness:
        if self._recently_ok():
            return "failing" if self.failing() else "ok"
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._check())
        # Shielded: one caller going away must not cancel the probe the others wait for. The
        # probe ends by itself within its bound.
        return await asyncio.shield(self._probe)

    def _recently_ok(self) -> bool:
        """Whether the last probe found the store ready, moments ago (a store found wanting is
        asked again at once, so that health sees it recover without delay)."""
        probe = self._probe
        if probe is None or not probe.done() or probe.cancelled() or probe.exception():
            return False
        recent = time.monotonic() - self._probed_at < PROBE_REUSE_SECONDS
        return recent and probe.result() == "ok"

    async def _check(self) -> Readiness:
        try:
            found = await self._probed()
        finally:
            self._probed_at = time.monotonic()
        self._reported = found
        return found

    def _log(self, found: Readiness, message: str, *args: object, trace: bool = False) -> None:
        if found != self._reported:
            log.log(logging.ERROR if trace else logging.WARNING, message, *args, exc_info=trace)

    async def _probed(self) -> Readiness:
        try:
            async with asyncio.timeout(self._bound):
                await self._read_probe()
                if self.failing():
                    return "failing"
                try:
                    await self._write_probe()
                except TimeoutError:
                    raise
                except Exception as exc:
                    if not is_unavailable(exc) or isinstance(exc, StoreTimeoutError):
                        raise
                    self._log("failing", "health check: the store cannot record: %s", exc)
                    return "failing"
        except (TimeoutError, StoreTimeoutError):
            self._log(
                "unavailable", "health check: the store did not answer within %g s", self._bound
            )
            return "unavailable"
        except Exception:
            self._log("unavailable", "health check: the store does not answer", trace=True)
            return "unavailable"
        return "ok"
