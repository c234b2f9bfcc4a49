"""The hand-written PASETO v4.public and canonical JSON (openleash.crypto.hazmat) agree byte for
byte with the reference libraries, pyseto and rfc8785, on random claims and random JSON.

The references are development dependencies only: this is where they earn their place.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyseto
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from openleash.crypto import (
    KeyRing,
    canonicalize,
    encode_claims,
    iso_ms,
    load_public_key,
    verify_token,
)
from openleash.crypto.hazmat import paseto
from openleash.domain.models import ServerKey

NOW = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)

# The official vectors' all-zero seed: Ed25519 is deterministic, so tokens compare as text.
KEY = ServerKey(
    kid="00000000-0000-0000-0000-000000000088",
    public_key_b64="MCowBQYDK2VwAyEAO2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=",
    private_key_b64="MC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    created_at="2024-01-01T00:00:00.000Z",
)
RING = KeyRing([]).rotate(KEY)
REQUIRED_CLAIMS = {
    "iss": "openleash",
    "kid": KEY.kid,
    "iat": iso_ms(NOW),
    "exp": iso_ms(NOW + timedelta(minutes=1)),
    "purpose": "proof",
}


def _pem(kind: str, der_b64: str) -> bytes:
    return f"-----BEGIN {kind}-----\n{der_b64}\n-----END {kind}-----\n".encode("ascii")


PYSETO_SIGNER = pyseto.Key.new(
    version=4, purpose="public", key=_pem("PRIVATE KEY", KEY.private_key_b64)
)
PYSETO_VERIFIER = pyseto.Key.new(
    version=4, purpose="public", key=_pem("PUBLIC KEY", KEY.public_key_b64)
)


def _js_stringify(value: Any) -> bytes:
    """An independent ``JSON.stringify`` for what the claim strategy draws (no floats, no lone
    surrogates): Python's encoder escapes exactly the same characters there."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# Claim values as OpenLeash puts them in tokens: strings, safe integers, booleans, null, and
# nested objects and arrays of them (an action's fields, a session's roles).
_CLAIM_TEXT = st.text(max_size=12)
_CLAIM_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
        _CLAIM_TEXT,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_CLAIM_TEXT, inner, max_size=3)
    ),
    max_leaves=12,
)
_EXTRA_CLAIMS = st.dictionaries(
    _CLAIM_TEXT.filter(lambda key: key not in REQUIRED_CLAIMS), _CLAIM_VALUES, max_size=5
)


# --- PASETO v4.public against pyseto ----------------------------------------------------------

# pyseto refuses to decode an empty message; a token's message is never empty (it is JSON).
_PAYLOADS = st.binary(min_size=1, max_size=300)


@given(_PAYLOADS)
@settings(max_examples=200)
def test_paseto_signs_any_payload_exactly_as_pyseto(payload: bytes) -> None:
    ours = paseto.sign(RING.signer().private_key, payload)
    assert ours == pyseto.encode(PYSETO_SIGNER, payload).decode("ascii")
    assert pyseto.decode(PYSETO_VERIFIER, ours).payload == payload


@given(_PAYLOADS)
@settings(max_examples=200)
def test_paseto_verifies_any_payload_pyseto_signed(payload: bytes) -> None:
    token = pyseto.encode(PYSETO_SIGNER, payload).decode("ascii")
    message, signature = paseto.split(token)
    assert message == payload
    paseto.verify(load_public_key(KEY.public_key_b64), message, signature)


@given(_EXTRA_CLAIMS)
@settings(max_examples=200)
def test_pyseto_reads_our_tokens_for_random_claims(extra: dict[str, Any]) -> None:
    claims = {**REQUIRED_CLAIMS, **extra}
    token = encode_claims(RING.signer(), claims)
    decoded = pyseto.decode(PYSETO_VERIFIER, token)
    assert decoded.payload == _js_stringify(claims)
    assert decoded.footer == b""


@given(_EXTRA_CLAIMS)
@settings(max_examples=200)
def test_we_accept_pyseto_tokens_for_random_claims(extra: dict[str, Any]) -> None:
    claims = {**REQUIRED_CLAIMS, **extra}
    token = pyseto.encode(PYSETO_SIGNER, _js_stringify(claims)).decode("ascii")
    assert token == encode_claims(RING.signer(), claims)
    assert verify_token(token, RING, now=NOW, purpose="proof") == claims


# --- RFC 8785 against rfc8785 -----------------------------------------------------------------

_JSON_TEXT = st.text(max_size=8)
_ANY_NUMBER = st.one_of(
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    # Beyond 2^53 (and up to where a double still holds it): JavaScript makes a double of it.
    st.integers(min_value=-(2**1000), max_value=2**1000),
    st.floats(allow_nan=False, allow_infinity=False),
)
_ANY_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), _ANY_NUMBER, _JSON_TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_JSON_TEXT, inner, max_size=4)
    ),
    max_leaves=20,
)


def _as_javascript_numbers(value: Any) -> Any:
    """``value`` with every integer JavaScript cannot hold exactly made the double it becomes
    there, which is what rfc8785 accepts (it refuses such integers)."""
    if isinstance(value, dict):
        return {key: _as_javascript_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_javascript_numbers(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53 - 1:
        return float(value)
    return value


def test_rfc8785_refuses_integers_javascript_cannot_hold() -> None:
    # Why the comparison below converts first; if rfc8785 ever accepts them, compare directly.
    with pytest.raises(rfc8785.IntegerDomainError):
        rfc8785.dumps(2**53)


@given(_ANY_JSON)
@settings(max_examples=400)
def test_canonical_json_equals_rfc8785_after_javascript_number_conversion(value: Any) -> None:
    assert canonicalize(value) == rfc8785.dumps(_as_javascript_numbers(value))
