"""Each deliberate fix of PROTOCOL.md §3: every test here fails on the TypeScript behaviour."""

from __future__ import annotations

import json
from datetime import timedelta

from openleash.crypto import generate_keypair, issue_token, sign
from openleash.domain.timefmt import iso_ms
from tests.api.conftest import Api, new_agent_keys
from tests.support.actions import action


def body(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def error_code(response: object) -> str:
    return str(response.json()["error"]["code"])  # type: ignore[attr-defined]


# §3.1 An unparseable X-Timestamp is a skew error (the TypeScript server skips the check).
def test_unparseable_timestamp_is_timestamp_skew(api: Api) -> None:
    response = api.signed(
        "POST",
        "/v1/authorize",
        body(api.agent.action(amount_minor=1)),
        headers={"X-Timestamp": "not a date"},
    )
    assert response.status_code == 401
    assert error_code(response) == "TIMESTAMP_SKEW"


def test_timestamp_outside_the_window_is_refused(api: Api) -> None:
    stale = iso_ms(api.clock() - timedelta(seconds=121))
    response = api.signed(
        "POST",
        "/v1/authorize",
        body(api.agent.action(amount_minor=1)),
        headers={"X-Timestamp": stale},
    )
    assert response.status_code == 401
    assert error_code(response) == "TIMESTAMP_SKEW"


# §3.2 The nonce is recorded only after the signature verifies, in the shared store.
def test_failed_signature_does_not_burn_the_nonce(api: Api) -> None:
    payload = body(api.agent.action(amount_minor=1))
    headers = api.agent.auth().sign_headers("POST", "/v1/authorize", payload)
    bad = dict(headers, **{"X-Signature": sign(generate_keypair()[1], b"other")})
    bad["Content-Type"] = "application/json"
    first = api.client.post("/v1/authorize", content=payload, headers=bad)
    assert error_code(first) == "INVALID_SIGNATURE"
    good = dict(headers, **{"Content-Type": "application/json"})
    assert api.client.post("/v1/authorize", content=payload, headers=good).status_code == 200


def test_replayed_request_is_refused(api: Api) -> None:
    payload = body(api.agent.action(amount_minor=1))
    headers = api.agent.auth().sign_headers("POST", "/v1/authorize", payload)
    headers["Content-Type"] = "application/json"
    assert api.client.post("/v1/authorize", content=payload, headers=headers).status_code == 200
    replay = api.client.post("/v1/authorize", content=payload, headers=headers)
    assert replay.status_code == 401
    assert error_code(replay) == "NONCE_REPLAY"


def test_replay_is_refused_after_a_restart(api: Api) -> None:
    payload = body(api.agent.action(amount_minor=1))
    headers = api.agent.auth().sign_headers("POST", "/v1/authorize", payload)
    headers["Content-Type"] = "application/json"
    assert api.client.post("/v1/authorize", content=payload, headers=headers).status_code == 200
    api.services.runtime.invalidate()  # a fresh process has no memory; the store remembers
    replay = api.client.post("/v1/authorize", content=payload, headers=headers)
    assert error_code(replay) == "NONCE_REPLAY"


# §3.3 A path signed with its query string is accepted too (the shipped SDKs do that).
def test_signature_over_path_with_query_is_accepted(api: Api) -> None:
    plain = api.signed("GET", "/v1/agent/self?status=PENDING")
    assert plain.status_code == 200, plain.text
    with_query = api.signed(
        "GET", "/v1/agent/self?status=PENDING", sign_path="/v1/agent/self?status=PENDING"
    )
    assert with_query.status_code == 200, with_query.text
    wrong = api.signed(
        "GET", "/v1/agent/self?status=PENDING", sign_path="/v1/agent/self?status=APPROVED"
    )
    assert error_code(wrong) == "INVALID_SIGNATURE"


# §3.4 principal.agent_id must be the signing agent.
def test_principal_must_be_the_signing_agent(api: Api) -> None:
    act = action("someone-else", api.agent.owner_id, amount_minor=1)
    response = api.signed("POST", "/v1/authorize", body(act))
    assert response.status_code == 403
    assert error_code(response) == "AGENT_MISMATCH"


# §3.5 agent_id is never re-assigned; registration needs a real owner and its challenge.
def _challenge(api: Api, agent_id: str, public: str, owner_id: str | None) -> dict[str, str]:
    response = api.client.post(
        "/v1/agents/registration-challenge",
        json={
            "agent_id": agent_id,
            "agent_pubkey_b64": public,
            "owner_type": "user",
            "owner_id": owner_id,
        },
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _register(
    api: Api, challenge: dict[str, str], agent_id: str, public: str, private: str, owner_id: str
) -> object:
    import base64

    signature = sign(private, base64.b64decode(challenge["challenge_b64"]))
    return api.client.post(
        "/v1/agents/register",
        json={
            "challenge_id": challenge["challenge_id"],
            "agent_id": agent_id,
            "agent_pubkey_b64": public,
            "signature_b64": signature,
            "owner_type": "user",
            "owner_id": owner_id,
            "webhook_url": "",
            "webhook_secret": "",
            "webhook_auth_token": "",
        },
    )


def test_register_needs_an_existing_owner(api: Api) -> None:
    public, _private = new_agent_keys()
    response = api.client.post(
        "/v1/agents/registration-challenge",
        json={
            "agent_id": "x",
            "agent_pubkey_b64": public,
            "owner_type": "user",
            "owner_id": "00000000-0000-0000-0000-00000000dead",
        },
    )
    assert response.status_code == 404
    assert error_code(response) == "OWNER_NOT_FOUND"


def test_challenge_is_bound_to_agent_key_and_owner(api: Api) -> None:
    public, _private = new_agent_keys()
    other_public, other_private = new_agent_keys()
    challenge = _challenge(api, "new-agent", public, api.agent.owner_id)
    swapped = _register(
        api, challenge, "new-agent", other_public, other_private, api.agent.owner_id
    )
    assert error_code(swapped) == "CHALLENGE_MISMATCH"


def test_agent_id_of_another_owner_is_taken(api: Api) -> None:
    owner = api.client.post("/v1/admin/users", json={"display_name": "Mallory"}).json()
    public, private = new_agent_keys()
    challenge = _challenge(api, "agent-1", public, owner["user_principal_id"])
    response = _register(api, challenge, "agent-1", public, private, owner["user_principal_id"])
    assert response.status_code == 409  # type: ignore[attr-defined]
    assert error_code(response) == "AGENT_ID_TAKEN"
    # the victim's agent still works
    ok = api.signed("POST", "/v1/authorize", body(api.agent.action(amount_minor=1)))
    assert ok.json()["result"] == "ALLOW"


def test_reenrolment_by_challenge_never_replaces_the_key_even_for_the_same_owner(
    api: Api,
) -> None:
    public, private = new_agent_keys()
    challenge = _challenge(api, "agent-1", public, api.agent.owner_id)
    response = _register(api, challenge, "agent-1", public, private, api.agent.owner_id)
    assert response.status_code == 409  # type: ignore[attr-defined]
    assert error_code(response) == "AGENT_ID_TAKEN"
    assert api.signed("GET", "/v1/agent/self").status_code == 200
    new_agent = type(api.agent)("agent-1", api.agent.owner_id, private, public)
    assert api.signed("GET", "/v1/agent/self", agent=new_agent).status_code == 401


# §3.6 Any 8-4-4-4-12 hex UUID is accepted, like the official vectors use.
def test_non_v4_uuids_are_accepted(api: Api) -> None:
    act = api.agent.action(amount_minor=1)
    act["action_id"] = "00000000-0000-0000-0000-000000000001"
    act["subject"] = {"principal_id": "b0000000-0000-0000-0000-000000000001"}
    response = api.signed("POST", "/v1/authorize", body(act))
    assert response.status_code == 200, response.text


# §3.7 Malformed JSON, a JSON null body or a wrong content type: 4xx with the envelope.
def test_malformed_json_is_400(api: Api) -> None:
    response = api.signed("POST", "/v1/authorize", b"{not json")
    assert response.status_code == 400
    assert error_code(response) == "INVALID_JSON"


def test_null_body_is_400(api: Api) -> None:
    response = api.signed("POST", "/v1/authorize", b"null")
    assert response.status_code == 400
    assert error_code(response) == "INVALID_JSON"


def test_empty_json_body_is_400(api: Api) -> None:
    response = api.client.post(
        "/v1/verify-proof", content=b"", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_code(response) == "INVALID_JSON"


def test_wrong_content_type_is_415(api: Api) -> None:
    response = api.client.post(
        "/v1/playground/run", content=b"{}", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert error_code(response) == "UNSUPPORTED_MEDIA_TYPE"


def test_body_over_one_mebibyte_is_413(api: Api) -> None:
    big = b'{"x":"' + b"a" * 1_048_577 + b'"}'
    response = api.client.post(
        "/v1/playground/run", content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert error_code(response) == "PAYLOAD_TOO_LARGE"


# §3.8 Proofs carry purpose "proof"; other tokens are not proofs; expiry says so.
def _keyring(api: Api) -> object:
    return api.run(api.services.runtime.snapshot()).keyring


def test_session_token_is_not_a_proof(api: Api) -> None:
    keyring = _keyring(api)
    token = issue_token(
        keyring.active(),
        {"purpose": "user_session"},  # type: ignore[attr-defined]
        now=api.clock(),
        ttl_seconds=60,
    ).token
    verdict = api.client.post("/v1/verify-proof", json={"token": token}).json()
    assert verdict["valid"] is False
    assert verdict["reason"] == "Invalid token purpose"


def test_expired_proof_says_token_expired(api: Api) -> None:
    decision = api.signed("POST", "/v1/authorize", body(api.agent.action(amount_minor=1))).json()
    api.clock.advance(61)
    verdict = api.client.post("/v1/verify-proof", json={"token": decision["proof_token"]}).json()
    assert verdict == {"valid": False, "reason": "Token expired"}


def test_verify_proof_checks_expectations(api: Api) -> None:
    decision = api.signed("POST", "/v1/authorize", body(api.agent.action(amount_minor=1))).json()
    good = api.client.post(
        "/v1/verify-proof",
        json={
            "token": decision["proof_token"],
            "expected_action_hash": decision["action_hash"],
            "expected_agent_id": "agent-1",
        },
    ).json()
    assert good["valid"] is True
    bad = api.client.post(
        "/v1/verify-proof",
        json={"token": decision["proof_token"], "expected_action_hash": "0" * 64},
    ).json()
    assert bad["valid"] is False
    assert bad["reason"] == "action_hash mismatch"


# §3.10 A revoked key verifies nothing; /v1/public-keys marks it.
def test_revoked_key_verifies_nothing(api: Api) -> None:
    decision = api.signed("POST", "/v1/authorize", body(api.agent.action(amount_minor=1))).json()
    old_kid = api.client.get("/v1/public-keys").json()["keys"][0]["kid"]
    api.run(api.services.keys.rotate())
    still = api.client.post("/v1/verify-proof", json={"token": decision["proof_token"]}).json()
    assert still["valid"] is True  # rotation alone keeps old proofs verifiable
    revoked = api.client.post(f"/v1/admin/keys/{old_kid}/revoke")
    assert revoked.status_code == 200, revoked.text
    verdict = api.client.post("/v1/verify-proof", json={"token": decision["proof_token"]}).json()
    assert verdict["valid"] is False
    keys = {k["kid"]: k for k in api.client.get("/v1/public-keys").json()["keys"]}
    assert keys[old_kid]["revoked_at"] is not None


def test_active_key_cannot_be_revoked(api: Api) -> None:
    kid = api.client.get("/v1/public-keys").json()["keys"][0]["kid"]
    response = api.client.post(f"/v1/admin/keys/{kid}/revoke")
    assert response.status_code == 409
    assert error_code(response) == "KEY_ACTIVE"


# §3.11 No endpoint returns secrets.
def test_no_secret_in_agent_listings(api: Api) -> None:
    public, private = new_agent_keys()
    challenge = _challenge(api, "hooked", public, api.agent.owner_id)
    import base64

    response = api.client.post(
        "/v1/agents/register",
        json={
            "challenge_id": challenge["challenge_id"],
            "agent_id": "hooked",
            "agent_pubkey_b64": public,
            "signature_b64": sign(private, base64.b64decode(challenge["challenge_b64"])),
            "owner_type": "user",
            "owner_id": api.agent.owner_id,
            "webhook_url": "https://hooks.example/a",
            "webhook_secret": "whsec-TOPSECRET",
            "webhook_auth_token": "tok-TOPSECRET",
        },
    )
    assert response.status_code == 200, response.text
    for path in ("/v1/admin/agents", "/v1/admin/users", "/v1/admin/keys"):
        text = api.client.get(path).text
        assert "TOPSECRET" not in text
        assert "private_key" not in text
    assert "private_key" not in api.client.get("/v1/public-keys").text


# §3.13 A non-positive proof ttl is rejected when the policy is validated.
def test_non_positive_proof_ttl_is_rejected(api: Api) -> None:
    policy = (
        "version: 1\ndefault: deny\nrules:\n  - id: r\n    effect: allow\n"
        "    action: purchase\n    proof: { required: true, ttl_seconds: -5 }\n"
    )
    response = api.client.post(
        "/v1/playground/run",
        json={"policy_yaml": policy, "action": api.agent.action(amount_minor=1)},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_POLICY"
    assert "ttl_seconds" in error["message"]


def test_authorize_body_over_one_mebibyte_is_413(api: Api) -> None:
    big = b'{"x":"' + b"a" * 1_048_577 + b'"}'
    response = api.signed("POST", "/v1/authorize", big)
    assert response.status_code == 413
    assert error_code(response) == "PAYLOAD_TOO_LARGE"


def test_authorize_without_headers_is_401_with_the_envelope(api: Api) -> None:
    response = api.client.post(
        "/v1/authorize", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "MISSING_HEADERS", "message": "Missing required signing headers"}
    }
