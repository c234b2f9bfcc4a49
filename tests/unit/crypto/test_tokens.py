"""PASETO tokens: exact claim order on issue; on verify, every failure raises with its reason."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pyseto
import pytest

from openleash.crypto import (
    KeyRing,
    SigningKey,
    encode_claims,
    iso_ms,
    issue_approval_token,
    issue_proof,
    issue_session_token,
    issue_token,
    load_private_key,
    new_server_key,
    verify_token,
    verify_token_with_public_keys,
)
from openleash.crypto.hazmat import paseto
from openleash.domain.errors import OpenLeashError, TokenError
from openleash.domain.models import ServerKey

NOW = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
NO_MATCH = "No matching key found or invalid signature"

PROOF_ORDER = [
    "iss",
    "kid",
    "iat",
    "exp",
    "decision_id",
    "owner_type",
    "owner_id",
    "agent_id",
    "action_type",
    "action_hash",
    "matched_rule_id",
]


# Fixed key material (the official vectors' all-zero seed) keeps every token, and so every
# test below, the same from run to run.
FIXED_KEY = ServerKey(
    kid="00000000-0000-0000-0000-000000000088",
    public_key_b64="MCowBQYDK2VwAyEAO2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=",
    private_key_b64="MC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    created_at="2024-01-01T00:00:00.000Z",
)


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing([]).rotate(FIXED_KEY)


def _proof(key: SigningKey | ServerKey, **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "now": NOW,
        "ttl_seconds": 120,
        "decision_id": "d-1",
        "owner_type": "user",
        "owner_id": "o-1",
        "agent_id": "agent",
        "action_type": "purchase",
        "action_hash": "ab" * 32,
        "matched_rule_id": "rule",
    }
    fields.update(overrides)
    return issue_proof(key, **fields).token


def _approval(key: SigningKey) -> str:
    return issue_approval_token(
        key,
        now=NOW,
        ttl_seconds=3600,
        approval_request_id="ar-1",
        owner_type="user",
        owner_id="o-1",
        agent_id="agent",
        action_type="purchase",
        action_hash="ab" * 32,
    ).token


def _session(key: SigningKey) -> str:
    return issue_session_token(
        key, now=NOW, ttl_seconds=60, user_principal_id="u-1", system_roles=["admin"]
    ).token


def _payload(token: str) -> bytes:
    body = token.removeprefix("v4.public.")
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))[:-64]


def _reason(token: str, ring: KeyRing, **kwargs: Any) -> str:
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("purpose", "proof")
    with pytest.raises(TokenError) as caught:
        verify_token(token, ring, **kwargs)
    return caught.value.reason


# --- timestamps -------------------------------------------------------------------------------


def test_iso_ms_is_javascript_to_iso_string() -> None:
    moment = datetime(2024, 1, 15, 10, 30, 5, 123999, tzinfo=UTC)
    assert iso_ms(moment) == "2024-01-15T10:30:05.123Z"
    plus_two = timezone(timedelta(hours=2))
    assert iso_ms(datetime(2024, 1, 15, 12, 30, tzinfo=plus_two)) == "2024-01-15T10:30:00.000Z"


def test_iso_ms_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone"):
        iso_ms(datetime(2024, 1, 15))


# --- issuing ----------------------------------------------------------------------------------


def test_proof_round_trip_keeps_claim_order(ring: KeyRing) -> None:
    token = _proof(ring.signer())
    claims = verify_token(token, ring, now=NOW + timedelta(seconds=1), purpose="proof")
    assert list(claims) == [*PROOF_ORDER, "purpose"]
    assert claims["kid"] == ring.active().kid
    assert claims["iat"] == "2024-01-15T10:30:00.000Z"
    assert claims["exp"] == "2024-01-15T10:32:00.000Z"
    assert claims["purpose"] == "proof"
    assert _payload(token) == json.dumps(claims, separators=(",", ":")).encode()


def test_proof_returns_its_expiry(ring: KeyRing) -> None:
    issued = issue_proof(
        ring.signer(),
        now=NOW,
        ttl_seconds=3600,
        decision_id="d",
        owner_type="user",
        owner_id="o",
        agent_id="a",
        action_type="t",
        action_hash="h",
        matched_rule_id=None,
    )
    token, expires_at = issued
    assert expires_at == "2024-01-15T11:30:00.000Z"
    assert verify_token(token, ring, now=NOW, purpose="proof")["matched_rule_id"] is None


def test_trust_profile_only_when_truthy_and_extras_last(ring: KeyRing) -> None:
    without = verify_token(_proof(ring.signer(), trust_profile=""), ring, now=NOW, purpose="proof")
    assert "trust_profile" not in without
    extra = {"policy_hash": "p", "approval_request_id": "ar"}
    token = _proof(ring.signer(), trust_profile="HIGH", extra=extra)
    claims = verify_token(token, ring, now=NOW, purpose="proof")
    assert list(claims)[len(PROOF_ORDER) :] == [
        "trust_profile",
        "purpose",
        "policy_hash",
        "approval_request_id",
    ]


@pytest.mark.parametrize("name", ["iss", "kid", "iat", "exp", "purpose", "agent_id"])
def test_extra_claims_cannot_override_standard_ones(ring: KeyRing, name: str) -> None:
    with pytest.raises(ValueError, match="set twice"):
        _proof(ring.signer(), extra={name: "forged"})


def test_approval_claim_order(ring: KeyRing) -> None:
    claims = verify_token(_approval(ring.signer()), ring, now=NOW, purpose="approval")
    assert list(claims) == [
        "iss",
        "kid",
        "iat",
        "exp",
        "approval_request_id",
        "owner_type",
        "owner_id",
        "agent_id",
        "action_type",
        "action_hash",
        "purpose",
    ]


def test_session_claim_order_puts_sub_before_iat(ring: KeyRing) -> None:
    claims = verify_token(_session(ring.signer()), ring, now=NOW, purpose="user_session")
    assert list(claims) == ["iss", "kid", "sub", "iat", "exp", "purpose", "system_roles"]
    memberships = [{"org_id": "org", "role": "org_admin"}]
    token = issue_session_token(
        ring.signer(),
        now=NOW,
        ttl_seconds=60,
        user_principal_id="u",
        system_roles=[],
        org_memberships=memberships,
    ).token
    claims = verify_token(token, ring, now=NOW, purpose="user_session")
    assert claims["org_memberships"] == memberships
    assert list(claims)[-1] == "org_memberships"


def test_a_stored_server_key_signs_like_its_loaded_signer(ring: KeyRing) -> None:
    assert _proof(ring.active()) == _proof(ring.signer())


def test_a_revoked_server_key_refuses_to_sign() -> None:
    revoked = replace(FIXED_KEY, revoked_at="2024-01-02T00:00:00.000Z")
    with pytest.raises(OpenLeashError) as caught:
        _proof(revoked)
    assert caught.value.code == "INTERNAL_ERROR"


def test_generic_issue_with_head_and_body(ring: KeyRing) -> None:
    token = issue_token(
        ring.signer(), {"z": 1, "a": [1.5, 5.0]}, now=NOW, ttl_seconds=10, head={"sub": "s"}
    ).token
    assert _payload(token).endswith(b'"z":1,"a":[1.5,5]}')
    claims = verify_token(token, ring, now=NOW, purpose=None)
    assert list(claims) == ["iss", "kid", "sub", "iat", "exp", "z", "a"]


@pytest.mark.parametrize("ttl", [0, -1])
def test_non_positive_ttl_is_refused(ring: KeyRing, ttl: int) -> None:
    with pytest.raises(ValueError, match="ttl"):
        issue_token(ring.signer(), {}, now=NOW, ttl_seconds=ttl)


# --- purpose --------------------------------------------------------------------------------


def test_wrong_purpose_is_refused(ring: KeyRing) -> None:
    assert _reason(_approval(ring.signer()), ring, purpose="proof") == "Invalid token purpose"
    assert _reason(_session(ring.signer()), ring, purpose="proof") == "Invalid token purpose"
    assert _reason(_proof(ring.signer()), ring, purpose="approval") == "Invalid token purpose"
    assert _reason(_proof(ring.signer()), ring, purpose="user_session") == "Invalid token purpose"


def test_a_proof_without_purpose_claim_counts_only_as_a_proof(ring: KeyRing) -> None:
    key = ring.signer()
    legacy = {
        "iss": "openleash",
        "kid": key.kid,
        "iat": iso_ms(NOW),
        "exp": iso_ms(NOW + timedelta(minutes=2)),
    }
    token = encode_claims(key, legacy)
    assert verify_token(token, ring, now=NOW, purpose="proof") == legacy
    assert _reason(token, ring, purpose="approval") == "Invalid token purpose"
    assert _reason(token, ring, purpose="user_session") == "Invalid token purpose"


def test_no_expected_purpose_accepts_any_kind(ring: KeyRing) -> None:
    for token in (_approval(ring.signer()), _session(ring.signer()), _proof(ring.signer())):
        verify_token(token, ring, now=NOW, purpose=None)


# --- time -------------------------------------------------------------------------------------


def test_expired_at_exp_and_after(ring: KeyRing) -> None:
    token = _proof(ring.signer())  # exp = NOW + 120 s
    verify_token(
        token, ring, now=NOW + timedelta(seconds=119, microseconds=999000), purpose="proof"
    )
    assert _reason(token, ring, now=NOW + timedelta(seconds=120)) == "Token expired"
    assert _reason(token, ring, now=NOW + timedelta(days=400)) == "Token expired"


def test_issued_in_the_future_beyond_the_leeway(ring: KeyRing) -> None:
    token = _proof(ring.signer())
    verify_token(token, ring, now=NOW - timedelta(seconds=5), purpose="proof")
    assert _reason(token, ring, now=NOW - timedelta(seconds=6)) == "Token issued in the future"
    strict = {"iat_leeway": timedelta(0), "now": NOW - timedelta(milliseconds=1)}
    assert _reason(token, ring, **strict) == "Token issued in the future"


def test_wrong_purpose_is_reported_before_expiry(ring: KeyRing) -> None:
    late = NOW + timedelta(days=1)
    assert _reason(_approval(ring.signer()), ring, now=late) == "Invalid token purpose"


# --- keys -------------------------------------------------------------------------------------


def test_revoked_key_verifies_nothing(ring: KeyRing) -> None:
    old_kid = ring.active().kid
    token = _proof(ring.signer())
    rotated = ring.rotate(new_server_key(NOW))
    verify_token(token, rotated, now=NOW, purpose="proof")  # rotation alone keeps old proofs valid
    revoked = rotated.revoke(old_kid, NOW)
    assert _reason(token, revoked) == "Key revoked"


def test_unknown_kid_finds_no_key(ring: KeyRing) -> None:
    other = KeyRing([]).rotate(new_server_key(NOW))
    assert _reason(_proof(other.signer()), ring) == NO_MATCH


def test_known_kid_with_another_key_fails(ring: KeyRing) -> None:
    impostor = SigningKey(ring.active().kid, load_private_key(new_server_key(NOW).private_key_b64))
    assert _reason(_proof(impostor), ring) == NO_MATCH


def test_token_without_kid_is_tried_against_every_unrevoked_key(ring: KeyRing) -> None:
    rotated = ring.rotate(new_server_key(NOW))
    old_signer = SigningKey("", load_private_key(ring.active().private_key_b64))
    claims = {"iss": "openleash", "iat": iso_ms(NOW), "exp": iso_ms(NOW + timedelta(minutes=1))}
    token = encode_claims(old_signer, claims)
    assert verify_token(token, rotated, now=NOW, purpose="proof") == claims
    assert _reason(token, rotated.revoke(ring.active().kid, NOW)) == NO_MATCH


def test_non_string_kid_finds_no_key(ring: KeyRing) -> None:
    key = ring.signer()
    token = encode_claims(
        key, {"iss": "openleash", "kid": 7, "iat": iso_ms(NOW), "exp": iso_ms(NOW)}
    )
    assert _reason(token, ring) == NO_MATCH


# --- tampering and malformed tokens ------------------------------------------------------------


def _rebuild(payload: bytes, signature: bytes) -> str:
    return "v4.public." + base64.urlsafe_b64encode(payload + signature).rstrip(b"=").decode()


def test_tampered_payload_fails(ring: KeyRing) -> None:
    token = _proof(ring.signer())
    body = token.removeprefix("v4.public.")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    payload, signature = raw[:-64], raw[-64:]
    forged = payload.replace(b'"agent_id":"agent"', b'"agent_id":"agenu"')
    assert forged != payload
    assert _reason(_rebuild(forged, signature), ring) == NO_MATCH
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert _reason(_rebuild(payload, flipped), ring) == NO_MATCH


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("v4.public.", "v4.local."),
        lambda t: t.replace("v4.public.", "v3.public."),
        lambda t: t + ".eyJraWQiOiJ4In0",  # a footer
        lambda t: t + "=",
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t[:40],
        lambda t: "v4.public.",
        lambda t: "",
        lambda t: t.replace("-", "+").replace("_", "/"),
    ],
)
def test_malformed_tokens_find_no_key(ring: KeyRing, mangle: Any) -> None:
    token = _proof(ring.signer())
    mangled = mangle(token)
    assert mangled != token
    assert _reason(mangled, ring) == NO_MATCH


def test_non_canonical_base64_spelling_is_refused(ring: KeyRing) -> None:
    token = _proof(ring.signer())
    body = token.removeprefix("v4.public.")
    raw_length = len(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert raw_length % 3 != 0  # so the last character carries spare bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(body[-1])
    variant = body[:-1] + alphabet[last | 1]  # a trailing spare bit: same bytes, other text
    assert variant != body
    assert _reason("v4.public." + variant, ring) == NO_MATCH


def test_signed_payload_that_is_not_an_object_is_refused(ring: KeyRing) -> None:
    key = ring.signer()
    token = paseto.sign(key.private_key, b"[1,2,3]")
    assert _reason(token, ring) == NO_MATCH


@pytest.mark.parametrize(
    "claims",
    [
        {
            "iss": "someone-else",
            "iat": "2024-01-15T10:30:00.000Z",
            "exp": "2024-01-15T10:32:00.000Z",
        },
        {"iss": "openleash", "iat": "2024-01-15T10:30:00.000Z"},
        {"iss": "openleash", "iat": "2024-01-15T10:30:00.000Z", "exp": 1705315920},
        {"iss": "openleash", "iat": "2024-01-15T10:30:00.000Z", "exp": "2024-01-15T10:32:00"},
        {"iss": "openleash", "iat": "yesterday", "exp": "2024-01-15T10:32:00.000Z"},
    ],
)
def test_signed_but_malformed_claims_are_refused(ring: KeyRing, claims: dict[str, Any]) -> None:
    key = ring.signer()
    token = encode_claims(key, {"kid": key.kid, **claims})
    assert _reason(token, ring) == "Invalid token claims"


# --- counterparties and the reference implementation -----------------------------------------


def test_verify_with_public_key_list(ring: KeyRing) -> None:
    token = _proof(ring.signer())
    public_keys = ring.public_view()
    assert "private_key_b64" not in public_keys[0]
    claims = verify_token_with_public_keys(token, public_keys, now=NOW, purpose="proof")
    assert claims["agent_id"] == "agent"
    revoked = [{**public_keys[0], "revoked_at": iso_ms(NOW)}]
    with pytest.raises(TokenError) as caught:
        verify_token_with_public_keys(token, revoked, now=NOW, purpose="proof")
    assert caught.value.reason == "Key revoked"


def _pem(kind: str, der_b64: str) -> bytes:
    return f"-----BEGIN {kind}-----\n{der_b64}\n-----END {kind}-----\n".encode("ascii")


def test_pyseto_verifies_our_tokens(ring: KeyRing) -> None:
    token = _proof(ring.signer(), extra={"amount": 12.5})
    key = pyseto.Key.new(
        version=4, purpose="public", key=_pem("PUBLIC KEY", ring.active().public_key_b64)
    )
    decoded = pyseto.decode(key, token)
    assert decoded.payload == _payload(token)
    assert decoded.footer == b""


def test_we_verify_pyseto_tokens(ring: KeyRing) -> None:
    active: ServerKey = ring.active()
    key = pyseto.Key.new(
        version=4, purpose="public", key=_pem("PRIVATE KEY", active.private_key_b64)
    )
    claims = {
        "iss": "openleash",
        "kid": active.kid,
        "iat": iso_ms(NOW),
        "exp": iso_ms(NOW + timedelta(minutes=1)),
        "purpose": "proof",
    }
    token = pyseto.encode(key, json.dumps(claims, separators=(",", ":")).encode()).decode()
    assert token == encode_claims(ring.signer(), claims)  # Ed25519 is deterministic
    assert verify_token(token, ring, now=NOW, purpose="proof") == claims


def test_we_refuse_pyseto_tokens_with_a_footer(ring: KeyRing) -> None:
    active = ring.active()
    key = pyseto.Key.new(
        version=4, purpose="public", key=_pem("PRIVATE KEY", active.private_key_b64)
    )
    claims = {
        "iss": "openleash",
        "kid": active.kid,
        "iat": iso_ms(NOW),
        "exp": iso_ms(NOW + timedelta(minutes=1)),
    }
    token = pyseto.encode(key, json.dumps(claims).encode(), footer=b"f").decode()
    assert _reason(token, ring) == NO_MATCH
