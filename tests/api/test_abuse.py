"""Abuse by anonymous callers and guessers: floods are bounded per client address, writes by
anonymous callers stay bounded, and guessing an owner's passphrase cannot lock the owner out."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from openleash.api.cookies import DEVICE_COOKIE
from openleash.client import AgentAuth
from openleash.config import Settings
from openleash.crypto import issue_device_token
from openleash.crypto import passphrase as passphrases
from openleash.domain.timefmt import iso_ms
from tests.api.conftest import Api, from_address, new_agent_keys, running_api
from tests.api.owners import PASSPHRASE, owner_session, set_passphrase

BUDGET = 20
STRANGER, OWNER_ADDRESS = "203.0.113.66", "198.51.100.7"


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path / "data", anonymous_per_minute=BUDGET)
    yield from running_api(settings)


def login_from(
    api: Api,
    address: str,
    owner_id: str,
    passphrase: str,
    headers: dict[str, str] | None = None,
    **extra: str,
) -> Any:
    body = {"user_principal_id": owner_id, "passphrase": passphrase, **extra}
    return from_address(api, address, "POST", "/v1/owner/login", json=body, headers=headers)


def audit_rows(api: Api) -> int:
    with sqlite3.connect(api.data_dir / "openleash.db") as db:
        return int(db.execute("SELECT count(*) FROM audit_events").fetchone()[0])


def db_bytes(api: Api) -> int:
    files = [api.data_dir / name for name in ("openleash.db", "openleash.db-wal")]
    return sum(f.stat().st_size for f in files if f.exists())


# -- owner lockout ------------------------------------------------------------------------------


def test_a_stranger_guessing_from_one_address_does_not_lock_the_owner_out(api: Api) -> None:
    owner_id = api.agent.owner_id
    set_passphrase(api, owner_id)
    free = api.services.options.login_free_attempts
    for _ in range(free):
        assert login_from(api, STRANGER, owner_id, "a wrong guess here").status_code == 401
    locked = login_from(api, STRANGER, owner_id, PASSPHRASE)  # even the right one waits
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "LOGIN_LOCKED"
    assert int(locked.headers["Retry-After"]) == api.services.options.login_lock_base_seconds
    assert login_from(api, OWNER_ADDRESS, owner_id, PASSPHRASE).status_code == 200


def _lock_the_account(api: Api, owner_id: str) -> None:
    """A guesser spread over many addresses, one wrong guess each, past the account's budget."""
    for n in range(api.services.options.login_account_free_attempts + 1):
        login_from(api, f"192.0.2.{n + 1}", owner_id, "a wrong guess here")


def test_guesses_from_many_addresses_lock_the_account_but_not_passphrase_and_totp(
    api: Api,
) -> None:
    owner = owner_session(api)
    owner.enable_totp()
    _lock_the_account(api, owner.owner_id)
    # The passphrase alone no longer gets anywhere, from any address: not even TOTP_REQUIRED,
    # which would tell a guesser the passphrase was right.
    alone = login_from(api, "192.0.2.200", owner.owner_id, PASSPHRASE)
    assert alone.json()["error"]["code"] == "LOGIN_LOCKED"
    wrong_code = login_from(api, "192.0.2.201", owner.owner_id, PASSPHRASE, totp_code="000000")
    assert wrong_code.json()["error"]["code"] == "LOGIN_LOCKED"
    wrong_pass = login_from(api, "192.0.2.202", owner.owner_id, "nope nope", totp_code=owner.code())
    assert wrong_pass.json()["error"]["code"] == "LOGIN_LOCKED"
    # Both factors right: the owner gets in from a new address while the lock stands.
    both = login_from(api, OWNER_ADDRESS, owner.owner_id, PASSPHRASE, totp_code=owner.code())
    assert both.status_code == 200, both.text


def test_without_totp_a_locked_account_refuses_the_passphrase_without_hashing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner_id = api.agent.owner_id
    set_passphrase(api, owner_id)
    _lock_the_account(api, owner_id)
    calls = _count_calls(monkeypatch, passphrases, "verify_passphrase")
    refused = login_from(api, "192.0.2.250", owner_id, PASSPHRASE)
    assert refused.json()["error"]["code"] == "LOGIN_LOCKED"
    assert calls == []


def test_an_owner_without_totp_still_signs_in_from_a_browser_used_before(api: Api) -> None:
    """Strangers' guesses lock the account, but not for the browser the owner signed in with:
    its device cookie lets the passphrase through, from any address. A forged or another
    owner's device token does not."""
    owner_id = api.agent.owner_id
    set_passphrase(api, owner_id)
    first = login_from(api, OWNER_ADDRESS, owner_id, PASSPHRASE)
    assert first.status_code == 200, first.text
    device = first.cookies[DEVICE_COOKIE]
    assert "httponly" in first.headers["set-cookie"].lower()
    _lock_the_account(api, owner_id)
    cookie = {"Cookie": f"{DEVICE_COOKIE}={device}"}
    stranger = login_from(api, "192.0.2.240", owner_id, PASSPHRASE)
    assert stranger.json()["error"]["code"] == "LOGIN_LOCKED"
    again = login_from(api, "198.51.100.99", owner_id, PASSPHRASE, headers=cookie)
    assert again.status_code == 200, again.text
    # The device cookie does not replace the passphrase, and marks only its owner's browser.
    _lock_the_account(api, owner_id)
    wrong = login_from(api, "198.51.100.98", owner_id, "not the passphrase", headers=cookie)
    assert wrong.status_code in (401, 429)
    assert "token" not in wrong.json()
    forged = {"Cookie": f"{DEVICE_COOKIE}={device[:-4]}AAAA"}
    refused = login_from(api, "198.51.100.97", owner_id, PASSPHRASE, headers=forged)
    assert refused.json()["error"]["code"] == "LOGIN_LOCKED"
    keyring = api.run(api.services.runtime.snapshot()).keyring
    # Marked with this owner's passphrase: only the name it carries differs.
    mark = _device_mark(device)
    for token in (
        issue_device_token(
            keyring.active(),
            now=api.clock(),
            ttl_seconds=600,
            user_principal_id="another-owner",
            credential=mark,
        ).token,
        first.json()["token"],  # a session token of this owner is not a device token
    ):
        other = {"Cookie": f"{DEVICE_COOKIE}={token}"}
        refused = login_from(api, "198.51.100.96", owner_id, PASSPHRASE, headers=other)
        assert refused.json()["error"]["code"] == "LOGIN_LOCKED"


def _device_mark(token: str) -> str:
    """The ``cred`` claim of a device token (a public token: its claims are readable)."""
    body = token.split(".")[2]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    mark: str = orjson.loads(raw[:-64])["cred"]
    return mark


def test_a_signed_in_owner_approves_with_totp_while_the_account_is_under_attack(
    api: Api,
) -> None:
    from tests.api.test_approvals import _file_request, _held

    owner = owner_session(api)
    owner.enable_totp()
    action, decision = _held(api)
    request_id = _file_request(api, decision, action).json()["approval_request_id"]
    _lock_the_account(api, owner.owner_id)
    denied = owner.post(
        f"/v1/owner/approval-requests/{request_id}/deny", {"totp_code": owner.code()}
    )
    assert denied.status_code == 200, denied.text
    assert denied.json()["status"] == "DENIED"


def test_login_failures_of_unknown_owners_stop_hashing_once_the_address_is_locked(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_calls(monkeypatch, passphrases, "verify_passphrase")
    for n in range(40):
        login_from(api, STRANGER, f"00000000-0000-4000-8000-{n:012d}", "a wrong guess here")
    assert len(calls) == api.services.options.login_free_attempts


def test_setup_checks_the_invite_before_hashing_the_passphrase(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_calls(monkeypatch, passphrases, "hash_passphrase")
    body = {"invite_id": "no-such-invite", "invite_token": "bogus", "passphrase": PASSPHRASE}
    refused = api.client.post("/v1/owner/setup", json=body)
    assert refused.json()["error"]["code"] == "INVITE_NOT_FOUND"
    assert calls == []
    set_passphrase(api, api.agent.owner_id)  # a real invite still works, hashed once
    assert len(calls) == 1


def _count_calls(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[Any]:
    calls: list[Any] = []
    real = getattr(module, name)

    def counted(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(module, name, counted)
    return calls


# -- floods of anonymous requests -----------------------------------------------------------------


def _proof(api: Api) -> str:
    body = orjson.dumps(api.agent.action(amount_minor=5, currency="EUR"))
    decision = api.signed("POST", "/v1/authorize", body).json()
    return str(decision["proof_token"])


def _bad_signature(api: Api, path: str, method: str = "POST") -> dict[str, Any]:
    body = b"{}" if method == "POST" else b""
    auth = AgentAuth(api.agent.agent_id, new_agent_keys()[1], clock=lambda: iso_ms(api.clock()))
    headers = auth.sign_headers(method, path, body)
    headers["Content-Type"] = "application/json"
    return {"method": method, "path": path, "content": body or None, "headers": headers}


def _requests(api: Api) -> dict[str, dict[str, Any]]:
    public, _ = new_agent_keys()
    form = {"content-type": "application/x-www-form-urlencoded"}
    return {
        "verify-proof": {"path": "/v1/verify-proof", "json": {"token": _proof(api)}},
        "challenge": {
            "path": "/v1/agents/registration-challenge",
            "json": {"agent_id": "flood", "agent_pubkey_b64": public},
        },
        "register": {
            "path": "/v1/agents/register",
            "json": {"challenge_id": "x", "agent_id": "x", "agent_pubkey_b64": public},
        },
        "register-with-invite": {
            "path": "/v1/agents/register-with-invite",
            "json": {"invite_id": "x", "invite_token": "y", "agent_id": "x"},
        },
        "playground": {
            "path": "/v1/playground/run",
            "json": {"policy_yaml": "version: 1\ndefault: deny\n", "action": {}},
        },
        "owner-login": {
            "path": "/v1/owner/login",
            "json": {"user_principal_id": api.agent.owner_id, "passphrase": "wrong guess x"},
        },
        "owner-setup": {
            "path": "/v1/owner/setup",
            "json": {"invite_id": "x", "invite_token": "y", "passphrase": PASSPHRASE},
        },
        "portal-login": {"path": "/gui/login", "content": b"passphrase=x", "headers": form},
        "portal-setup": {"path": "/gui/login/setup", "content": b"invite_id=x", "headers": form},
        "authzen": {
            "path": "/access/v1/evaluation",
            "json": {},
            "headers": {"Authorization": "Bearer not-a-pep-token-at-all"},
        },
        "bad-signature-authorize": _bad_signature(api, "/v1/authorize"),
        "bad-signature-agent": _bad_signature(api, "/v1/agent/self", "GET"),
    }


FLOOD = 300


@pytest.mark.slow
def test_floods_of_anonymous_requests_are_limited_and_write_a_bounded_amount(
    limited: Api,
) -> None:
    api = limited
    set_passphrase(api, api.agent.owner_id)
    for name, request in _requests(api).items():
        kwargs = {k: v for k, v in request.items() if k not in ("path", "method")}
        method, path = request.get("method", "POST"), request["path"]
        rows, size = audit_rows(api), db_bytes(api)
        first = [from_address(api, STRANGER, method, path, **kwargs) for _ in range(FLOOD // 2)]
        rows_after_first = audit_rows(api)
        second = [from_address(api, STRANGER, method, path, **kwargs) for _ in range(FLOOD // 2)]
        limited_ = [r for r in first + second if r.status_code == 429]
        assert len(limited_) >= FLOOD - 2 * BUDGET, name
        if not path.startswith("/gui/"):  # the portal shows its error page instead
            assert limited_[0].json()["error"]["code"] in ("RATE_LIMITED", "LOGIN_LOCKED"), name
            assert int(limited_[0].headers["Retry-After"]) >= 1, name
        # The second half of the flood wrote nothing to the audit chain, whatever its size.
        assert audit_rows(api) == rows_after_first, name
        assert rows_after_first - rows <= BUDGET, name
        assert db_bytes(api) - size < 256 * 1024, name
        # Someone else, from another address, is not affected.
        other = from_address(api, OWNER_ADDRESS, method, path, **kwargs)
        assert other.status_code != 429, (name, other.text)
        _forget_stranger(api)


def _forget_stranger(api: Api) -> None:
    """Each endpoint's flood starts with a fresh budget (the limiter is per application)."""
    api.client.app.app.state.throttles = None  # type: ignore[attr-defined]


def test_verify_proof_writes_nothing(api: Api) -> None:
    token = _proof(api)
    rows = audit_rows(api)
    for _ in range(5):
        verdict = api.client.post("/v1/verify-proof", json={"token": token}).json()
        assert verdict["valid"] is True
    assert audit_rows(api) == rows


# -- signing headers ------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["X-Nonce", "X-Agent-Id", "X-Signature", "X-Timestamp"])
def test_an_overlong_signing_header_is_refused_before_anything_is_stored(
    api: Api, header: str
) -> None:
    auth = AgentAuth(
        api.agent.agent_id,
        api.agent.private_key_b64,
        clock=lambda: iso_ms(api.clock()),
        nonce=lambda: "n" * 60_000,
    )
    headers = auth.sign_headers("GET", "/v1/agent/self", b"")
    if header != "X-Nonce":
        headers["X-Nonce"] = "a-short-nonce"
        headers[header] = "x" * 60_000
    refused = api.client.get("/v1/agent/self", headers=headers)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "HEADER_TOO_LONG"
    assert refused.json()["error"]["details"]["header"] == header.lower()
    with sqlite3.connect(api.data_dir / "openleash.db") as db:
        assert db.execute("SELECT count(*) FROM nonces").fetchone()[0] == 0


# -- database errors ------------------------------------------------------------------------------

DB_TEXT = 'server at db.internal (10.1.2.3), port 5432 failed: no user "leash_admin"'


@pytest.fixture
def on_postgres(tmp_path: Path) -> Iterator[Api]:
    from tests.contract import _postgres

    reason = _postgres.unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    url = _postgres.create_database()
    try:
        yield from running_api(Settings(data_dir=tmp_path / "data", store_url=url))
    finally:
        _postgres.drop_database(url)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        ("connection", 503, "STORE_UNAVAILABLE"),
        ("statement", 500, "INTERNAL_ERROR"),
    ],
)
def test_postgres_errors_reach_clients_without_database_text(
    on_postgres: Api, monkeypatch: pytest.MonkeyPatch, error: str, status: int, code: str
) -> None:
    import asyncpg

    from openleash.store.sql.postgres_tx import PostgresTransaction

    failure = (
        asyncpg.PostgresConnectionError(DB_TEXT)
        if error == "connection"
        else asyncpg.UndefinedTableError(f'relation "owners_secret" does not exist; {DB_TEXT}')
    )

    async def broken(*args: Any) -> Any:
        raise failure

    monkeypatch.setattr(PostgresTransaction, "get_owner", broken)
    answer = login_from(on_postgres, OWNER_ADDRESS, on_postgres.agent.owner_id, PASSPHRASE)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    for fragment in ("db.internal", "10.1.2.3", "leash_admin", "owners_secret", "5432"):
        assert fragment not in answer.text


def test_failed_signatures_from_an_address_never_lock_out_a_valid_agent_there(
    limited: Api,
) -> None:
    """Agents of a local sidecar share the loopback address: a client that keeps failing
    authentication is slowed down, but a correctly signed request from the same address is
    still served."""
    api = limited
    bad = _bad_signature(api, "/v1/authorize")
    kwargs = {k: v for k, v in bad.items() if k not in ("path", "method")}
    refused = [from_address(api, STRANGER, "POST", bad["path"], **kwargs) for _ in range(60)]
    assert refused[-1].status_code == 429
    assert refused[-1].json()["error"]["code"] == "RATE_LIMITED"
    body = orjson.dumps(api.agent.action(amount_minor=5, currency="EUR"))
    auth = AgentAuth(
        api.agent.agent_id, api.agent.private_key_b64, clock=lambda: iso_ms(api.clock())
    )
    headers = {**auth.sign_headers("POST", "/v1/authorize", body)}
    headers["Content-Type"] = "application/json"
    good = from_address(api, STRANGER, "POST", "/v1/authorize", content=body, headers=headers)
    assert good.status_code == 200, good.text
    assert good.json()["result"] == "ALLOW"
