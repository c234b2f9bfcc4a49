"""Agent request signatures: Ed25519 over a newline-joined signing input (inv §1.1, §3).

Every check here raises :class:`~openleash.domain.errors.OpenLeashError`; none returns a flag.
"""

from __future__ import annotations

import base64

from openleash.crypto import ed25519
from openleash.crypto.keyformat import (
    Ed25519PublicKey,
    b64decode,
    load_private_key,
    load_public_key,
)
from openleash.domain.errors import AuthenticationError

_SIGNATURE_LENGTH = 64


def signing_input(method: str, path: str, timestamp: str, nonce: str, body_sha256: str) -> str:
    """The text an agent signs: ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY_SHA256``.

    Every part is used exactly as sent (header strings, raw path without the query), because
    the agent signed those exact characters.
    """
    return "\n".join((method, path, timestamp, nonce, body_sha256))


def verify_request_signature(
    public_key: Ed25519PublicKey | str, signing_input: str, signature_b64: str
) -> None:
    """Verify an agent's ``X-Signature``; raise ``INVALID_SIGNATURE`` unless it is genuine.

    ``public_key`` is a loaded key or its base64 SPKI text (loaded through the cache).
    """
    key = load_public_key(public_key) if isinstance(public_key, str) else public_key
    _verify(key, signing_input.encode("utf-8"), signature_b64)


def verify_challenge_signature(
    public_key_b64: str, challenge_bytes: bytes, signature_b64: str
) -> None:
    """Verify a registration challenge signature; ``INVALID_KEY`` or ``INVALID_SIGNATURE``."""
    _verify(load_public_key(public_key_b64), challenge_bytes, signature_b64)


def sign(private_key_b64: str, data: bytes) -> str:
    """Standard base64 of the Ed25519 signature of ``data`` (what an agent puts in a header)."""
    signature = ed25519.sign(load_private_key(private_key_b64), data)
    return base64.b64encode(signature).decode("ascii")


def _verify(key: Ed25519PublicKey, data: bytes, signature_b64: str) -> None:
    signature = _decode_signature(signature_b64)
    try:
        ed25519.verify(key, signature, data)
    except ed25519.BadSignatureError:
        raise AuthenticationError("INVALID_SIGNATURE", "Invalid signature") from None


def _decode_signature(signature_b64: str) -> bytes:
    # A signature that is not even 64 bytes of base64 is just another invalid signature:
    # the agent gets the same answer whatever is wrong with it.
    try:
        signature = b64decode(signature_b64)
    except ValueError:
        signature = b""
    if len(signature) != _SIGNATURE_LENGTH:
        raise AuthenticationError("INVALID_SIGNATURE", "Invalid signature")
    return signature
