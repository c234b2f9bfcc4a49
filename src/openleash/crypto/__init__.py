"""Cryptography for OpenLeash: canonical JSON, request signatures, tokens and server keys.

The only package that imports ``cryptography`` or ``nacl``. PASETO v4.public and RFC 8785 are
written by hand in :mod:`openleash.crypto.hazmat` (which says why); ``pyseto`` and ``rfc8785``
are only the tests' references, not runtime dependencies. Everything here is deterministic given
its arguments (time is always a parameter) except key generation.
"""

from openleash.crypto.chain import (
    CHAINED_FIELDS,
    GENESIS_HASH,
    checkpoint_message,
    record_hash,
    sign_checkpoint,
    verify_checkpoint,
)
from openleash.crypto.errors import NotVerifiedError
from openleash.crypto.hazmat.canonical import action_hash, canonicalize, sha256_hex, stringify
from openleash.crypto.hazmat.jsjson import to_json
from openleash.crypto.keyformat import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
    generate_keypair,
    load_private_key,
    load_public_key,
    public_key_b64_of,
)
from openleash.crypto.keys import KeyRing, SigningKey, new_server_key
from openleash.crypto.secrets import hash_secret, new_token, verify_secret
from openleash.crypto.signing import (
    sign,
    signing_input,
    verify_challenge_signature,
    verify_request_signature,
)
from openleash.crypto.tokens import (
    APPROVAL,
    IAT_LEEWAY,
    OWNER_DEVICE,
    PROOF,
    USER_SESSION,
    ApprovalClaims,
    DeviceClaims,
    IssuedToken,
    ProofClaims,
    SessionClaims,
    Signer,
    encode_claims,
    issue_approval_token,
    issue_device_token,
    issue_proof,
    issue_session_token,
    issue_token,
    verify_token,
    verify_token_with_public_keys,
)
from openleash.crypto.vectors import compute_testvectors, default_inputs, render_testvectors
from openleash.domain.timefmt import iso_ms, parse_iso

__all__ = [
    "APPROVAL",
    "CHAINED_FIELDS",
    "GENESIS_HASH",
    "IAT_LEEWAY",
    "OWNER_DEVICE",
    "PROOF",
    "USER_SESSION",
    "ApprovalClaims",
    "DeviceClaims",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "IssuedToken",
    "KeyRing",
    "NotVerifiedError",
    "ProofClaims",
    "SessionClaims",
    "Signer",
    "SigningKey",
    "action_hash",
    "canonicalize",
    "checkpoint_message",
    "compute_testvectors",
    "default_inputs",
    "encode_claims",
    "generate_keypair",
    "hash_secret",
    "iso_ms",
    "issue_approval_token",
    "issue_device_token",
    "issue_proof",
    "issue_session_token",
    "issue_token",
    "load_private_key",
    "load_public_key",
    "new_server_key",
    "new_token",
    "parse_iso",
    "public_key_b64_of",
    "record_hash",
    "render_testvectors",
    "sha256_hex",
    "sign",
    "sign_checkpoint",
    "signing_input",
    "stringify",
    "to_json",
    "verify_challenge_signature",
    "verify_checkpoint",
    "verify_request_signature",
    "verify_secret",
    "verify_token",
    "verify_token_with_public_keys",
]
