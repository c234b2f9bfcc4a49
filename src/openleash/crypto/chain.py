"""The audit hash chain and its signed checkpoints (the format is described in docs/audit.md).

Record ``n`` of the log stores ``hash_n = SHA-256(raw(hash_{n-1}) || JCS(content_n))`` in lowercase
hex, where ``raw`` turns the 64 hex digits into their 32 bytes and ``content_n`` is the JSON object
of the record's chained fields (:data:`CHAINED_FIELDS`, the stored ``metadata_json`` text included
as a string). The first record chains from :data:`GENESIS_HASH`.

A checkpoint is the server key's Ed25519 signature over the canonical JSON of
``{"purpose", "seq", "head_hash", "kid", "created_at"}``: it pins the whole chain up to ``seq``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature

from openleash.crypto.canonical import canonicalize
from openleash.crypto.keyformat import Ed25519PublicKey, b64decode, load_private_key
from openleash.domain.errors import OpenLeashError

#: The hash the first record chains from.
GENESIS_HASH = "0" * 64

#: What a record's hash covers, in the order the store passes the values: every column of the
#: stored record except the two hashes.
CHAINED_FIELDS = (
    "seq",
    "event_id",
    "timestamp",
    "event_type",
    "principal_id",
    "action_id",
    "decision_id",
    "owner_id",
    "agent_principal_id",
    "action_type",
    "result",
    "metadata_json",
)

#: Domain separation: a checkpoint signature can never pass for another signed message.
CHECKPOINT_PURPOSE = "openleash.audit.checkpoint.v1"

_SIGNATURE_LENGTH = 64


def record_hash(prev_hash: str, fields: Sequence[Any]) -> str:
    """The hash of one record: ``fields`` are the values of :data:`CHAINED_FIELDS`, in order.

    Raises ``ValueError`` when ``prev_hash`` is not hex (a stored hash that was tampered with).
    """
    content = canonicalize(dict(zip(CHAINED_FIELDS, fields, strict=True)))
    return hashlib.sha256(bytes.fromhex(prev_hash) + content).hexdigest()


def checkpoint_message(*, seq: int, head_hash: str, kid: str, created_at: str) -> bytes:
    """The bytes a checkpoint signs."""
    return canonicalize(
        {
            "purpose": CHECKPOINT_PURPOSE,
            "seq": seq,
            "head_hash": head_hash,
            "kid": kid,
            "created_at": created_at,
        }
    )


def sign_checkpoint(
    private_key_b64: str, *, seq: int, head_hash: str, kid: str, created_at: str
) -> str:
    """Standard base64 of the Ed25519 signature of a checkpoint, by the key ``kid``."""
    message = checkpoint_message(seq=seq, head_hash=head_hash, kid=kid, created_at=created_at)
    return base64.b64encode(load_private_key(private_key_b64).sign(message)).decode("ascii")


def verify_checkpoint(
    public_key: Ed25519PublicKey,
    *,
    seq: int,
    head_hash: str,
    kid: str,
    created_at: str,
    signature_b64: str,
) -> None:
    """Raise ``INVALID_SIGNATURE`` unless ``public_key`` signed exactly this checkpoint."""
    try:
        signature = b64decode(signature_b64)
    except ValueError:
        signature = b""
    if len(signature) != _SIGNATURE_LENGTH:
        raise OpenLeashError("INVALID_SIGNATURE", "Invalid checkpoint signature")
    message = checkpoint_message(seq=seq, head_hash=head_hash, kid=kid, created_at=created_at)
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        raise OpenLeashError("INVALID_SIGNATURE", "Invalid checkpoint signature") from None
