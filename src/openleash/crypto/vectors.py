"""The official cross-language test vectors (inv §6), computed rather than copied.

``openleash testvectors`` prints :func:`render_testvectors` of :func:`compute_testvectors` of
:func:`default_inputs`; the result must equal the file the TypeScript CLI generates, byte for
byte. Every derived field is recomputed here from the inputs alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import orjson

from openleash.crypto import keyformat, signing, tokens
from openleash.crypto.hazmat.canonical import action_hash, canonicalize, sha256_hex, stringify
from openleash.crypto.hazmat.jsjson import integer_to_string, number_to_string
from openleash.crypto.keys import SigningKey
from openleash.domain.action import ActionDoc
from openleash.domain.jsonvalue import JsonObject

_TIMESTAMP = "2024-01-15T10:30:00.000Z"


class VectorInputs(TypedDict):
    """What every other field of the vectors is computed from."""

    action: ActionDoc
    private_key_b64: str
    signing_input: str
    paseto_claims: dict[str, str]


class Vectors(TypedDict):
    """The vectors, in the order of the official file."""

    action: JsonObject
    canonical_json: str
    action_hash: str
    public_key_b64: str
    private_key_b64: str
    signing_input: str
    body_sha256: str
    signature_b64: str
    paseto_token: str
    paseto_claims: JsonObject


def default_inputs() -> VectorInputs:
    """The fixed inputs of the official vectors."""
    action: ActionDoc = {
        "action_id": "00000000-0000-0000-0000-000000000001",
        "action_type": "purchase",
        "requested_at": _TIMESTAMP,
        "principal": {"agent_id": "test-agent"},
        "subject": {"principal_id": "00000000-0000-0000-0000-000000000002"},
        "relying_party": {"domain": "example.com", "trust_profile": "LOW"},
        "payload": {"amount_minor": 5000, "currency": "USD", "merchant_domain": "example.com"},
    }
    # The all-zero seed: a published test key, so that every implementation gets equal bytes.
    seed_key = keyformat.Ed25519PrivateKey.from_private_bytes(bytes(32))
    claims = {
        "iss": tokens.ISSUER,
        "kid": "00000000-0000-0000-0000-000000000088",
        "iat": _TIMESTAMP,
        "exp": "2024-01-15T10:32:00.000Z",
        "decision_id": "00000000-0000-0000-0000-000000000077",
        "owner_type": "user",
        "owner_id": "00000000-0000-0000-0000-000000000002",
        "agent_id": "test-agent",
        "action_type": "purchase",
        "action_hash": action_hash(action),
        "matched_rule_id": "test-rule",
    }
    request = ["POST", "/v1/authorize", _TIMESTAMP, "00000000-0000-0000-0000-000000000099", ""]
    return {
        "action": action,
        "private_key_b64": keyformat.private_key_to_b64(seed_key),
        "signing_input": "\n".join(request),
        "paseto_claims": claims,
    }


def compute_testvectors(inputs: Mapping[str, Any]) -> Vectors:
    """Every vector field, in the official order, from ``action``, ``private_key_b64``,
    ``paseto_claims`` and the method, path, timestamp and nonce of ``signing_input``.

    ``inputs`` may come from a file (``openleash testvectors --input``): a value of the wrong
    type raises ``TypeError``, ``ValueError``, ``KeyError`` or ``AttributeError`` where it is
    used, for the command to report."""
    action = inputs["action"]
    private_key_b64: str = inputs["private_key_b64"]
    claims: JsonObject = inputs["paseto_claims"]
    method, path, timestamp, nonce = inputs["signing_input"].split("\n")[:4]
    body_sha256 = sha256_hex(stringify(action))
    text = signing.signing_input(method, path, timestamp, nonce, body_sha256)
    canonical = canonicalize(action)
    paseto_key = SigningKey(str(claims.get("kid", "")), keyformat.load_private_key(private_key_b64))
    return {
        "action": action,
        "canonical_json": canonical.decode("utf-8"),
        "action_hash": sha256_hex(canonical),
        "public_key_b64": keyformat.public_key_b64_of(private_key_b64),
        "private_key_b64": private_key_b64,
        "signing_input": text,
        "body_sha256": body_sha256,
        "signature_b64": signing.sign(private_key_b64, text.encode("utf-8")),
        "paseto_token": tokens.encode_claims(paseto_key, claims),
        "paseto_claims": claims,
    }


def render_testvectors(vectors: Mapping[str, object]) -> str:
    """The file text: ``JSON.stringify(vectors, null, 2)``, no trailing newline."""
    return orjson.dumps(_js_numbers(vectors), option=orjson.OPT_INDENT_2).decode("utf-8")


def _js_numbers(value: object) -> object:
    # orjson indents exactly like JSON.stringify; only its numbers need JavaScript's spelling.
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return orjson.Fragment(integer_to_string(value))
    if isinstance(value, float):
        return orjson.Fragment(number_to_string(value))
    if isinstance(value, Mapping):
        return {key: _js_numbers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_js_numbers(item) for item in value]
    raise TypeError(f"{type(value).__name__} is not a JSON value")
