"""The audit hash chain and its signed checkpoints (the format is described in docs/audit.md).

Record ``n`` of the log stores, in lowercase hex::

    hash_n = SHA-256( raw(hash_{n-1}) || JCS(header_n) || 0x0A || UTF-8(metadata_json_n) )

``raw`` turns the 64 hex digits of the previous hash into their 32 bytes (the first record
chains from :data:`GENESIS_HASH`); ``header_n`` is the JSON object of the record's other chained
fields (:data:`HEADER_FIELDS`) in RFC 8785 form; ``metadata_json_n`` is the metadata exactly as
stored. The encoding is unambiguous: the previous hash has a fixed length and canonical JSON
never contains a raw line feed, so the first one ends the header. The metadata is hashed as its
stored bytes rather than escaped into the header: it is most of the record, and the hash is
computed under the write lock on every decision.

A checkpoint is the server key's Ed25519 signature over the canonical JSON of
``{"purpose", "seq", "head_hash", "kid", "created_at"}``: it pins the whole chain up to ``seq``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

import orjson
from cryptography.exceptions import InvalidSignature

from openleash.crypto.hazmat.canonical import canonicalize
from openleash.crypto.keyformat import Ed25519PublicKey, b64decode, load_private_key
from openleash.domain.errors import AuthenticationError

#: The hash the first record chains from.
GENESIS_HASH = "0" * 64

#: The fields of a record's header, in the order the store passes their values.
HEADER_FIELDS = (
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
)

#: What a record's hash covers, in order: every stored column except the two hashes.
CHAINED_FIELDS = (*HEADER_FIELDS, "metadata_json")

#: Domain separation: a checkpoint signature can never pass for another signed message.
CHECKPOINT_PURPOSE = "openleash.audit.checkpoint.v1"

_SIGNATURE_LENGTH = 64
_HEADER_WIDTH = len(HEADER_FIELDS)
_FLAT = frozenset({str, int, type(None)})
_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def record_hash(prev_hash: str, fields: Sequence[object]) -> str:
    """The hash of one record: ``fields`` are the values of :data:`CHAINED_FIELDS`, in order.

    Raises ``ValueError`` when ``prev_hash`` is not hex (a stored hash that was tampered with)
    or ``fields`` has the wrong length.
    """
    if len(fields) != _HEADER_WIDTH + 1:
        raise ValueError(f"a record has {_HEADER_WIDTH + 1} chained fields, not {len(fields)}")
    digest = hashlib.sha256(bytes.fromhex(prev_hash))
    digest.update(_header(dict(zip(HEADER_FIELDS, fields, strict=False))))
    digest.update(b"\n")
    digest.update(str(fields[_HEADER_WIDTH]).encode("utf-8"))
    return digest.hexdigest()


def _header(header: dict[str, object]) -> bytes:
    # Hashed under the write lock for every record. With ASCII keys and only strings, nulls and
    # integers (a stored header), orjson's sorted output is the RFC 8785 form (canonical.py
    # explains why); anything else, and integers beyond 2**53, take the general path.
    if all(type(value) in _FLAT for value in header.values()):
        try:
            return orjson.dumps(header, option=_SORTED)
        except orjson.JSONEncodeError:
            pass
    return canonicalize(header)


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
        raise AuthenticationError("INVALID_SIGNATURE", "Invalid checkpoint signature")
    message = checkpoint_message(seq=seq, head_hash=head_hash, kid=kid, created_at=created_at)
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        raise AuthenticationError("INVALID_SIGNATURE", "Invalid checkpoint signature") from None
