"""Ed25519 keys as OpenLeash writes them: base64 of SPKI DER (public) and PKCS#8 DER (private).

Loading is cached by the base64 text: the same agent and server keys come back on every
request, and parsing DER each time would be wasted work on the hot path.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from openleash.domain.errors import InvalidInputError

__all__ = [
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "b64decode",
    "generate_keypair",
    "load_private_key",
    "load_public_key",
    "private_key_to_b64",
    "public_key_b64_of",
    "public_key_to_b64",
]

#: Standard or URL-safe alphabet, padding optional: what Node's ``Buffer.from(s, "base64")``
#: reads from well-behaved clients. Anything else (spaces, stray characters) is refused.
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")

_KEY_CACHE_SIZE = 4096


def b64decode(text: str) -> bytes:
    """Decode base64 in either alphabet, padded or not; raise ``ValueError`` on anything else."""
    if not _BASE64.fullmatch(text):
        raise ValueError("not base64")
    unpadded = text.rstrip("=")
    standard = unpadded.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc


@lru_cache(maxsize=_KEY_CACHE_SIZE)
def load_public_key(public_key_b64: str) -> Ed25519PublicKey:
    """Parse a base64 SPKI DER public key that must be Ed25519; raise ``INVALID_KEY``."""
    try:
        der = b64decode(public_key_b64)
    except ValueError:
        raise InvalidInputError("INVALID_KEY", "Public key is not valid base64") from None
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidInputError(
            "INVALID_KEY", "Public key is not a DER-encoded SubjectPublicKeyInfo"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInputError("INVALID_KEY", "Public key is not an Ed25519 key")
    return key


@lru_cache(maxsize=64)
def load_private_key(private_key_b64: str) -> Ed25519PrivateKey:
    """Parse a base64 PKCS#8 DER private key that must be Ed25519; raise ``INVALID_KEY``.

    Error messages never echo the input: it is a secret.
    """
    try:
        der = b64decode(private_key_b64)
    except ValueError:
        raise InvalidInputError("INVALID_KEY", "Private key is not valid base64") from None
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidInputError(
            "INVALID_KEY", "Private key is not an unencrypted PKCS#8 key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInputError("INVALID_KEY", "Private key is not an Ed25519 key")
    return key


def public_key_to_b64(key: Ed25519PublicKey) -> str:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def private_key_to_b64(key: Ed25519PrivateKey) -> str:
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode("ascii")


def public_key_b64_of(private_key_b64: str) -> str:
    """The SPKI base64 public key matching a PKCS#8 base64 private key."""
    return public_key_to_b64(load_private_key(private_key_b64).public_key())


def generate_keypair() -> tuple[str, str]:
    """A fresh Ed25519 key pair as ``(public_key_b64, private_key_b64)``: SPKI and PKCS#8 DER."""
    key = Ed25519PrivateKey.generate()
    return public_key_to_b64(key.public_key()), private_key_to_b64(key)
