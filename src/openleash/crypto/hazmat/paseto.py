"""PASETO v4.public, signing and verification of raw payload bytes (no claim semantics).

Written directly on Ed25519 (:mod:`openleash.crypto.ed25519`) rather than through pyseto: it is
measurably faster on the hot path (see :mod:`openleash.crypto.hazmat`). pyseto is not a runtime
dependency; the tests keep it as the reference in both directions.

OpenLeash tokens have no footer and no implicit assertion, so both are fixed to empty here and a
token carrying a footer is refused.
"""

from __future__ import annotations

import base64
import re
import struct

from openleash.crypto import ed25519
from openleash.crypto.keyformat import Ed25519PrivateKey, Ed25519PublicKey

HEADER = "v4.public."
_HEADER_BYTES = HEADER.encode("ascii")
_SIGNATURE_LENGTH = 64
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class MalformedTokenError(ValueError):
    """The text is not a footer-less v4.public token."""


class BadSignatureError(ValueError):
    """The token is well formed but the key did not sign it."""


def pae(*pieces: bytes) -> bytes:
    """Pre-Authentication Encoding: each piece prefixed by its little-endian 64-bit length."""
    parts = [struct.pack("<Q", len(pieces))]
    for piece in pieces:
        parts.append(struct.pack("<Q", len(piece)))
        parts.append(piece)
    return b"".join(parts)


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """A v4.public token over ``message``, empty footer and implicit assertion."""
    signature = ed25519.sign(key, pae(_HEADER_BYTES, message, b"", b""))
    body = base64.urlsafe_b64encode(message + signature).rstrip(b"=")
    return HEADER + body.decode("ascii")


def split(token: str) -> tuple[bytes, bytes]:
    """``(message, signature)`` of a token, untrusted; ``MalformedTokenError`` if it is not one."""
    if not token.startswith(HEADER):
        raise MalformedTokenError("not a v4.public token")
    body = token[len(HEADER) :]
    # One canonical encoding only (no padding, URL alphabet, no footer part): a token has
    # exactly one spelling, so nothing keyed by the token text can be fooled by a variant.
    # A length of 4n+1 characters is no base64 of any bytes (binascii refuses to decode it).
    if not _BASE64URL.fullmatch(body) or len(body) % 4 == 1:
        raise MalformedTokenError("token body is not unpadded base64url")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != body:
        raise MalformedTokenError("token body is not canonical base64url")
    if len(raw) < _SIGNATURE_LENGTH:
        raise MalformedTokenError("token is too short")
    return raw[:-_SIGNATURE_LENGTH], raw[-_SIGNATURE_LENGTH:]


def verify(key: Ed25519PublicKey, message: bytes, signature: bytes) -> None:
    """Raise :class:`BadSignatureError` unless ``signature`` is ``key``'s over ``message``."""
    try:
        ed25519.verify(key, signature, pae(_HEADER_BYTES, message, b"", b""))
    except ed25519.BadSignatureError as exc:
        raise BadSignatureError("signature does not verify") from exc
