"""Our own vectors: JavaScript number and string edge cases, a GET signature, and each token kind.

The canonical forms are what JavaScript produces; when ``node`` is installed the last test
recomputes them with ``JSON.parse`` + sorted keys + ``JSON.stringify`` to prove it.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from datetime import UTC, datetime
from typing import Any

import pyseto
import pytest

from openleash.crypto import (
    KeyRing,
    SigningKey,
    canonicalize,
    issue_approval_token,
    issue_proof,
    issue_session_token,
    load_private_key,
    sha256_hex,
    sign,
    signing_input,
    verify_request_signature,
    verify_token,
)
from openleash.domain.models import ServerKey

NOW = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)

# The algorithm of the json-canonicalize package the TypeScript server uses.
JS_CANONICALIZE = """
function canon(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(canon).join(',') + ']';
  return '{' + Object.keys(v).sort()
    .map(k => JSON.stringify(k) + ':' + canon(v[k])).join(',') + '}';
}
const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(texts.map(t => canon(JSON.parse(t)))));
"""


def _cases(extra: dict[str, Any]) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = extra["canonicalization"]
    return cases


def test_canonical_forms(extra: dict[str, Any]) -> None:
    for case in _cases(extra):
        expected = case["canonical"].encode("utf-8")
        assert canonicalize(json.loads(case["json"])) == expected, case["name"]
        assert sha256_hex(expected) == case["sha256"], case["name"]


def test_vectors_cover_the_edge_cases(extra: dict[str, Any]) -> None:
    names = {case["name"] for case in _cases(extra)}
    for needed in ("floats", "integers_beyond_2_53", "astral_plane_keys_sort_by_utf16"):
        assert needed in names


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_canonical_forms_are_what_javascript_produces(extra: dict[str, Any]) -> None:
    texts = [case["json"] for case in _cases(extra)]
    result = subprocess.run(
        ["node", "-e", JS_CANONICALIZE],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout) == [case["canonical"] for case in _cases(extra)]


def test_get_signature(extra: dict[str, Any]) -> None:
    private_key_b64 = extra["key"]["private_key_b64"]
    for case in extra["signatures"]:
        parts = [case[name] for name in ("method", "path", "timestamp", "nonce", "body_sha256")]
        text = signing_input(*parts)
        assert text == case["signing_input"]
        assert sign(private_key_b64, text.encode("utf-8")) == case["signature_b64"]
        verify_request_signature(extra["key"]["public_key_b64"], text, case["signature_b64"])


def test_get_requests_hash_an_empty_object(extra: dict[str, Any]) -> None:
    assert extra["signatures"][0]["body_sha256"] == sha256_hex(b"{}")


def _signing_key(extra: dict[str, Any]) -> SigningKey:
    return SigningKey(extra["key"]["kid"], load_private_key(extra["key"]["private_key_b64"]))


def _issue(kind: str, key: SigningKey, action_hash: str) -> str:
    common = {"owner_type": "user", "owner_id": "00000000-0000-0000-0000-000000000002"}
    if kind == "proof":
        return issue_proof(
            key,
            now=NOW,
            ttl_seconds=120,
            decision_id="00000000-0000-0000-0000-000000000077",
            agent_id="test-agent",
            action_type="purchase",
            action_hash=action_hash,
            matched_rule_id="test-rule",
            trust_profile="LOW",
            extra={"policy_hash": "0" * 64},
            **common,
        ).token
    if kind == "approval":
        return issue_approval_token(
            key,
            now=NOW,
            ttl_seconds=3600,
            approval_request_id="00000000-0000-0000-0000-000000000066",
            agent_id="test-agent",
            action_type="purchase",
            action_hash=action_hash,
            **common,
        ).token
    return issue_session_token(
        key,
        now=NOW,
        ttl_seconds=28800,
        user_principal_id="00000000-0000-0000-0000-000000000002",
        system_roles=["admin"],
        org_memberships=[{"org_id": "00000000-0000-0000-0000-000000000055", "role": "org_admin"}],
    ).token


@pytest.mark.parametrize("kind", ["proof", "approval", "user_session"])
def test_token_bytes(extra: dict[str, Any], kind: str) -> None:
    (vector,) = [t for t in extra["tokens"] if t["name"] == kind]
    action_hash = vector["claims"].get("action_hash", "")
    assert _issue(kind, _signing_key(extra), action_hash) == vector["token"]


@pytest.mark.parametrize("kind", ["proof", "approval", "user_session"])
def test_token_claims_and_order(extra: dict[str, Any], kind: str) -> None:
    (vector,) = [t for t in extra["tokens"] if t["name"] == kind]
    ring = KeyRing(
        [
            ServerKey(
                kid=extra["key"]["kid"],
                public_key_b64=extra["key"]["public_key_b64"],
                private_key_b64="",
                created_at=extra["key"]["now"],
            )
        ]
    )
    claims = verify_token(vector["token"], ring, now=NOW, purpose=vector["purpose"])
    assert claims == vector["claims"]
    assert list(claims) == list(vector["claims"])
    assert claims["exp"] == vector["expires_at"]


@pytest.mark.parametrize("kind", ["proof", "approval", "user_session"])
def test_pyseto_reads_token_vectors(extra: dict[str, Any], kind: str) -> None:
    (vector,) = [t for t in extra["tokens"] if t["name"] == kind]
    pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        + extra["key"]["public_key_b64"]
        + "\n-----END PUBLIC KEY-----\n"
    )
    key = pyseto.Key.new(version=4, purpose="public", key=pem.encode("ascii"))
    decoded = pyseto.decode(key, vector["token"])
    assert isinstance(decoded.payload, bytes)
    assert json.loads(decoded.payload) == vector["claims"]
    body = vector["token"].removeprefix("v4.public.")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert raw[:-64] == decoded.payload
