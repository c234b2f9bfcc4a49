"""Ed25519 signing and verification on libsodium (through PyNaCl).

Keys are parsed and written with ``cryptography`` (SPKI / PKCS#8 DER, see
:mod:`openleash.crypto.keyformat`); the two operations on the hot path of every request run on
libsodium, which does them in about half the time. Ed25519 is deterministic, so signatures are
the same bytes either way (the official test vectors check it). libsodium's verification is also
the stricter one: it refuses non-canonical signatures and small-order public keys.
"""

from __future__ import annotations

from functools import lru_cache

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from openleash.crypto.keyformat import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["BadSignatureError", "sign", "verify"]


@lru_cache(maxsize=4096)
def _verify_key(raw: bytes) -> VerifyKey:
    return VerifyKey(raw)


@lru_cache(maxsize=64)
def _signing_key(seed: bytes) -> SigningKey:
    return SigningKey(seed)


def verify(key: Ed25519PublicKey, signature: bytes, message: bytes) -> None:
    """Raise :class:`BadSignatureError` unless ``signature`` is ``key``'s over ``message``."""
    _verify_key(key.public_bytes_raw()).verify(message, signature)


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    return _signing_key(key.private_bytes_raw()).sign(message).signature
