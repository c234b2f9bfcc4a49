"""The official Python SDK (``openleash-sdk`` 0.3.0), unchanged, against a live server.

Every test drives the SDK in its own interpreter (see ``harness.py``) and checks what a real
agent or counterparty relies on: enrolment, signed requests, the authorize response, and proof
tokens that verify online and offline.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from tests.interop.harness import (
    RegisteredAgent,
    Sdk,
    SdkError,
    fresh_request,
    new_agent_id,
    webhook_fields,
)
from tests.support.actions import now_iso
from tests.support.deployment import Deployment
from tests.support.live import owner_login

pytestmark = pytest.mark.interop

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")

AUTHORIZE_KEYS = [
    "decision_id",
    "action_id",
    "action_hash",
    "result",
    "matched_rule_id",
    "reason",
    "proof_token",
    "proof_expires_at",
    "obligations",
]
PROOF_CLAIMS = [
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
AGENT_VIEW = {"agent_principal_id", "agent_id", "owner_type", "owner_id", "status", "created_at"}
SECRET_FIELDS = {"webhook_secret", "webhook_auth_token", "public_key_b64", "private_key_b64"}


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def expected_action_hash(action: dict[str, Any]) -> str:
    """RFC 8785 + SHA-256, computed here independently of the server's code."""
    return hashlib.sha256(rfc8785.dumps(action)).hexdigest()


def authorize(
    sdk: Sdk, deployment: Deployment, agent: RegisteredAgent, action: dict[str, Any]
) -> Any:
    return sdk.call(
        "authorize",
        openleash_url=deployment.url,
        agent_id=agent.agent_id,
        private_key_b64=agent.private_key_b64,
        action=action,
    )


def check_authorize_shape(response: dict[str, Any], action: dict[str, Any]) -> None:
    # the wire fields in the TypeScript order; our extensions (risk_level, limits) follow them
    assert list(response)[: len(AUTHORIZE_KEYS)] == AUTHORIZE_KEYS, response
    assert UUID_RE.match(response["decision_id"]), response
    assert response["action_id"] == action["action_id"]
    assert response["action_hash"] == expected_action_hash(action)


def public_keys(deployment: Deployment) -> list[dict[str, Any]]:
    response = fresh_request("GET", f"{deployment.url}/v1/public-keys")
    assert response.status_code == 200, response.text
    keys: list[dict[str, Any]] = response.json()["keys"]
    assert keys, "the server publishes no key"
    return keys


def signed_headers(
    sdk: Sdk, agent: RegisteredAgent, method: str, path: str, body: str
) -> dict[str, str]:
    """Headers made by the SDK's own ``sign_request`` (as its functions do)."""
    headers = sdk.call(
        "sign_request",
        bytes_kwargs={"body_bytes": body},
        method=method,
        path=path,
        timestamp=now_iso(),
        nonce=str(uuid.uuid4()),
        private_key_b64=agent.private_key_b64,
    )
    assert set(headers) == {"X-Timestamp", "X-Nonce", "X-Body-Sha256", "X-Signature"}
    return {"Content-Type": "application/json", "X-Agent-Id": agent.agent_id, **headers}


# ---- the driver really runs the published SDK ------------------------------------------------


def test_driver_imports_the_published_sdk_not_this_project(sdk: Sdk) -> None:
    env = sdk.environment()
    folder = sdk.folder.resolve()
    assert Path(env["file"]).resolve().is_relative_to(folder), env["file"]
    assert (folder / "openleash_sdk-0.3.0.dist-info").is_dir()
    src = str(Path(__file__).resolve().parents[2] / "src")
    assert all(not entry.startswith(src) for entry in env["sys_path"]), env["sys_path"]
    for fn in ("authorize", "redeem_agent_invite", "register_agent", "verify_proof_offline"):
        assert fn in env["functions"]


# ---- enrolment -----------------------------------------------------------------------------


def test_invite_registration_then_agent_self(sdk: Sdk, deployment: Deployment) -> None:
    invite = deployment.agent_invite()
    assert set(invite) >= {"invite_id", "invite_token", "invite_url", "expires_at"}
    agent_id = new_agent_id("invited")
    hooks = webhook_fields(agent_id)

    enrolled = sdk.call(
        "redeem_agent_invite", invite_url=invite["invite_url"], agent_id=agent_id, **hooks
    )

    assert enrolled["agent_id"] == agent_id
    assert UUID_RE.match(enrolled["agent_principal_id"])
    assert enrolled["owner_type"] == "user"
    assert enrolled["owner_id"] == deployment.owner_id
    assert enrolled["status"] == "ACTIVE"
    assert enrolled["openleash_url"] == deployment.url
    assert enrolled["auth"]["method"] == "ed25519_signed_request"
    assert enrolled["auth"]["headers"]["X-Agent-Id"] == agent_id
    assert not {"webhook_secret", "webhook_auth_token"} & set(enrolled)

    me = sdk.call(
        "get_agent_self",
        openleash_url=deployment.url,
        agent_id=agent_id,
        private_key_b64=enrolled["private_key_b64"],
    )
    assert set(me) >= AGENT_VIEW | {"attributes"}
    assert not SECRET_FIELDS & set(me), me
    assert me["agent_principal_id"] == enrolled["agent_principal_id"]
    assert me["agent_id"] == agent_id
    assert me["owner_type"] == "user"
    assert me["owner_id"] == deployment.owner_id
    assert me["status"] == "ACTIVE"
    assert me["attributes"] == {}
    assert me["created_at"] == enrolled["created_at"]


def test_an_invite_is_redeemed_only_once(sdk: Sdk, deployment: Deployment) -> None:
    invite = deployment.agent_invite()
    first = new_agent_id("once")
    sdk.call(
        "redeem_agent_invite",
        invite_url=invite["invite_url"],
        agent_id=first,
        **webhook_fields(first),
    )
    second = new_agent_id("twice")
    with pytest.raises(SdkError) as failed:
        sdk.call(
            "redeem_agent_invite",
            invite_url=invite["invite_url"],
            agent_id=second,
            **webhook_fields(second),
        )
    assert failed.value.error == "RuntimeError"
    assert failed.value.server_error()["code"] == "INVITE_USED"


def test_challenge_registration(sdk: Sdk, deployment: Deployment) -> None:
    keys = sdk.call("generate_ed25519_keypair")
    agent_id = new_agent_id("challenged")
    challenge = sdk.call(
        "registration_challenge",
        openleash_url=deployment.url,
        agent_id=agent_id,
        agent_pubkey_b64=keys["public_key_b64"],
        owner_type="user",
        owner_id=deployment.owner_id,
    )
    assert set(challenge) == {"challenge_id", "challenge_b64", "expires_at"}
    assert len(base64.b64decode(challenge["challenge_b64"])) == 32
    assert parse_iso(challenge["expires_at"]) > parse_iso(now_iso())

    signature = sdk.sign_bytes(challenge["challenge_b64"], keys["private_key_b64"])
    registered = sdk.call(
        "register_agent",
        openleash_url=deployment.url,
        challenge_id=challenge["challenge_id"],
        agent_id=agent_id,
        agent_pubkey_b64=keys["public_key_b64"],
        signature_b64=signature,
        owner_type="user",
        owner_id=deployment.owner_id,
        **webhook_fields(agent_id),
    )
    assert set(registered) == AGENT_VIEW, registered
    assert registered["agent_id"] == agent_id
    assert registered["owner_type"] == "user"
    assert registered["owner_id"] == deployment.owner_id
    # No invite, so no owner consent yet (PROTOCOL §3.5): the agent waits for its owner.
    assert registered["status"] == "PENDING"
    assert UUID_RE.match(registered["agent_principal_id"])

    agent = RegisteredAgent(
        agent_id=agent_id,
        agent_principal_id=registered["agent_principal_id"],
        owner_id=deployment.owner_id,
        private_key_b64=keys["private_key_b64"],
        public_key_b64=keys["public_key_b64"],
    )
    me = sdk.call(
        "get_agent_self",
        openleash_url=deployment.url,
        agent_id=agent_id,
        private_key_b64=agent.private_key_b64,
    )
    assert me["agent_principal_id"] == registered["agent_principal_id"]
    assert me["status"] == "PENDING"
    action = agent.action(amount_minor=500, currency="USD")
    with pytest.raises(SdkError) as pending:
        authorize(sdk, deployment, agent, action)
    assert pending.value.server_error()["code"] == "AGENT_PENDING"

    deployment.activate_agent(registered["agent_principal_id"])
    # Usable at once, on whichever worker answers; the owner-wide policy applies to it too.
    assert authorize(sdk, deployment, agent, action)["result"] == "ALLOW"

    # A challenge is single-use.
    with pytest.raises(SdkError) as failed:
        sdk.call(
            "register_agent",
            openleash_url=deployment.url,
            challenge_id=challenge["challenge_id"],
            agent_id=agent_id,
            agent_pubkey_b64=keys["public_key_b64"],
            signature_b64=signature,
            owner_type="user",
            owner_id=deployment.owner_id,
            **webhook_fields(new_agent_id("reuse")),
        )
    assert failed.value.server_error()["code"] == "CHALLENGE_NOT_FOUND"


def test_challenge_signed_with_another_key_is_refused(sdk: Sdk, deployment: Deployment) -> None:
    keys = sdk.call("generate_ed25519_keypair")
    other = sdk.call("generate_ed25519_keypair")
    agent_id = new_agent_id("forged")
    challenge = sdk.call(
        "registration_challenge",
        openleash_url=deployment.url,
        agent_id=agent_id,
        agent_pubkey_b64=keys["public_key_b64"],
        owner_type="user",
        owner_id=deployment.owner_id,
    )
    with pytest.raises(SdkError) as failed:
        sdk.call(
            "register_agent",
            openleash_url=deployment.url,
            challenge_id=challenge["challenge_id"],
            agent_id=agent_id,
            agent_pubkey_b64=keys["public_key_b64"],
            signature_b64=sdk.sign_bytes(challenge["challenge_b64"], other["private_key_b64"]),
            owner_type="user",
            owner_id=deployment.owner_id,
            **webhook_fields(agent_id),
        )
    assert failed.value.server_error()["code"] == "INVALID_SIGNATURE"


# ---- authorize -----------------------------------------------------------------------------


def test_authorize_allow_with_proof(
    sdk: Sdk, deployment: Deployment, agent: RegisteredAgent
) -> None:
    action = agent.action(amount_minor=5000, currency="USD", merchant_domain="shop.example")
    response = authorize(sdk, deployment, agent, action)

    check_authorize_shape(response, action)
    assert response["result"] == "ALLOW"
    assert response["matched_rule_id"] == "purchase_small_allow"
    assert response["reason"] == 'Allowed by rule "purchase_small_allow"'
    assert response["obligations"] == []
    assert response["proof_token"].startswith("v4.public.")
    assert ISO_MS.match(response["proof_expires_at"]), response["proof_expires_at"]
    ttl = parse_iso(response["proof_expires_at"]) - parse_iso(now_iso())
    assert timedelta(seconds=290) < ttl <= timedelta(seconds=301)


def test_authorize_deny(sdk: Sdk, deployment: Deployment, agent: RegisteredAgent) -> None:
    action = agent.action("communication.send", domain="unknown.example", body="hello")
    response = authorize(sdk, deployment, agent, action)

    check_authorize_shape(response, action)
    assert response["result"] == "DENY"
    assert response["matched_rule_id"] == "communication_deny"
    assert response["reason"] == 'Denied by rule "communication_deny"'
    assert response["proof_token"] is None
    assert response["proof_expires_at"] is None
    assert response["obligations"] == []


def test_authorize_require_approval(
    sdk: Sdk, deployment: Deployment, agent: RegisteredAgent
) -> None:
    action = agent.action(amount_minor=500000, currency="USD", item="Laptop")
    response = authorize(sdk, deployment, agent, action)

    check_authorize_shape(response, action)
    assert response["result"] == "REQUIRE_APPROVAL"
    assert response["matched_rule_id"] == "purchase_large_approval"
    assert response["reason"] == 'Rule "purchase_large_approval" requires: REQUIRE_APPROVAL'
    assert response["proof_token"] is None
    assert response["proof_expires_at"] is None
    [obligation] = response["obligations"]
    assert list(obligation) == ["obligation_id", "type", "status", "details_json"]
    assert UUID_RE.match(obligation["obligation_id"])
    assert obligation["type"] == "HUMAN_APPROVAL"
    assert obligation["status"] == "PENDING"
    assert obligation["details_json"] == {"approver": "owner"}


def test_authorize_require_step_up(
    sdk: Sdk, deployment: Deployment, agent: RegisteredAgent
) -> None:
    action = agent.action(
        "government.submit_document", document="tax-return", assurance_level="LOW"
    )
    response = authorize(sdk, deployment, agent, action)

    check_authorize_shape(response, action)
    assert response["result"] == "REQUIRE_STEP_UP"
    assert response["matched_rule_id"] == "government_submit_high"
    assert response["reason"] == 'Rule "government_submit_high" requires: REQUIRE_STEP_UP'
    assert response["proof_token"] is None
    [obligation] = response["obligations"]
    assert obligation["type"] == "STEP_UP_AUTH"
    assert obligation["status"] == "PENDING"
    assert obligation["details_json"] == {"min_assurance_level": "HIGH"}


def test_authorize_in_another_agents_name_is_refused(
    sdk: Sdk, deployment: Deployment, agent: RegisteredAgent
) -> None:
    action = agent.action(amount_minor=100, currency="USD")
    action["principal"]["agent_id"] = "someone-else"
    with pytest.raises(SdkError) as failed:
        authorize(sdk, deployment, agent, action)
    assert failed.value.server_error()["code"] == "AGENT_MISMATCH"


# ---- proofs --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def allowed(sdk: Sdk, deployment: Deployment, agent: RegisteredAgent) -> dict[str, Any]:
    action = agent.action(amount_minor=1999, currency="USD", merchant_domain="books.example")
    response = authorize(sdk, deployment, agent, action)
    assert response["result"] == "ALLOW", response
    return {"action": action, "response": response}


def test_verify_proof_offline_with_published_keys(
    sdk: Sdk, deployment: Deployment, agent: RegisteredAgent, allowed: dict[str, Any]
) -> None:
    response = allowed["response"]
    keys = public_keys(deployment)
    for key in keys:
        assert key["kty"] == "OKP", key
        assert key["alg"] == "EdDSA", key

    verdict = sdk.call("verify_proof_offline", token=response["proof_token"], public_keys=keys)

    assert verdict["valid"] is True, verdict
    claims = verdict["claims"]
    assert list(claims)[: len(PROOF_CLAIMS)] == PROOF_CLAIMS, list(claims)
    assert claims["iss"] == "openleash"
    assert claims["kid"] in {key["kid"] for key in keys}
    assert claims["agent_id"] == agent.agent_id
    assert claims["action_hash"] == response["action_hash"]
    assert claims["action_hash"] == expected_action_hash(allowed["action"])
    assert claims["decision_id"] == response["decision_id"]
    assert claims["owner_type"] == "user"
    assert claims["owner_id"] == deployment.owner_id
    assert claims["action_type"] == "purchase"
    assert claims["matched_rule_id"] == "purchase_small_allow"
    assert ISO_MS.match(claims["iat"]), claims
    assert ISO_MS.match(claims["exp"]), claims
    assert claims["exp"] == response["proof_expires_at"] or abs(
        parse_iso(claims["exp"]) - parse_iso(response["proof_expires_at"])
    ) <= timedelta(seconds=1)


def test_verify_proof_offline_refuses_a_tampered_token_or_unknown_key(
    sdk: Sdk, deployment: Deployment, allowed: dict[str, Any]
) -> None:
    token: str = allowed["response"]["proof_token"]
    keys = public_keys(deployment)
    body = token.removeprefix("v4.public.")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[10] ^= 0x01  # one bit of the claims
    tampered = "v4.public." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    verdict = sdk.call("verify_proof_offline", token=tampered, public_keys=keys)
    assert verdict["valid"] is False
    assert verdict["reason"] == "No matching key found or invalid signature"

    stranger = sdk.call("generate_ed25519_keypair")
    verdict = sdk.call(
        "verify_proof_offline",
        token=token,
        public_keys=[{"kid": "stranger", "public_key_b64": stranger["public_key_b64"]}],
    )
    assert verdict["valid"] is False


def test_verify_proof_online(
    sdk: Sdk, deployment: Deployment, agent: RegisteredAgent, allowed: dict[str, Any]
) -> None:
    response = allowed["response"]
    verdict = sdk.call(
        "verify_proof_online",
        openleash_url=deployment.url,
        token=response["proof_token"],
        expected_action_hash=response["action_hash"],
        expected_agent_id=agent.agent_id,
    )
    assert verdict["valid"] is True, verdict
    assert "reason" not in verdict
    assert verdict["claims"]["decision_id"] == response["decision_id"]
    assert verdict["claims"]["agent_id"] == agent.agent_id

    wrong = sdk.call(
        "verify_proof_online",
        openleash_url=deployment.url,
        token=response["proof_token"],
        expected_action_hash="0" * 64,
    )
    assert wrong["valid"] is False
    assert wrong["reason"] == "action_hash mismatch"
    assert wrong["claims"]["action_hash"] == response["action_hash"]

    other_agent = sdk.call(
        "verify_proof_online",
        openleash_url=deployment.url,
        token=response["proof_token"],
        expected_agent_id="someone-else",
    )
    assert other_agent["valid"] is False
    assert other_agent["reason"] == "agent_id mismatch"


# ---- request signing -----------------------------------------------------------------------


@pytest.mark.parametrize("route", ["authorize", "self"])
def test_a_replayed_signed_request_is_refused_by_every_worker(
    sdk: Sdk, deployment: Deployment, agent: RegisteredAgent, route: str
) -> None:
    if route == "authorize":
        method, path = "POST", "/v1/authorize"
        body = rfc8785.dumps(agent.action(amount_minor=42, currency="USD")).decode()
    else:
        method, path, body = "GET", "/v1/agent/self", "{}"
    headers = signed_headers(sdk, agent, method, path, body)
    content = body.encode() if method == "POST" else None

    first = fresh_request(method, f"{deployment.url}{path}", headers=headers, content=content)
    assert first.status_code == 200, first.text

    # Each replay goes on a new connection, so the two workers both get to see it.
    for attempt in range(10):
        again = fresh_request(method, f"{deployment.url}{path}", headers=headers, content=content)
        assert again.status_code == 401, (attempt, again.text)
        assert again.json()["error"]["code"] == "NONCE_REPLAY", (attempt, again.text)


def test_a_path_signed_with_its_query_string_is_accepted(
    sdk: Sdk, deployment: Deployment, agent: RegisteredAgent
) -> None:
    # The shipped SDKs sign the path with its query (e.g. list_policy_drafts(status=...)).
    with_query = signed_headers(sdk, agent, "GET", "/v1/agent/self?x=1", "{}")
    response = fresh_request("GET", f"{deployment.url}/v1/agent/self?x=1", headers=with_query)
    assert response.status_code == 200, response.text
    assert response.json()["agent_id"] == agent.agent_id

    # The primary form, the path without its query, is accepted too.
    without_query = signed_headers(sdk, agent, "GET", "/v1/agent/self", "{}")
    response = fresh_request("GET", f"{deployment.url}/v1/agent/self?x=1", headers=without_query)
    assert response.status_code == 200, response.text

    # A signature over another query is not.
    other_query = signed_headers(sdk, agent, "GET", "/v1/agent/self?x=2", "{}")
    response = fresh_request("GET", f"{deployment.url}/v1/agent/self?x=1", headers=other_query)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "INVALID_SIGNATURE"


# ---- human in the loop ----------------------------------------------------------------------

OWNER_PASSPHRASE = "interop owner passphrase"


@pytest.fixture(scope="module")
def owner_headers(deployment: Deployment) -> dict[str, str]:
    """An owner session (bearer token) for the deployment's owner."""
    token = owner_login(deployment.server, deployment.owner_id, OWNER_PASSPHRASE)
    return {"Authorization": f"Bearer {token}"}


def _agent_kwargs(deployment: Deployment, agent: RegisteredAgent) -> dict[str, Any]:
    return {
        "openleash_url": deployment.url,
        "agent_id": agent.agent_id,
        "private_key_b64": agent.private_key_b64,
    }


def test_approval_request_poll_and_approved_authorize(
    sdk: Sdk, deployment: Deployment, agent: RegisteredAgent, owner_headers: dict[str, str]
) -> None:
    action = agent.action(amount_minor=250000, currency="USD", item="Server")
    held = authorize(sdk, deployment, agent, action)
    assert held["result"] == "REQUIRE_APPROVAL"
    created = sdk.call(
        "create_approval_request",
        **_agent_kwargs(deployment, agent),
        decision_id=held["decision_id"],
        action=action,
        justification="the old server died",
    )
    assert created["status"] == "PENDING"
    request_id = created["approval_request_id"]
    pending = sdk.call(
        "get_approval_request", **_agent_kwargs(deployment, agent), approval_request_id=request_id
    )
    assert pending["status"] == "PENDING"
    assert "approval_token" not in pending

    answer = fresh_request(
        "POST",
        f"{deployment.url}/v1/owner/approval-requests/{request_id}/approve",
        json={},
        headers=owner_headers,
    )
    assert answer.status_code == 200, answer.text

    polled = sdk.call(
        "poll_approval_request",
        **_agent_kwargs(deployment, agent),
        approval_request_id=request_id,
        interval_seconds=0.2,
        timeout_seconds=20,
    )
    assert polled["status"] == "APPROVED"
    assert polled["approval_token"].startswith("v4.public.")

    allowed = authorize(
        sdk, deployment, agent, {**action, "approval_token": polled["approval_token"]}
    )
    check_authorize_shape(allowed, action)
    assert allowed["result"] == "ALLOW"
    assert allowed["reason"] == "Approved by owner"
    verdict = sdk.call(
        "verify_proof_offline", token=allowed["proof_token"], public_keys=public_keys(deployment)
    )
    assert verdict["valid"] is True, verdict
    claims = verdict["claims"]
    assert claims["approval_request_id"] == request_id
    assert claims["approved_by"] == deployment.owner_id
    assert claims["approved_at"] == polled["resolved_at"]
    assert claims["assurance_level"] == "LOW"

    with pytest.raises(SdkError) as again:
        authorize(sdk, deployment, agent, {**action, "approval_token": polled["approval_token"]})
    assert again.value.server_error()["code"] == "APPROVAL_TOKEN_CONSUMED"


def test_an_approval_request_for_a_decision_that_was_not_held_is_refused(
    sdk: Sdk, deployment: Deployment, agent: RegisteredAgent
) -> None:
    action = agent.action(amount_minor=100, currency="USD")
    allowed = authorize(sdk, deployment, agent, action)
    assert allowed["result"] == "ALLOW"
    with pytest.raises(SdkError) as refused:
        sdk.call(
            "create_approval_request",
            **_agent_kwargs(deployment, agent),
            decision_id=allowed["decision_id"],
            action=action,
        )
    assert refused.value.server_error()["code"] == "DECISION_NOT_FOUND"


def test_policy_drafts_through_the_sdk(
    sdk: Sdk, deployment: Deployment, agent: RegisteredAgent, owner_headers: dict[str, str]
) -> None:
    draft_yaml = (
        "version: 1\ndefault: deny\nrules:\n  - id: reads\n    effect: allow\n    action: read\n"
    )
    created = sdk.call(
        "create_policy_draft",
        **_agent_kwargs(deployment, agent),
        policy_yaml=draft_yaml,
        justification="I only need to read",
    )
    assert created["status"] == "PENDING"
    draft_id = created["policy_draft_id"]
    listed = sdk.call("list_policy_drafts", **_agent_kwargs(deployment, agent), status="PENDING")
    assert draft_id in [d["policy_draft_id"] for d in listed["policy_drafts"]]
    assert all(d["status"] == "PENDING" for d in listed["policy_drafts"])
    approved = fresh_request(
        "POST",
        f"{deployment.url}/v1/owner/policy-drafts/{draft_id}/approve",
        json={},
        headers=owner_headers,
    )
    assert approved.status_code == 200, approved.text
    got = sdk.call("get_policy_draft", **_agent_kwargs(deployment, agent), policy_draft_id=draft_id)
    assert got["status"] == "APPROVED"
    assert got["policy_yaml"] == draft_yaml
    assert got["resulting_policy_id"] == approved.json()["policy_id"]
    # the approved draft is bound to this agent only; clean up so other tests keep their policy
    removed = fresh_request(
        "DELETE",
        f"{deployment.url}/v1/owner/policies/{got['resulting_policy_id']}",
        headers=owner_headers,
    )
    assert removed.status_code == 200, removed.text
