"""Outgoing webhooks: the body, its signatures, the target check, and delivery with retries.

The wire format follows the TypeScript OpenLeash (``X-Webhook-Signature`` over the body and a
bearer token) and adds ``X-OpenLeash-Signature``, which also covers a timestamp so that a
captured delivery cannot be replayed later.

Webhook URLs are chosen by agents, so every attempt first resolves the host and refuses
addresses inside the server's own networks (loopback, private, link-local including the cloud
metadata address, ...). The request then goes to the very address that was checked, so a DNS
answer that changes between check and connect cannot redirect it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import math
import re
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from openleash.crypto import to_json
from openleash.crypto.errors import NotVerifiedError
from openleash.domain.errors import InvalidInputError

SIGNATURE_HEADER = "X-OpenLeash-Signature"
#: The TypeScript server's header: hex HMAC-SHA256 of the body alone.
LEGACY_SIGNATURE_HEADER = "X-Webhook-Signature"
EVENT_HEADER = "X-OpenLeash-Event"
DELIVERY_HEADER = "X-OpenLeash-Delivery"
DEFAULT_TOLERANCE_S = 300
MAX_URL_LENGTH = 2048

Sender = Callable[[str, dict[str, str], bytes], Awaitable[int]]
"""``send(url, headers, body) -> HTTP status``; raises on network failure."""
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``resolve(host, port) -> IP addresses`` as text; raises ``OSError`` when lookup fails."""
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_log = logging.getLogger(__name__)
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_MAC = re.compile(r"[0-9a-fA-F]{64}")
# Characters no URL we send should contain; they are where URL parsers disagree.
_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_RETRYABLE_STATUS = frozenset({408, 429})
_SYSTEM_RANDOM = secrets.SystemRandom()


class WebhookTargetRefused(InvalidInputError):  # noqa: N818 -- a refusal, named as the API documents it
    """A webhook URL the server will not send to; ``reason`` says why (never a secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__("INVALID_WEBHOOK_URL", reason)
        self.reason = reason


# --- body and signatures -------------------------------------------------------------------


def webhook_body(
    event_type: str, timestamp_iso: str, agent_principal_id: str, data: Mapping[str, object]
) -> bytes:
    """The JSON body, byte for byte what ``JSON.stringify`` gives for the same object."""
    document = {
        "event_type": event_type,
        "timestamp": timestamp_iso,
        "agent_principal_id": agent_principal_id,
        "data": data,
    }
    return to_json(document, sort_keys=False).encode("utf-8")


def _mac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``, the value of
    :data:`SIGNATURE_HEADER`."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError("timestamp must be a non-negative integer of Unix seconds")
    return f"t={timestamp},v1={_mac(secret, f'{timestamp}.'.encode('ascii') + body)}"


def legacy_signature(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the body, the value of :data:`LEGACY_SIGNATURE_HEADER`."""
    return _mac(secret, body)


def verify_signature(
    secret: str,
    header_value: str,
    body: bytes,
    now_s: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> None:
    """For receivers: return only for a genuine :func:`sign` value no older (or newer) than
    ``tolerance_s``, raise :class:`NotVerifiedError` otherwise. Several ``v1=`` entries are
    allowed (any one may match)."""
    parsed = _parse_signature(header_value)
    if parsed is None:
        raise NotVerifiedError("the signature header is not t=<seconds>,v1=<hex>")
    timestamp, macs = parsed
    if not (math.isfinite(now_s) and abs(now_s - timestamp) <= tolerance_s):
        raise NotVerifiedError("the signature's timestamp is outside the tolerance")
    expected = _mac(secret, f"{timestamp}.".encode("ascii") + body).encode("ascii")
    matched = False
    for candidate in macs:
        matched |= hmac.compare_digest(expected, candidate.lower().encode("ascii"))
    if not matched:
        raise NotVerifiedError("the signature does not match the body")


def _parse_signature(header_value: str) -> tuple[int, list[str]] | None:
    if not isinstance(header_value, str):
        return None
    timestamp: int | None = None
    macs: list[str] = []
    for item in header_value.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            if timestamp is not None or not _TIMESTAMP.fullmatch(value):
                return None
            timestamp = int(value)
        elif key == "v1" and _MAC.fullmatch(value):
            macs.append(value)
    if timestamp is None or not macs:
        return None
    return timestamp, macs


def request_headers(
    *,
    secret: str,
    auth_token: str,
    event_type: str,
    delivery_id: str,
    timestamp: int,
    body: bytes,
) -> dict[str, str]:
    """Every header of a delivery except ``Host``."""
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        LEGACY_SIGNATURE_HEADER: legacy_signature(secret, body),
        EVENT_HEADER: event_type,
        DELIVERY_HEADER: delivery_id,
    }
    if auth_token:
        headers["Authorization"] = f"Bearer {auth_token}"
    return headers


# --- the target ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str  # ASCII: IDNA-encoded name or IP literal, without brackets
    port: int
    host_header: str
    path_query: str


def _parse_target(url: str) -> _Target:
    if not isinstance(url, str) or not url:
        raise WebhookTargetRefused("webhook URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise WebhookTargetRefused(f"webhook URL is longer than {MAX_URL_LENGTH} characters")
    if _UNSAFE_URL_CHARS.search(url):
        raise WebhookTargetRefused("webhook URL contains spaces, control characters or '\\'")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookTargetRefused(f"webhook URL does not parse: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise WebhookTargetRefused("webhook URL must use http or https")
    if parts.username is not None or parts.password is not None:
        raise WebhookTargetRefused("webhook URL must not contain credentials; use an auth token")
    if not parts.hostname:
        raise WebhookTargetRefused("webhook URL has no host")
    host = _ascii_host(parts.hostname)
    literal = _ip_literal(host)
    shown = f"[{host}]" if isinstance(literal, ipaddress.IPv6Address) else host
    host_header = shown if port is None else f"{shown}:{port}"
    path_query = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if scheme == "https" else 80
    return _Target(scheme, host, port or default_port, host_header, path_query)


def _ascii_host(hostname: str) -> str:
    if hostname.isascii():
        return hostname.rstrip(".") or hostname
    try:
        return hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise WebhookTargetRefused("webhook URL has an invalid host name") from None


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def validate_webhook_url(url: str) -> None:
    """Syntax check for registration time: an http(s) URL with a host and no credentials.

    Raises ``INVALID_WEBHOOK_URL`` (as :class:`WebhookTargetRefused`). Where the host points is
    checked at delivery time by :func:`check_target`, because DNS can change in between.
    """
    _parse_target(url)


def forbidden_address_kind(address: IPAddress) -> str | None:
    """Why the server must not connect to ``address`` (e.g. ``"loopback"``), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            kind = forbidden_address_kind(embedded)
            return f"IPv4-embedding {kind}" if kind else None
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-global"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:ab.cd::) addresses
    # all end up at an IPv4 address; judge that one.
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order of preference."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0])
        if text not in addresses:
            addresses.append(text)
    return addresses


async def _vetted_addresses(
    target: _Target, *, allow_private: bool, resolve: Resolver
) -> list[IPAddress]:
    literal = _ip_literal(target.host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            addresses = [
                ipaddress.ip_address(text) for text in await resolve(target.host, target.port)
            ]
        except ValueError:
            raise WebhookTargetRefused(
                f"{target.host} resolved to something not an address"
            ) from None
    if not addresses:
        raise OSError(f"{target.host} has no addresses")
    if not allow_private:
        # INVARIANT: every address is checked, not only the one used, so that a host cannot
        # smuggle a private address past the check by listing it second.
        for address in addresses:
            kind = forbidden_address_kind(address)
            if kind is not None:
                raise WebhookTargetRefused(
                    f"webhook host {target.host} resolves to a {kind} address"
                )
    return addresses


async def check_target(url: str, *, allow_private: bool, resolve: Resolver = resolve_host) -> None:
    """Raise :class:`WebhookTargetRefused` unless ``url`` may receive webhooks now.

    The URL must be http(s) with a host, and (unless ``allow_private``) no address the host
    resolves to may be loopback, private, link-local, unspecified, multicast, reserved or
    otherwise not globally routable, nor an IPv6 form of such an IPv4 address. A failed lookup
    raises ``OSError``: that is a network failure, not a refusal.
    """
    await _vetted_addresses(_parse_target(url), allow_private=allow_private, resolve=resolve)


def _pinned_url(target: _Target, address: IPAddress) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        host = f"[{str(address).replace('%', '%25')}]"
    else:
        host = str(address)
    return f"{target.scheme}://{host}:{target.port}{target.path_query}"


# --- delivery ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one webhook. ``attempts_made`` counts attempts before this call."""

    delivery_id: str
    url: str
    secret: str = field(repr=False)
    auth_token: str = field(repr=False)
    event_type: str
    body: bytes = field(repr=False)  # may carry an approval token
    attempts_made: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What happened. ``attempts`` is the total so far, including earlier calls.

    ``gave_up`` means no further attempt should be made; ``retry_after_s`` is set only by
    :meth:`Deliverer.attempt` when another attempt should follow after that many seconds.
    """

    delivered: bool
    status_code: int | None
    error: str | None
    attempts: int
    gave_up: bool
    retry_after_s: float | None = None


def is_retryable_status(status: int) -> bool:
    """Timeouts, rate limiting and server errors may pass on a later try; other codes won't."""
    return status in _RETRYABLE_STATUS or 500 <= status <= 599


class Deliverer:
    """Sends deliveries, retrying transient failures with exponential backoff and jitter."""

    def __init__(
        self,
        *,
        send: Sender | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 6,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        allow_private: bool = False,
        timeout_s: float = 10.0,
        resolve: Resolver = resolve_host,
        jitter: Callable[[], float] = _SYSTEM_RANDOM.random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if base_delay < 0 or max_delay < 0 or timeout_s <= 0:
            raise ValueError("delays must be non-negative and the timeout positive")
        self._send: Sender = send if send is not None else self._post
        self._sleep = sleep
        self._clock = clock
        self.max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._allow_private = allow_private
        self._timeout_s = timeout_s
        self._resolve = resolve
        self._jitter = jitter
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Deliverer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client of the default sender, if one was opened."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def retry_delay(self, attempts_made: int) -> float:
        """Seconds to wait after attempt number ``attempts_made`` (1-based) failed.

        ``base_delay * 2**(n-1)`` capped at ``max_delay``, then jittered into the upper half of
        that so that many deliveries failing together do not retry together.
        """
        exponent = min(max(attempts_made - 1, 0), 62)
        capped = min(self._max_delay, self._base_delay * 2.0**exponent)
        return capped / 2 + capped / 2 * min(max(self._jitter(), 0.0), 1.0)

    async def deliver(self, delivery: Delivery) -> DeliveryOutcome:
        """Attempt until delivered, refused, or ``max_attempts`` attempts in total were made."""
        if delivery.attempts_made >= self.max_attempts:
            return DeliveryOutcome(False, None, "no attempts left", delivery.attempts_made, True)
        while True:
            outcome = await self.attempt(delivery)
            if outcome.retry_after_s is None:
                return outcome
            await self._sleep(outcome.retry_after_s)
            delivery = replace(delivery, attempts_made=outcome.attempts)

    async def attempt(self, delivery: Delivery) -> DeliveryOutcome:
        """One attempt, for callers that schedule retries themselves (an outbox)."""
        attempts = delivery.attempts_made + 1
        status: int | None = None
        try:
            status = await self._attempt_once(delivery)
        except WebhookTargetRefused as exc:
            _log.warning("webhook %s refused: %s", delivery.delivery_id, exc.reason)
            return DeliveryOutcome(False, None, f"refused: {exc.reason}", attempts, True)
        except TimeoutError:
            error = f"timed out after {self._timeout_s:g} s"
        except Exception as exc:
            # Any failure of the transport (or of an injected sender) is worth another try.
            error = _describe(exc, delivery)
        else:
            if 200 <= status <= 299:
                return DeliveryOutcome(True, status, None, attempts, False)
            error = f"HTTP {status}"
            if not is_retryable_status(status):
                _log.warning("webhook %s answered %d; not retried", delivery.delivery_id, status)
                return DeliveryOutcome(False, status, error, attempts, True)
        if attempts >= self.max_attempts:
            _log.warning(
                "webhook %s gave up after %d attempts: %s", delivery.delivery_id, attempts, error
            )
            return DeliveryOutcome(False, status, error, attempts, True)
        delay = self.retry_delay(attempts)
        return DeliveryOutcome(False, status, error, attempts, False, retry_after_s=delay)

    async def _attempt_once(self, delivery: Delivery) -> int:
        target = _parse_target(delivery.url)
        async with asyncio.timeout(self._timeout_s):
            addresses = await _vetted_addresses(
                target, allow_private=self._allow_private, resolve=self._resolve
            )
            headers = request_headers(
                secret=delivery.secret,
                auth_token=delivery.auth_token,
                event_type=delivery.event_type,
                delivery_id=delivery.delivery_id,
                timestamp=int(self._clock()),
                body=delivery.body,
            )
            headers["Host"] = target.host_header
            return await self._send(_pinned_url(target, addresses[0]), headers, delivery.body)

    async def _post(self, url: str, headers: dict[str, str], body: bytes) -> int:
        """The default sender: one POST, redirects not followed, the response body unread."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                follow_redirects=False,
                timeout=httpx.Timeout(self._timeout_s),
                # No proxies or .netrc from the environment: they would bypass the target check.
                trust_env=False,
                # No reuse: a connection to one address must not carry another host's request.
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        extensions: dict[str, str] = {}
        host = _host_of(headers.get("Host", ""))
        if url.startswith("https://") and host and _ip_literal(host) is None:
            # The URL names the checked address; TLS must still verify the original host name.
            extensions["sni_hostname"] = host
        async with self._client.stream(
            "POST", url, headers=headers, content=body, extensions=extensions
        ) as response:
            return response.status_code


def _host_of(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    return host_header.rpartition(":")[0] if ":" in host_header else host_header


def _describe(exc: Exception, delivery: Delivery) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    for secret in (delivery.secret, delivery.auth_token):
        if secret:
            text = text.replace(secret, "[redacted]")
    return text[:500]
