"""Owners: passphrase set-up, login, sessions and cookies, lockout, TOTP and backup codes."""

from __future__ import annotations

import json

import pytest

from openleash.crypto import verify_token
from tests.api.conftest import Api
from tests.api.owners import PASSPHRASE, login, owner_session, set_passphrase

SECRET_FIELDS = ("passphrase_hash", "totp_secret", "totp_pending", "argon2", "code_hash")


def test_a_short_passphrase_is_refused_with_the_minimum(api: Api) -> None:
    response = set_passphrase(api, api.agent.owner_id, "short")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "12" in error["message"]


def test_setup_then_login_gives_a_user_session_token(api: Api) -> None:
    owner = owner_session(api)
    profile = owner.get("/v1/owner/profile")
    assert profile.status_code == 200
    assert profile.json()["user_principal_id"] == api.agent.owner_id
    assert profile.json()["totp_enabled"] is False
    for field in SECRET_FIELDS:
        assert field not in profile.text


def test_the_session_token_is_a_user_session_paseto(api: Api) -> None:
    owner = owner_session(api)
    keyring = api.run(api.services.runtime.snapshot()).keyring
    claims = verify_token(owner.token, keyring, now=api.clock(), purpose="user_session")
    assert claims["sub"] == api.agent.owner_id
    assert list(claims)[:7] == ["iss", "kid", "sub", "iat", "exp", "purpose", "system_roles"]


def test_a_setup_invite_works_once(api: Api) -> None:
    invite = api.client.post(f"/v1/admin/users/{api.agent.owner_id}/setup-invite").json()
    body = {**invite, "passphrase": PASSPHRASE}
    body.pop("expires_at")
    assert api.client.post("/v1/owner/setup", json=body).status_code == 200
    again = api.client.post("/v1/owner/setup", json=body)
    assert again.json()["error"]["code"] == "INVITE_USED"
    wrong = api.client.post(f"/v1/admin/users/{api.agent.owner_id}/setup-invite").json()
    wrong["invite_token"] = "x" * 43
    wrong.pop("expires_at")
    refused = api.client.post("/v1/owner/setup", json={**wrong, "passphrase": PASSPHRASE})
    assert refused.json()["error"]["code"] == "INVALID_INVITE_TOKEN"


def test_login_before_setup_and_with_a_wrong_passphrase(api: Api) -> None:
    assert login(api, api.agent.owner_id).json()["error"]["code"] == "INVALID_CREDENTIALS"
    set_passphrase(api, api.agent.owner_id)
    wrong = login(api, api.agent.owner_id, "not the passphrase at all")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"
    unknown = login(api, "00000000-0000-4000-8000-000000000000")
    assert unknown.json()["error"]["code"] == "INVALID_CREDENTIALS"


def test_repeated_failures_lock_the_account_for_a_growing_time(api: Api) -> None:
    owner_id = api.agent.owner_id
    set_passphrase(api, owner_id)
    for _ in range(api.services.options.login_free_attempts):
        assert login(api, owner_id, "guess guess guess").status_code == 401
    locked = login(api, owner_id)  # even the right passphrase waits
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "LOGIN_LOCKED"
    first_wait = locked.json()["error"]["details"]["retry_after_seconds"]
    assert first_wait == api.services.options.login_lock_base_seconds
    api.clock.advance(first_wait + 1)
    assert login(api, owner_id, "another wrong guess").status_code == 401
    second = login(api, owner_id)
    assert second.json()["error"]["details"]["retry_after_seconds"] == 2 * first_wait
    api.clock.advance(2 * first_wait + 1)
    assert login(api, owner_id).status_code == 200
    # success resets the count: one more failure does not lock
    assert login(api, owner_id, "wrong once more").status_code == 401
    assert login(api, owner_id).status_code == 200


def test_logout_ends_the_session_and_a_reset_ends_all(api: Api) -> None:
    owner = owner_session(api)
    assert owner.post("/v1/owner/logout").json() == {"status": "logged_out"}
    ended = owner.get("/v1/owner/profile")
    assert ended.status_code == 401
    assert ended.json()["error"]["code"] == "INVALID_SESSION"
    other = owner_session(api)
    assert set_passphrase(api, api.agent.owner_id, "a brand new passphrase").status_code == 200
    assert other.get("/v1/owner/profile").json()["error"]["code"] == "INVALID_SESSION"


def test_an_expired_or_missing_session_is_refused(api: Api) -> None:
    owner = owner_session(api)
    assert api.client.get("/v1/owner/profile").json()["error"]["code"] == "MISSING_TOKEN"
    api.clock.advance(api.services.options.session_ttl_seconds + 1)
    assert owner.get("/v1/owner/profile").json()["error"]["code"] == "INVALID_SESSION"


def test_a_proof_token_is_not_a_session(api: Api) -> None:
    body = json.dumps(api.agent.action(amount_minor=500, currency="EUR")).encode()
    proof = api.signed("POST", "/v1/authorize", body).json()["proof_token"]
    refused = api.client.get("/v1/owner/profile", headers={"Authorization": f"Bearer {proof}"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "INVALID_SESSION"


def test_the_cookie_is_httponly_samesite_and_changes_need_the_csrf_token(api: Api) -> None:
    set_passphrase(api, api.agent.owner_id)
    response = login(api, api.agent.owner_id)
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("openleash_session="))
    assert "HttpOnly" in session
    assert "SameSite=lax" in session
    assert "Secure" not in session  # plain http on loopback; https adds it
    assert api.client.get("/v1/owner/profile").status_code == 200  # cookie alone reads
    refused = api.client.post("/v1/owner/agent-invites", json={})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "CSRF_FAILED"
    allowed = api.client.post(
        "/v1/owner/agent-invites",
        json={},
        headers={"X-CSRF-Token": response.json()["csrf_token"]},
    )
    assert allowed.status_code == 200
    api.client.cookies.clear()


def test_totp_enrolment_login_and_replay(api: Api) -> None:
    owner = owner_session(api)
    setup = owner.post("/v1/owner/totp/setup").json()
    assert setup["uri"].startswith("otpauth://totp/OpenLeash")
    assert setup["qr_svg"].lstrip().startswith("<svg")
    owner.totp_secret = setup["secret"]
    bad = owner.post("/v1/owner/totp/confirm", {"code": "000000"})
    assert bad.json()["error"]["code"] == "INVALID_TOTP_CODE"
    confirmed = owner.post("/v1/owner/totp/confirm", {"code": owner.code()}).json()
    assert confirmed["status"] == "totp_enabled"
    assert len(confirmed["backup_codes"]) == 8
    profile = owner.get("/v1/owner/profile").json()
    assert profile["totp_enabled"] is True
    assert profile["backup_codes_remaining"] == 8
    assert setup["secret"] not in owner.get("/v1/owner/profile").text
    needs = login(api, owner.owner_id)
    assert needs.json()["error"]["code"] == "TOTP_REQUIRED"
    code = owner.code()
    assert login(api, owner.owner_id, totp_code=code).status_code == 200
    replayed = login(api, owner.owner_id, totp_code=code)
    assert replayed.json()["error"]["code"] == "INVALID_TOTP_CODE"


def test_re_enrolling_or_disabling_needs_a_current_code(api: Api) -> None:
    owner = owner_session(api)
    backup = owner.enable_totp()
    again = owner.post("/v1/owner/totp/setup")
    assert again.status_code == 403
    assert again.json()["error"]["code"] == "TOTP_REQUIRED"
    assert owner.post("/v1/owner/totp/disable", {"code": "123456"}).status_code == 400
    # a backup code works once
    assert owner.post("/v1/owner/totp/disable", {"code": backup[0]}).status_code == 200
    assert owner.get("/v1/owner/profile").json()["totp_enabled"] is False
    backup = owner.enable_totp()
    assert owner.post("/v1/owner/totp/setup", {"code": owner.code()}).status_code == 200
    # the old secret stays in force until the new one is confirmed
    assert owner.get("/v1/owner/profile").json()["totp_enabled"] is True


def test_a_backup_code_logs_in_once(api: Api) -> None:
    owner = owner_session(api)
    backup = owner.enable_totp()
    assert login(api, owner.owner_id, totp_code=backup[3].upper()).status_code == 200
    used = login(api, owner.owner_id, totp_code=backup[3])
    assert used.json()["error"]["code"] == "INVALID_TOTP_CODE"
    assert owner.get("/v1/owner/profile").json()["backup_codes_remaining"] == 7


@pytest.mark.parametrize(
    "path",
    ["/v1/owner/profile", "/v1/owner/agents", "/v1/admin/users", "/v1/owner/approval-requests"],
)
def test_no_response_contains_a_secret(api: Api, path: str) -> None:
    owner = owner_session(api)
    secret = owner.post("/v1/owner/totp/setup").json()["secret"]
    owner.totp_secret = secret
    owner.post("/v1/owner/totp/confirm", {"code": owner.code()})
    text = owner.get(path).text
    assert secret not in text
    for field in SECRET_FIELDS:
        assert field not in text
