"""Parsing and evaluating a policy someone just sent, off the event loop and within a bound.

Reading a policy is pure Python work that grows with its size (the size bounds of the
language keep it under a second or so); done on the event loop, it would stall every other
request meanwhile. So it runs on a small pool of worker threads, and the caller waits at most
:data:`TIMEOUT_SECONDS`. A job that has not finished by then is answered ``POLICY_TIMEOUT``
(fail closed: an error, never a decision); one not yet started is cancelled. When more jobs
wait than the pool can take in that time, further ones are refused at once with
``POLICY_WORK_BUSY`` rather than queued without end (the playground needs no login).

A thread cannot be stopped from outside, so a job past its timeout still finishes in the
background; the size bounds and the regular-expression work budget keep that short.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from openleash.domain.errors import UnavailableError

T = TypeVar("T")

#: How long a caller waits for one job, queueing included.
TIMEOUT_SECONDS = 5.0
_WORKERS = 2
#: Jobs running or waiting, at most; beyond, new ones are refused.
MAX_JOBS = 16


class _Pool:
    """The worker threads, created on first use, and the count of jobs in flight."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self.jobs = 0

    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(_WORKERS, thread_name_prefix="openleash-policy")
        return self._executor


_pool = _Pool()


async def run_policy_work(work: Callable[[], T], *, timeout: float = TIMEOUT_SECONDS) -> T:
    """``work()`` on a worker thread; raise ``POLICY_TIMEOUT`` or ``POLICY_WORK_BUSY``."""
    if _pool.jobs >= MAX_JOBS:
        raise UnavailableError(
            "POLICY_WORK_BUSY", "Too many policies are being checked right now; retry shortly"
        )
    _pool.jobs += 1
    try:
        loop = asyncio.get_running_loop()
        call = functools.partial(contextvars.copy_context().run, work)
        return await asyncio.wait_for(loop.run_in_executor(_pool.executor(), call), timeout)
    except TimeoutError:
        raise UnavailableError(
            "POLICY_TIMEOUT",
            f"Reading and checking the policy took longer than {timeout:g} s; make it smaller"
            " or simpler (fewer rules, shorter regular expressions)",
        ) from None
    finally:
        _pool.jobs -= 1
