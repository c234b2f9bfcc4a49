"""Agent request signatures: only a genuine Ed25519 signature by the agent's key passes."""

from __future__ import annotations

import base64

import pytest

from openleash.crypto import (
    generate_keypair,
    load_private_key,
    load_public_key,
    public_key_b64_of,
    sign,
    signing_input,
    verify_challenge_signature,
    verify_request_signature,
)
from openleash.domain.errors import OpenLeashError

# The official vector key (all-zero seed) and signature.
PUBLIC = "MCowBQYDK2VwAyEAO2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik="
PRIVATE = "MC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
BODY_SHA256 = "a97d394c6e93281642c4474a76cccf45f3420890cd59a22ee92c44c37baa8f3a"
INPUT = signing_input(
    "POST",
    "/v1/authorize",
    "2024-01-15T10:30:00.000Z",
    "00000000-0000-0000-0000-000000000099",
    BODY_SHA256,
)
SIGNATURE = (
    "HNHsMIwklM+UNzN4oYot/alSixP2Mw9HXAunmdftUfPJ3BYX/PFZcMvjh8u/aqWtCel5IxvmVmp5oq+xqLaFBw=="
)

P256_SPKI = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEtU6FmUP5hG/9bs5GNM6EWMmLDKPtyvtJbSUcM9VR/XhNnvHfiZya"
    "ReIOdsbSq/La6oHZcyck4UEJgDJ2ono1Pg=="
)
# Same length and layout as an Ed25519 SPKI, but the OID 1.3.101.110 is X25519.
X25519_SPKI = base64.b64encode(bytes.fromhex("302a300506032b656e032100") + bytes(32)).decode()


def _code(exc: pytest.ExceptionInfo[OpenLeashError]) -> str:
    return exc.value.code


def test_signing_input_joins_five_parts_with_newlines() -> None:
    assert signing_input("GET", "/p", "t", "n", "h") == "GET\n/p\nt\nn\nh"


def test_vector_signature_verifies_with_text_or_loaded_key() -> None:
    verify_request_signature(PUBLIC, INPUT, SIGNATURE)
    verify_request_signature(load_public_key(PUBLIC), INPUT, SIGNATURE)


def test_signing_reproduces_the_vector_signature() -> None:
    assert sign(PRIVATE, INPUT.encode("utf-8")) == SIGNATURE


@pytest.mark.parametrize(
    "tampered_input",
    [
        INPUT.replace("POST", "GET"),
        INPUT.replace("/v1/authorize", "/v1/authorize?x=1"),
        INPUT.replace("0099", "0098"),
        INPUT[:-1] + "b",
        INPUT + "\n",
    ],
)
def test_any_change_to_the_input_fails(tampered_input: str) -> None:
    with pytest.raises(OpenLeashError) as caught:
        verify_request_signature(PUBLIC, tampered_input, SIGNATURE)
    assert _code(caught) == "INVALID_SIGNATURE"
    assert caught.value.message == "Invalid signature"


def test_a_flipped_signature_bit_fails() -> None:
    raw = bytearray(base64.b64decode(SIGNATURE))
    raw[10] ^= 1
    with pytest.raises(OpenLeashError) as caught:
        verify_request_signature(PUBLIC, INPUT, base64.b64encode(bytes(raw)).decode())
    assert _code(caught) == "INVALID_SIGNATURE"


def test_another_agents_key_fails() -> None:
    other_public, _ = generate_keypair()
    with pytest.raises(OpenLeashError) as caught:
        verify_request_signature(other_public, INPUT, SIGNATURE)
    assert _code(caught) == "INVALID_SIGNATURE"


@pytest.mark.parametrize(
    "signature",
    ["", "!!!!", "not base64 at all", SIGNATURE[:-8], base64.b64encode(bytes(65)).decode()],
)
def test_malformed_signatures_are_invalid_signatures(signature: str) -> None:
    with pytest.raises(OpenLeashError) as caught:
        verify_request_signature(PUBLIC, INPUT, signature)
    assert _code(caught) == "INVALID_SIGNATURE"


def test_unpadded_and_urlsafe_signatures_are_read_like_node_does() -> None:
    verify_request_signature(PUBLIC, INPUT, SIGNATURE.rstrip("="))
    urlsafe = SIGNATURE.replace("+", "-").replace("/", "_")
    verify_request_signature(PUBLIC, INPUT, urlsafe)


@pytest.mark.parametrize(
    ("key", "message_part"),
    [
        ("%%%not-base64%%%", "base64"),
        ("aGVsbG8gd29ybGQ=", "SubjectPublicKeyInfo"),
        (P256_SPKI, "Ed25519"),
        (X25519_SPKI, "Ed25519"),
        (PRIVATE, "SubjectPublicKeyInfo"),
    ],
)
def test_bad_public_keys_are_invalid_key(key: str, message_part: str) -> None:
    with pytest.raises(OpenLeashError) as caught:
        load_public_key(key)
    assert _code(caught) == "INVALID_KEY"
    assert message_part in caught.value.message
    with pytest.raises(OpenLeashError) as caught:
        verify_request_signature(key, INPUT, SIGNATURE)
    assert _code(caught) == "INVALID_KEY"


@pytest.mark.parametrize("key", ["%%%", PUBLIC, "aGVsbG8="])
def test_bad_private_keys_are_invalid_key_without_echoing_them(key: str) -> None:
    with pytest.raises(OpenLeashError) as caught:
        load_private_key(key)
    assert _code(caught) == "INVALID_KEY"
    assert key not in caught.value.message


def test_loaded_public_keys_are_cached() -> None:
    assert load_public_key(PUBLIC) is load_public_key(PUBLIC)


def test_generated_keys_are_spki_and_pkcs8_ed25519() -> None:
    public, private = generate_keypair()
    public_der, private_der = base64.b64decode(public), base64.b64decode(private)
    assert len(public_der) == 44
    assert public_der.startswith(bytes.fromhex("302a300506032b6570032100"))
    assert len(private_der) == 48
    assert private_der.startswith(bytes.fromhex("302e020100300506032b657004220420"))
    assert public_key_b64_of(private) == public
    assert public_key_b64_of(PRIVATE) == PUBLIC


def test_generated_keys_sign_and_verify() -> None:
    public, private = generate_keypair()
    text = signing_input("GET", "/v1/agent/self", "t", "n", "h")
    verify_request_signature(public, text, sign(private, text.encode("utf-8")))


def test_challenge_signature() -> None:
    public, private = generate_keypair()
    challenge = bytes(range(32))
    verify_challenge_signature(public, challenge, sign(private, challenge))
    with pytest.raises(OpenLeashError) as caught:
        verify_challenge_signature(public, challenge[::-1], sign(private, challenge))
    assert _code(caught) == "INVALID_SIGNATURE"
    with pytest.raises(OpenLeashError) as caught:
        verify_challenge_signature(P256_SPKI, challenge, sign(private, challenge))
    assert _code(caught) == "INVALID_KEY"
