"""An outsider's attacks on the browser guard and the links it answers with: variants of the
fixed holes that took another path (a route authenticated by loopback outside ``/v1/admin``,
a bearer header that the route never reads, a redirect built from the request's Host)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openleash.config import Settings
from tests.api.conftest import Api, running_api
from tests.api.owners import PASSPHRASE
from tests.support.owners import set_passphrase

EVIL_HOST = {"Host": "evil.example:8787"}


# -- /metrics is admin access by loopback: the same guard as /v1/admin ------------------------


@pytest.mark.parametrize(
    "headers",
    [
        EVIL_HOST,  # DNS rebinding: the page's own name now resolves to 127.0.0.1
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_metrics_by_loopback_refuses_rebinding_and_cross_site_pages(
    api: Api, headers: dict[str, str]
) -> None:
    response = api.client.get("/metrics", headers=headers)
    assert response.status_code in (403, 421)
    assert response.json()["error"]["code"] in ("FORBIDDEN_HOST", "FORBIDDEN_ORIGIN")


def test_metrics_still_answer_loopback_programs(api: Api) -> None:
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert "openleash_" in response.text


# -- a bearer header exempts only routes that authenticate by it ------------------------------


def _login_body(api: Api, passphrase: str) -> dict[str, str]:
    return {"user_principal_id": api.agent.owner_id, "passphrase": passphrase}


@pytest.mark.parametrize(
    "headers",
    [EVIL_HOST, {"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}],
)
def test_owner_login_from_a_rebinding_page_is_refused_whatever_bearer_it_adds(
    api: Api, headers: dict[str, str]
) -> None:
    # Login reads no bearer token: a made-up one must not lift the Host and Origin checks,
    # or a page rebound to 127.0.0.1 guesses passphrases of a loopback-only server.
    assert set_passphrase(api.client, api.agent.owner_id, PASSPHRASE).status_code == 200
    forged = {**headers, "Authorization": "Bearer anything"}
    response = api.client.post("/v1/owner/login", json=_login_body(api, PASSPHRASE), headers=forged)
    assert response.status_code in (403, 421), response.text
    assert "set-cookie" not in response.headers


def test_owner_setup_from_a_rebinding_page_is_refused_whatever_bearer_it_adds(api: Api) -> None:
    invite = api.client.post(f"/v1/admin/users/{api.agent.owner_id}/setup-invite").json()
    body = {
        "invite_id": invite["invite_id"],
        "invite_token": invite["invite_token"],
        "passphrase": PASSPHRASE,
    }
    forged = {**EVIL_HOST, "Authorization": "Bearer anything"}
    response = api.client.post("/v1/owner/setup", json=body, headers=forged)
    assert response.status_code == 421, response.text
    # The invite was not used up: the owner can still redeem it.
    assert api.client.post("/v1/owner/setup", json=body).status_code == 200


def test_owner_routes_with_a_real_bearer_session_still_pass_from_any_host(api: Api) -> None:
    assert set_passphrase(api.client, api.agent.owner_id, PASSPHRASE).status_code == 200
    token = api.client.post("/v1/owner/login", json=_login_body(api, PASSPHRASE)).json()["token"]
    api.client.cookies.clear()
    response = api.client.post(
        "/v1/owner/agent-invites",
        headers={**EVIL_HOST, "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text


# -- redirects never name the Host the request gave -------------------------------------------


@pytest.fixture
def public(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        data_dir=tmp_path / "data", public_url="https://leash.example.com", admin_token="t" * 20
    )
    yield from running_api(settings)


@pytest.mark.parametrize(
    "path", ["/v1/health/", "/gui/login/", "/gui/approvals/", "/v1/owner/profile/", "/reference/"]
)
def test_a_trailing_slash_never_redirects_to_the_host_header(public: Api, path: str) -> None:
    response = public.client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    location = response.headers.get("location", "")
    assert "evil.example" not in location, (response.status_code, location)
