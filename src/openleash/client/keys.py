"""Offline proof verification for counterparties, with the issuer's keys cached."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from openleash.crypto import verify_token_with_public_keys
from openleash.domain.errors import TokenError


class PublicKeyCache:
    """The issuer's ``/v1/public-keys``, fetched once and refetched when a token names a key
    id the cache does not know (a rotation since the last fetch)."""

    def __init__(
        self, base_url: str, *, fetch: Callable[[], Sequence[dict[str, Any]]] | None = None
    ) -> None:
        self._fetch = fetch or (lambda: _fetch_keys(base_url))
        self._keys: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def keys(self, *, want_kid: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            stale = self._keys is None or (
                want_kid is not None and all(k.get("kid") != want_kid for k in self._keys)
            )
            if stale:
                self._keys = list(self._fetch())
            assert self._keys is not None  # noqa: S101 - set just above
            return self._keys


def _fetch_keys(base_url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base_url.rstrip('/')}/v1/public-keys", timeout=10.0)
    response.raise_for_status()
    return list(response.json()["keys"])


def verify_proof_offline(
    token: str,
    keys: PublicKeyCache | Sequence[dict[str, Any]],
    *,
    expected_action_hash: str | None = None,
    expected_agent_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Verify a proof token without calling the server; return its claims or raise
    :class:`openleash.domain.errors.TokenError` with the reason (revoked keys verify nothing)."""
    moment = now or datetime.now(UTC)
    if isinstance(keys, PublicKeyCache):
        kid = _unverified_kid(token)
        key_list: Sequence[dict[str, Any]] = keys.keys(want_kid=kid)
    else:
        key_list = keys
    claims = verify_token_with_public_keys(token, list(key_list), now=moment, purpose="proof")
    if expected_action_hash is not None and claims.get("action_hash") != expected_action_hash:
        raise TokenError("action_hash mismatch")
    if expected_agent_id is not None and claims.get("agent_id") != expected_agent_id:
        raise TokenError("agent_id mismatch")
    return claims


def _unverified_kid(token: str) -> str | None:
    """The ``kid`` claim read without trusting it: only to choose which keys to fetch."""
    try:
        body = token.split(".", 2)[2]
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))[:-64]
        kid = json.loads(raw).get("kid")
    except (IndexError, ValueError, AttributeError):
        return None
    return kid if isinstance(kid, str) else None
