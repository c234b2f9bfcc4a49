"""Hashing of bearer secrets (invite tokens), compatible with the TypeScript records (inv §5.4).

scrypt N=16384, r=8, p=1, 64 bytes; the salt is the *base64 text* of 32 random bytes, used as
UTF-8 bytes; the hash is stored as base64. Comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from openleash.crypto.errors import NotVerifiedError


def new_token() -> str:
    """32 random bytes, base64url without padding: a bearer secret for an invite."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def hash_secret(secret: str, salt: str | None = None) -> tuple[str, str]:
    """Return ``(hash_b64, salt)``; a fresh salt when none is given."""
    salt = salt or base64.b64encode(secrets.token_bytes(32)).decode()
    derived = hashlib.scrypt(
        secret.encode(), salt=salt.encode(), n=16384, r=8, p=1, dklen=64, maxmem=64 * 1024 * 1024
    )
    return base64.b64encode(derived).decode(), salt


def verify_secret(secret: str, hash_b64: str, salt: str) -> None:
    """Return when ``secret`` hashes to ``hash_b64`` with ``salt``; raise
    :class:`NotVerifiedError` otherwise."""
    candidate, _ = hash_secret(secret, salt)
    if not hmac.compare_digest(candidate.encode(), hash_b64.encode()):
        raise NotVerifiedError("the secret does not match")
