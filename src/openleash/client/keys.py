"""Offline proof verification for counterparties, with the issuer's keys cached.

The keys are the entries of the issuer's ``/v1/public-keys`` (:class:`PublicKeyRecord`); an
entry without a string ``kid`` and ``public_key_b64`` (or with a ``revoked_at`` that is neither
a string nor null) verifies nothing and is left out.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import NotRequired, TypedDict, TypeGuard

import httpx

from openleash.client.errors import ApiError, TransportError
from openleash.crypto import verify_token_with_public_keys
from openleash.domain.errors import TokenError
from openleash.domain.jsonvalue import JsonObject, JsonValue


class PublicKeyRecord(TypedDict):
    """One of the issuer's proof-signing keys, as ``/v1/public-keys`` lists it: the fields
    verification reads (the others, such as ``created_at`` and ``alg``, stay in the dict as
    received)."""

    kid: str
    public_key_b64: str
    #: Set once the key is revoked: it then verifies nothing.
    revoked_at: NotRequired[str | None]


KeyList = list[PublicKeyRecord]


def _is_key_record(entry: object) -> TypeGuard[PublicKeyRecord]:
    """Whether ``entry`` is a ``/v1/public-keys`` entry a key can be read from."""
    if not isinstance(entry, dict):
        return False
    kid, public, revoked = (entry.get(name) for name in ("kid", "public_key_b64", "revoked_at"))
    return isinstance(kid, str) and isinstance(public, str) and isinstance(revoked, str | None)


def _key_records(entries: Iterable[object]) -> KeyList:
    """The entries a key can be read from, as dicts (a :class:`~openleash.client.PublicKey`
    from ``client.public_keys()`` is one too); the others are left out."""
    dicts = (e if isinstance(e, dict) else dict(e) for e in entries if isinstance(e, Mapping))
    return [entry for entry in dicts if _is_key_record(entry)]


class PublicKeyCache:
    """The issuer's ``/v1/public-keys``, fetched when first needed and then kept.

    It is fetched again when ``ttl`` seconds have passed (``None``: never), and when a token
    names a key id the cache does not know (a rotation since the last fetch). With a
    ``refresh_cooldown``, such a refresh happens at most once per that many seconds, so tokens
    with made-up key ids cannot make a busy verifier hammer the issuer. Revocations are seen
    at the next refresh.

    ``fetch``/``afetch`` replace the HTTP fetch (tests, other transports); ``http_client`` and
    ``async_http_client`` are used for it when given.
    """

    def __init__(
        self,
        base_url: str,
        *,
        ttl: float | None = None,
        refresh_cooldown: float = 0.0,
        fetch: Callable[[], Sequence[Mapping[str, object]]] | None = None,
        afetch: Callable[[], Awaitable[Sequence[Mapping[str, object]]]] | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/v1/public-keys"
        self.ttl = ttl
        self.refresh_cooldown = refresh_cooldown
        self._fetch = fetch or (lambda: _fetch_keys(self.url, http_client))
        self._afetch = afetch
        self._async_http = async_http_client
        self._monotonic = monotonic
        self._keys: KeyList | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()
        self._alock: asyncio.Lock | None = None
        self._alock_loop: asyncio.AbstractEventLoop | None = None

    def _stale(self, want_kid: str | None) -> bool:
        if self._keys is None:
            return True
        age = self._monotonic() - self._fetched_at
        if self.ttl is not None and age >= self.ttl:
            return True
        unknown = want_kid is not None and all(k.get("kid") != want_kid for k in self._keys)
        return unknown and age >= self.refresh_cooldown

    def _store(self, keys: Sequence[Mapping[str, object]]) -> KeyList:
        self._keys = _key_records(keys)
        self._fetched_at = self._monotonic()
        return self._keys

    def keys(self, *, want_kid: str | None = None) -> KeyList:
        """The published keys; refreshed first if stale or ``want_kid`` is unknown."""
        with self._lock:
            if self._stale(want_kid):
                return self._store(self._fetch())
            assert self._keys is not None  # noqa: S101 - _stale is True without keys
            return self._keys

    async def akeys(self, *, want_kid: str | None = None) -> KeyList:
        """As :meth:`keys`, without blocking the event loop while fetching."""
        loop = asyncio.get_running_loop()
        if self._alock is None or self._alock_loop is not loop:
            # An asyncio lock belongs to one event loop; a verifier may outlive one.
            self._alock, self._alock_loop = asyncio.Lock(), loop
        async with self._alock:
            if not self._stale(want_kid):
                assert self._keys is not None  # noqa: S101 - _stale is True without keys
                return self._keys
            if self._afetch is not None:
                return self._store(await self._afetch())
            return self._store(await _afetch_keys(self.url, self._async_http))

    def invalidate(self) -> None:
        """Forget the keys: the next use fetches them again."""
        self._keys = None


def _keys_of(response: httpx.Response) -> KeyList:
    body: JsonValue
    try:
        body = response.json()
    except ValueError:
        body = None
    keys = body.get("keys") if isinstance(body, dict) else None
    if not response.is_success or not isinstance(keys, list):
        raise ApiError("ISSUER_UNAVAILABLE", "no key list from the issuer", response.status_code)
    return _key_records(keys)


def _fetch_keys(url: str, http: httpx.Client | None) -> KeyList:
    try:
        response = http.get(url) if http is not None else httpx.get(url, timeout=10.0)
    except httpx.TransportError as exc:
        raise TransportError(f"GET {url}: {exc}") from exc
    return _keys_of(response)


async def _afetch_keys(url: str, http: httpx.AsyncClient | None) -> KeyList:
    try:
        if http is not None:
            return _keys_of(await http.get(url))
        async with httpx.AsyncClient(timeout=10.0) as client:
            return _keys_of(await client.get(url))
    except httpx.TransportError as exc:
        raise TransportError(f"GET {url}: {exc}") from exc


def verify_proof_offline(
    token: str,
    keys: PublicKeyCache | Sequence[Mapping[str, object]],
    *,
    expected_action_hash: str | None = None,
    expected_agent_id: str | None = None,
    now: datetime | None = None,
) -> JsonObject:
    """Verify a proof token without calling the server; return its claims or raise
    :class:`openleash.domain.errors.TokenError` with the reason (revoked keys verify nothing).

    ``keys`` is a :class:`PublicKeyCache` or the entries of ``/v1/public-keys``."""
    moment = now or datetime.now(UTC)
    if isinstance(keys, PublicKeyCache):
        key_list = keys.keys(want_kid=unverified_kid(token))
    else:
        key_list = _key_records(keys)
    claims: JsonObject = verify_token_with_public_keys(token, key_list, now=moment, purpose="proof")
    check_expectations(claims, expected_action_hash, expected_agent_id)
    return claims


def check_expectations(
    claims: Mapping[str, object], expected_action_hash: str | None, expected_agent_id: str | None
) -> None:
    if expected_action_hash is not None and claims.get("action_hash") != expected_action_hash:
        raise TokenError("action_hash mismatch")
    if expected_agent_id is not None and claims.get("agent_id") != expected_agent_id:
        raise TokenError("agent_id mismatch")


def unverified_kid(token: str) -> str | None:
    """The ``kid`` claim read without trusting it: only to choose which keys to fetch."""
    try:
        body = token.split(".", 2)[2]
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))[:-64]
        claims: JsonValue = json.loads(raw)
    except (IndexError, ValueError):
        return None
    kid = claims.get("kid") if isinstance(claims, dict) else None
    return kid if isinstance(kid, str) else None
