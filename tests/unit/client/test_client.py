"""The agent SDK: request signing the server accepts, offline proof verification, key cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from openleash.client import AgentAuth, PublicKey, PublicKeyCache, verify_proof_offline
from openleash.crypto import (
    generate_keypair,
    issue_proof,
    load_public_key,
    new_server_key,
    signing_input,
    verify_request_signature,
)
from openleash.domain.errors import TokenError
from openleash.domain.models import ServerKey

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def proof(key: ServerKey, **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "now": NOW,
        "ttl_seconds": 120,
        "decision_id": "d-1",
        "owner_type": "user",
        "owner_id": "o-1",
        "agent_id": "agent-1",
        "action_type": "purchase",
        "action_hash": "ab" * 32,
        "matched_rule_id": "r",
    }
    fields.update(overrides)
    token, _ = issue_proof(key, **fields)
    return token


def active(key: ServerKey) -> ServerKey:
    return ServerKey(key.kid, key.public_key_b64, key.private_key_b64, key.created_at, None, True)


def public(key: ServerKey, revoked_at: str | None = None) -> dict[str, Any]:
    return {**key.public_view(), "revoked_at": revoked_at}


def test_auth_signs_what_the_server_verifies() -> None:
    public_b64, private_b64 = generate_keypair()
    auth = AgentAuth("agent-1", private_b64)
    request = httpx.Request("POST", "http://x/v1/authorize?trace=1", content=b'{"a":1}')
    signed = next(auth.auth_flow(request))
    headers = signed.headers
    message = signing_input(
        "POST",
        "/v1/authorize",
        headers["X-Timestamp"],
        headers["X-Nonce"],
        headers["X-Body-Sha256"],
    )
    verify_request_signature(load_public_key(public_b64), message, headers["X-Signature"])
    assert headers["X-Agent-Id"] == "agent-1"


def test_get_requests_hash_an_empty_object_like_the_official_sdks() -> None:
    _, private_b64 = generate_keypair()
    headers = AgentAuth("a", private_b64).sign_headers("GET", "/v1/agent/self", b"")
    assert headers["X-Body-Sha256"] == (
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )


def test_each_request_gets_a_fresh_nonce() -> None:
    _, private_b64 = generate_keypair()
    auth = AgentAuth("a", private_b64)
    nonces = {auth.sign_headers("GET", "/x", b"")["X-Nonce"] for _ in range(20)}
    assert len(nonces) == 20


def test_offline_verification_checks_expectations_and_expiry() -> None:
    key = active(new_server_key(NOW))
    token = proof(key)
    claims = verify_proof_offline(
        token, [public(key)], now=NOW, expected_agent_id="agent-1", expected_action_hash="ab" * 32
    )
    assert claims["decision_id"] == "d-1"
    with pytest.raises(TokenError, match="action_hash mismatch"):
        verify_proof_offline(token, [public(key)], now=NOW, expected_action_hash="cd" * 32)
    with pytest.raises(TokenError, match="agent_id mismatch"):
        verify_proof_offline(token, [public(key)], now=NOW, expected_agent_id="agent-2")
    with pytest.raises(TokenError, match="Token expired"):
        verify_proof_offline(token, [public(key)], now=NOW + timedelta(seconds=121))


def test_revoked_key_verifies_nothing() -> None:
    key = active(new_server_key(NOW))
    with pytest.raises(TokenError):
        verify_proof_offline(
            proof(key), [public(key, revoked_at="2026-11-28T11:00:00.000Z")], now=NOW
        )


def test_key_entries_verification_cannot_read_are_left_out() -> None:
    key = active(new_server_key(NOW))
    good = public(key)
    odd = [{"kid": 1, "public_key_b64": "x"}, {"kid": "k"}, {**good, "revoked_at": 5}, "k"]
    cache = PublicKeyCache("http://issuer", fetch=lambda: [*odd, good])
    assert cache.keys() == [good]
    assert verify_proof_offline(proof(key), [*odd, good], now=NOW)["kid"] == key.kid
    with pytest.raises(TokenError, match="No matching key"):
        verify_proof_offline(proof(key), odd, now=NOW)


def test_keys_as_the_client_reads_them_verify_too() -> None:
    key = active(new_server_key(NOW))
    published = [PublicKey.from_wire(public(key))]  # what client.public_keys() returns
    assert verify_proof_offline(proof(key), published, now=NOW)["kid"] == key.kid
    cache = PublicKeyCache("http://issuer", fetch=lambda: published)
    assert cache.keys() == [public(key)]


def test_key_cache_fetches_once_and_again_for_an_unknown_kid() -> None:
    old = active(new_server_key(NOW))
    new = active(new_server_key(NOW))
    published = [[public(old)], [public(old), public(new)]]
    fetches: list[int] = []

    def fetch() -> list[dict[str, Any]]:
        fetches.append(1)
        return published[min(len(fetches) - 1, 1)]

    cache = PublicKeyCache("http://issuer", fetch=fetch)
    verify_proof_offline(proof(old), cache, now=NOW)
    verify_proof_offline(proof(old), cache, now=NOW)
    assert len(fetches) == 1
    verify_proof_offline(proof(new), cache, now=NOW)  # rotated since: refetched
    assert len(fetches) == 2
