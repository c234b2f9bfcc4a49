"""An owner signing in over any HTTP client, a live server's or the in-process test client's:
the passphrase set with a setup invite from the admin API, then a login."""

from __future__ import annotations

from typing import Any

import httpx


def set_passphrase(http: httpx.Client, owner_id: str, passphrase: str) -> httpx.Response:
    invite = http.post(f"/v1/admin/users/{owner_id}/setup-invite")
    assert invite.status_code == 200, invite.text
    setup = {
        "invite_id": invite.json()["invite_id"],
        "invite_token": invite.json()["invite_token"],
        "passphrase": passphrase,
    }
    return http.post("/v1/owner/setup", json=setup)


def log_in(http: httpx.Client, owner_id: str, passphrase: str, **extra: Any) -> httpx.Response:
    return http.post(
        "/v1/owner/login",
        json={"user_principal_id": owner_id, "passphrase": passphrase, **extra},
    )


def signed_in(http: httpx.Client, owner_id: str, passphrase: str) -> dict[str, Any]:
    """Both, each checked: the login's answer (the session ``token``, its ``csrf_token``)."""
    done = set_passphrase(http, owner_id, passphrase)
    assert done.status_code == 200, done.text
    login = log_in(http, owner_id, passphrase)
    assert login.status_code == 200, login.text
    body: dict[str, Any] = login.json()
    return body
