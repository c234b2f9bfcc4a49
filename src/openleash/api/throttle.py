"""Rate limits for callers who have not authenticated, per client address (``limits`` in
config.yaml).

Each client address has a token bucket of ``limits.anonymous_per_minute`` requests that refills
at that rate. Two buckets per address: one that every request to an anonymous route spends
(registration, proof verification, the playground, owner login and set-up, the portal forms),
and one that only failed authentications spend (bad agent signatures, wrong AuthZEN PEP tokens).
An address with no anonymous budget left is answered ``429 RATE_LIMITED`` with ``Retry-After``
before any work is done; failed authentications past their budget are answered the same way,
but a request that authenticates is always served. Tables live in one worker's memory (see
:mod:`openleash.service.lockout`: bounded, per worker). The client address is the ASGI scope's
client, which the server sets from the socket; an IPv6 client counts as its /64 (one subscriber
holds every address of it) and an IPv4-mapped one as its IPv4 address.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from openleash.api.deps import services
from openleash.config import Settings
from openleash.domain.errors import OpenLeashError
from openleash.service import owner_auth
from openleash.service.lockout import MAX_KEYS, BoundedTable, FailureLocks, locked_error
from openleash.service.options import Options

Clock = Callable[[], float]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """``per_minute`` requests per key, in bursts of up to ``per_minute``; bounded memory."""

    def __init__(
        self, per_minute: int, clock: Clock = time.monotonic, max_keys: int = MAX_KEYS
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._table: BoundedTable[_Bucket] = BoundedTable(max_keys)

    def _refilled(self, key: str) -> _Bucket:
        now = self.clock()
        bucket = self._table.get(key) or _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        self._table.put(key, bucket)
        return bucket

    def check(self, key: str) -> None:
        """Raise ``RATE_LIMITED`` if ``key`` has no request left; spend nothing."""
        self._ready(self._refilled(key))

    def spend(self, key: str) -> None:
        """Take one request of ``key``'s budget, or raise ``RATE_LIMITED``."""
        bucket = self._refilled(key)
        self._ready(bucket)
        bucket.tokens -= 1

    def spend_quietly(self, key: str) -> None:
        """Take one request of ``key``'s budget if there is one left (after the work is done)."""
        bucket = self._refilled(key)
        bucket.tokens = max(0.0, bucket.tokens - 1)

    def _ready(self, bucket: _Bucket) -> None:
        if bucket.tokens < 1:
            wait_ms = int((1 - bucket.tokens) / self.rate * 1000)
            raise locked_error(wait_ms, "Too many requests from this address", "RATE_LIMITED")


@dataclass(frozen=True, slots=True)
class Throttles:
    """The per-worker tables of one application."""

    anonymous: TokenBuckets
    failures: TokenBuckets
    logins: FailureLocks

    @classmethod
    def of(cls, settings: Settings, options: Options) -> Throttles:
        return cls(
            anonymous=TokenBuckets(settings.anonymous_per_minute),
            failures=TokenBuckets(settings.anonymous_per_minute),
            logins=owner_auth.login_locks(options),
        )


def throttles_of(state: Any, settings: Settings, options: Options) -> Throttles:
    """The application's tables, made on first use (the settings come with the services)."""
    made = getattr(state, "throttles", None)
    if not isinstance(made, Throttles):
        made = Throttles.of(settings, options)
        state.throttles = made
    return made


def throttles(request: Request) -> Throttles:
    s = services(request)
    return throttles_of(request.app.state, s.settings, s.options)


def client_address(scope: Any) -> str:
    """Who is counted: the client the server saw (forwarded headers are not trusted here), an
    IPv6 one by its /64, so that rotating through one's own network buys no new budget."""
    client = scope.get("client")
    if not client:
        return "unknown"
    text = str(client[0])
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return text


async def anonymous(request: Request) -> None:
    """Route dependency: spend one request of the caller's anonymous budget."""
    throttles(request).anonymous.spend(client_address(request.scope))


@contextmanager
def counting_failures(table: TokenBuckets, address: str) -> Iterator[None]:
    """Around an authentication: each failure (an error raised inside) spends one of the
    address's budget, and a failure once none is left is answered ``429 RATE_LIMITED``.

    A request that authenticates is never refused here: agents of a local sidecar share the
    loopback address, and one misbehaving client must not lock the others out. Failures cost
    a signature check and write nothing, so the budget only slows a broken or guessing client
    down."""
    try:
        yield
    except OpenLeashError:
        table.spend_quietly(address)
        table.check(address)
        raise


def login_client(request: Request) -> tuple[str, FailureLocks]:
    """What :func:`openleash.service.owner_auth.login` needs to slow down a guessing address."""
    return client_address(request.scope), throttles(request).logins
