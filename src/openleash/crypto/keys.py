"""The server's token-signing keys: one active key signs, every unrevoked key verifies.

A :class:`KeyRing` is an immutable view of the stored :class:`ServerKey` records. Rotation and
revocation return a new ring; the store persists it. A revoked key verifies nothing, whatever
its ``revoked_at`` says about time (PROTOCOL §3.10).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from openleash.crypto import ed25519, keyformat
from openleash.crypto.keyformat import Ed25519PrivateKey, Ed25519PublicKey
from openleash.domain.errors import ConflictError, InternalError, NotFoundError
from openleash.domain.models import PublicKeyView, ServerKey
from openleash.domain.timefmt import iso_ms


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The active key, loaded and ready to sign; its ``kid`` goes into every token."""

    kid: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def sign(self, data: bytes) -> bytes:
        return ed25519.sign(self.private_key, data)


def new_server_key(now: datetime) -> ServerKey:
    """A fresh Ed25519 server key with a random ``kid``; not active until a ring rotates to it."""
    public_b64, private_b64 = keyformat.generate_keypair()
    return ServerKey(
        kid=str(uuid.uuid4()),
        public_key_b64=public_b64,
        private_key_b64=private_b64,
        created_at=iso_ms(now),
    )


class KeyRing:
    """An immutable set of server keys, at most one active and never a revoked active one."""

    __slots__ = ("_by_kid", "_keys", "_public")

    def __init__(self, keys: Iterable[ServerKey]) -> None:
        self._keys = tuple(keys)
        self._by_kid = {key.kid: key for key in self._keys}
        _check_invariants(self._keys, self._by_kid)
        # Loaded eagerly so a corrupt stored key fails here, not halfway through a request.
        self._public: dict[str, Ed25519PublicKey] = {
            key.kid: keyformat.load_public_key(key.public_key_b64)
            for key in self._keys
            if key.revoked_at is None
        }

    @classmethod
    def from_public_keys(cls, records: Iterable[Mapping[str, object]]) -> KeyRing:
        """A verify-only ring from ``/v1/public-keys`` entries (``kid``, ``public_key_b64``, …).
        A key whose ``revoked_at`` is anything but null (or absent) is revoked."""
        return cls(
            ServerKey(
                kid=str(record["kid"]),
                public_key_b64=str(record["public_key_b64"]),
                private_key_b64="",
                created_at=str(record.get("created_at") or ""),
                revoked_at=_revoked_at(record.get("revoked_at")),
            )
            for record in records
        )

    @property
    def keys(self) -> tuple[ServerKey, ...]:
        return self._keys

    def get(self, kid: str) -> ServerKey | None:
        return self._by_kid.get(kid)

    def public_key(self, kid: str) -> ServerKey:
        """The key named ``kid``; ``KEY_NOT_FOUND`` otherwise."""
        key = self._by_kid.get(kid)
        if key is None:
            raise NotFoundError("KEY_NOT_FOUND", f'Key "{kid}" not found')
        return key

    def active(self) -> ServerKey:
        """The key that signs new tokens; a ring without one cannot issue (a server error)."""
        for key in self._keys:
            if key.active:
                return key
        raise InternalError("INTERNAL_ERROR", "No active server signing key")

    def signer(self) -> SigningKey:
        """The active key loaded for signing (the parsed key is cached by its text)."""
        key = self.active()
        return SigningKey(key.kid, keyformat.load_private_key(key.private_key_b64))

    def verification_key(self, kid: str) -> Ed25519PublicKey | None:
        """The loaded public key for ``kid``, or ``None`` when unknown or revoked."""
        return self._public.get(kid)

    def verification_keys(self) -> list[Ed25519PublicKey]:
        """Every unrevoked public key, in ring order."""
        return list(self._public.values())

    def is_revoked(self, kid: str) -> bool:
        key = self._by_kid.get(kid)
        return key is not None and key.revoked_at is not None

    def rotate(self, new_key: ServerKey) -> KeyRing:
        """A ring where ``new_key`` is added and active, and the previous active key is not."""
        if new_key.kid in self._by_kid:
            raise InternalError("INTERNAL_ERROR", f'Key "{new_key.kid}" already exists')
        demoted = [replace(key, active=False) for key in self._keys]
        return KeyRing([*demoted, replace(new_key, active=True)])

    def revoke(self, kid: str, now: datetime) -> KeyRing:
        """A ring where ``kid`` is revoked. The active key must be rotated away first."""
        key = self.public_key(kid)
        if key.active:
            raise ConflictError("KEY_ACTIVE", "The active key cannot be revoked; rotate first")
        if key.revoked_at is not None:
            return self  # revoking twice keeps the first revocation time
        revoked = replace(key, revoked_at=iso_ms(now))
        return KeyRing(revoked if k.kid == kid else k for k in self._keys)

    def public_view(self) -> list[PublicKeyView]:
        """Every key as ``/v1/public-keys`` lists it; revoked keys stay listed, marked."""
        return [key.public_view() for key in self._keys]


def _revoked_at(value: object) -> str | None:
    # Fail closed: whatever an issuer wrote there (a time, or a mistake) revokes the key.
    return None if value is None else value if isinstance(value, str) else str(value)


def _check_invariants(keys: tuple[ServerKey, ...], by_kid: dict[str, ServerKey]) -> None:
    if len(by_kid) != len(keys):
        raise InternalError("INTERNAL_ERROR", "Server keys have duplicate kids")
    active = [key for key in keys if key.active]
    if len(active) > 1:
        raise InternalError("INTERNAL_ERROR", "More than one active server key")
    if active and active[0].revoked_at is not None:
        raise InternalError("INTERNAL_ERROR", "The active server key is revoked")
