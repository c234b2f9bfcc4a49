"""The official OpenLeash test vectors, reproduced byte for byte from their inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from openleash.crypto import (
    action_hash,
    canonicalize,
    compute_testvectors,
    default_inputs,
    render_testvectors,
    sha256_hex,
    signing_input,
    stringify,
    verify_request_signature,
    verify_token_with_public_keys,
)
from openleash.domain.errors import OpenLeashError, TokenError

FIELDS = [
    "action",
    "canonical_json",
    "action_hash",
    "public_key_b64",
    "private_key_b64",
    "signing_input",
    "body_sha256",
    "signature_b64",
    "paseto_token",
    "paseto_claims",
]


def test_the_file_has_the_fields_we_reproduce(official: dict[str, Any]) -> None:
    assert list(official) == FIELDS


@pytest.mark.parametrize("field", FIELDS)
def test_each_field_is_reproduced(official: dict[str, Any], field: str) -> None:
    assert compute_testvectors(official)[field] == official[field]


def test_whole_file_is_reproduced_in_order(official: dict[str, Any]) -> None:
    computed = compute_testvectors(official)
    assert computed == official
    assert list(computed) == list(official)


def test_default_inputs_print_the_file_byte_for_byte(official_text: str) -> None:
    assert render_testvectors(compute_testvectors(default_inputs())) == official_text


def test_canonical_json_and_hashes(official: dict[str, Any]) -> None:
    action = official["action"]
    assert canonicalize(action).decode("utf-8") == official["canonical_json"]
    assert action_hash(action) == official["action_hash"]
    assert sha256_hex(official["canonical_json"].encode("utf-8")) == official["action_hash"]
    assert sha256_hex(stringify(action)) == official["body_sha256"]


def test_signing_input_is_the_five_joined_parts(official: dict[str, Any]) -> None:
    parts = official["signing_input"].split("\n")
    assert len(parts) == 5
    assert signing_input(*parts) == official["signing_input"]
    assert parts[4] == official["body_sha256"]


def test_official_signature_verifies(official: dict[str, Any]) -> None:
    verify_request_signature(
        official["public_key_b64"], official["signing_input"], official["signature_b64"]
    )


def test_official_signature_fails_on_another_body_hash(official: dict[str, Any]) -> None:
    tampered = official["signing_input"].rsplit("\n", 1)[0] + "\n" + "0" * 64
    with pytest.raises(OpenLeashError) as caught:
        verify_request_signature(official["public_key_b64"], tampered, official["signature_b64"])
    assert caught.value.code == "INVALID_SIGNATURE"


def _public_keys(official: dict[str, Any]) -> list[dict[str, Any]]:
    kid = official["paseto_claims"]["kid"]
    return [{"kid": kid, "public_key_b64": official["public_key_b64"], "revoked_at": None}]


def test_official_token_verifies_within_its_lifetime(official: dict[str, Any]) -> None:
    claims = verify_token_with_public_keys(
        official["paseto_token"],
        _public_keys(official),
        now=datetime(2024, 1, 15, 10, 31, tzinfo=UTC),
        purpose="proof",
    )
    assert claims == official["paseto_claims"]
    assert list(claims) == list(official["paseto_claims"])


def test_official_token_is_reported_expired_today(official: dict[str, Any]) -> None:
    with pytest.raises(TokenError) as caught:
        verify_token_with_public_keys(
            official["paseto_token"],
            _public_keys(official),
            now=datetime(2030, 1, 1, tzinfo=UTC),
            purpose="proof",
        )
    assert caught.value.reason == "Token expired"
