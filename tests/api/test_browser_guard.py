"""A web page in the owner's browser cannot use the authority of loopback or of the session
cookie: foreign Host (DNS rebinding), cross-site Origin / Sec-Fetch-Site and form bodies are
refused on admin, owner and portal routes, before anything changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openleash.config import Settings
from tests.api.conftest import Api, running_api
from tests.api.owners import PASSPHRASE, login, set_passphrase
from tests.support import owners

EVIL_HOST = {"Host": "evil.example:8787"}
CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Origin": "http://localhost:3000"},  # same site, another origin
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
]
FORM_BODIES = [
    ("text/plain", b"x=1"),
    ("application/x-www-form-urlencoded", b"name=Mallory"),
    (
        "multipart/form-data; boundary=b",
        b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--\r\n",
    ),
    ("text/plain", b""),
]


def _keys(api: Api) -> list[str]:
    return [k["kid"] for k in api.client.get("/v1/admin/keys").json()["keys"]]


def _users(api: Api) -> int:
    return len(api.client.get("/v1/admin/users").json()["users"])


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/admin/users"), ("POST", "/v1/admin/keys/rotate")]
)
def test_admin_refuses_a_dns_rebinding_host(api: Api, method: str, path: str) -> None:
    before = _keys(api)
    response = api.client.request(method, path, headers=EVIL_HOST)
    assert response.status_code == 421
    assert response.json()["error"]["code"] == "FORBIDDEN_HOST"
    assert _keys(api) == before


def test_a_foreign_host_is_refused_even_with_a_bearer_header(api: Api) -> None:
    # A rebinding page can add any header; loopback must not count for it.
    headers = {**EVIL_HOST, "Authorization": "Bearer not-the-token"}
    assert api.client.get("/v1/admin/users", headers=headers).status_code == 421


@pytest.mark.parametrize("host", ["127.0.0.1:8787", "localhost:8787", "[::1]:8787"])
def test_admin_answers_loopback_names_on_its_port(api: Api, host: str) -> None:
    assert api.client.get("/v1/admin/users", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["localhost:9999", "127.0.0.1", "localhost.evil.example:8787"])
def test_admin_refuses_loopback_names_on_another_port_or_lookalikes(api: Api, host: str) -> None:
    assert api.client.get("/v1/admin/users", headers={"Host": host}).status_code == 421


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_admin_refuses_cross_site_requests(api: Api, headers: dict[str, str]) -> None:
    before = _keys(api)
    response = api.client.post("/v1/admin/keys/rotate", headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN_ORIGIN"
    assert _keys(api) == before
    owner = api.agent.owner_id
    invite = api.client.post(f"/v1/admin/users/{owner}/setup-invite", headers=headers)
    assert invite.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://127.0.0.1:8787"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {},
    ],
)
def test_admin_accepts_same_origin_and_non_browser_clients(
    api: Api, headers: dict[str, str]
) -> None:
    before = _keys(api)
    assert api.client.post("/v1/admin/keys/rotate", headers=headers).status_code == 200
    assert len(_keys(api)) == len(before) + 1


@pytest.mark.parametrize(("media", "body"), FORM_BODIES)
def test_admin_state_changes_refuse_form_bodies(api: Api, media: str, body: bytes) -> None:
    before_keys, before_users = _keys(api), _users(api)
    headers = {"Content-Type": media}
    rotate = api.client.post("/v1/admin/keys/rotate", content=body, headers=headers)
    assert rotate.status_code == 415
    assert rotate.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    create = api.client.post("/v1/admin/users", content=body, headers=headers)
    assert create.status_code == 415
    assert (_keys(api), _users(api)) == (before_keys, before_users)


def test_a_body_without_a_content_type_is_not_a_state_change(api: Api) -> None:
    before = _keys(api)
    response = api.client.post("/v1/admin/keys/rotate", content=b"a=1")
    assert response.status_code == 415
    assert _keys(api) == before


def _cookie_session(api: Api) -> str:
    """Sign the owner in; the client keeps the session cookie. The CSRF token."""
    return str(owners.signed_in(api.client, api.agent.owner_id, PASSPHRASE)["csrf_token"])


@pytest.mark.parametrize("headers", [EVIL_HOST, *CROSS_SITE])
def test_owner_cookie_state_changes_refuse_other_sites(api: Api, headers: dict[str, str]) -> None:
    csrf = _cookie_session(api)
    response = api.client.post("/v1/owner/agent-invites", headers={**headers, "X-CSRF-Token": csrf})
    assert response.status_code in (403, 421)
    assert response.json()["error"]["code"] in ("FORBIDDEN_ORIGIN", "FORBIDDEN_HOST")
    same = api.client.post("/v1/owner/agent-invites", headers={"X-CSRF-Token": csrf})
    assert same.status_code == 200


@pytest.mark.parametrize(("media", "body"), FORM_BODIES)
def test_owner_state_changes_refuse_form_bodies(api: Api, media: str, body: bytes) -> None:
    csrf = _cookie_session(api)
    headers = {"Content-Type": media, "X-CSRF-Token": csrf}
    response = api.client.post("/v1/owner/agent-invites", content=body, headers=headers)
    assert response.status_code == 415
    login = api.client.post("/v1/owner/login", content=body, headers={"Content-Type": media})
    assert login.status_code == 415


def test_owner_login_from_another_site_is_refused(api: Api) -> None:
    response = api.client.post(
        "/v1/owner/login",
        json={"user_principal_id": api.agent.owner_id, "passphrase": "x"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


def test_portal_forms_from_another_site_are_refused(api: Api) -> None:
    # Even with the right CSRF token (kept as well), another site's page is refused.
    csrf = _cookie_session(api)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = api.client.post(
        "/gui/logout",
        content=f"csrf_token={csrf}".encode(),
        headers={**form, "Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert api.client.get("/v1/owner/profile").status_code == 200  # still signed in
    same = api.client.post(
        "/gui/logout", content=f"csrf_token={csrf}".encode(), headers=form, follow_redirects=False
    )
    assert same.status_code == 303


# -- links and cookies come from server.public_url --------------------------------------------


@pytest.fixture
def public(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        data_dir=tmp_path / "data", public_url="https://leash.example.com", admin_token="t" * 20
    )
    yield from running_api(settings)


def test_links_use_the_public_url_whatever_the_host_says(public: Api) -> None:
    owner = public.agent.owner_id
    for host in ("127.0.0.1:8787", "localhost:8787"):
        invite = public.client.post(
            f"/v1/admin/users/{owner}/setup-invite", headers={"Host": host}
        ).json()
        assert invite["setup_url"].startswith("https://leash.example.com/gui/login/setup?")
        agent = public.client.post(
            f"/v1/admin/users/{owner}/agent-invite", headers={"Host": host}
        ).json()
        assert agent["invite_url"].startswith("https://leash.example.com/v1/agents/")
    evil = {"Host": "evil.example"}
    health = public.client.get("/v1/health", headers=evil).json()
    assert health["api_reference"] == "https://leash.example.com/reference"
    meta = public.client.get("/.well-known/authzen-configuration", headers=evil).json()
    assert meta["policy_decision_point"] == "https://leash.example.com"
    how = public.client.get(
        "/v1/agents/register-with-invite?invite_id=a&invite_token=b", headers=evil
    )
    assert "evil.example" not in how.text


def test_the_public_host_is_accepted_by_admin(public: Api) -> None:
    headers = {"Host": "leash.example.com", "Origin": "https://leash.example.com"}
    assert public.client.get("/v1/admin/users", headers=headers).status_code == 200


def test_session_cookies_are_secure_when_the_public_url_is_https(public: Api) -> None:
    # The request itself is plain http (a proxy ended the TLS): the public URL decides.
    set_passphrase(public, public.agent.owner_id)
    response = login(public, public.agent.owner_id)
    assert response.status_code == 200
    cookies = response.headers.get_list("set-cookie")
    assert {c.split("=", 1)[0] for c in cookies} >= {"openleash_session", "openleash_csrf"}
    assert all("secure" in c.lower() for c in cookies)
    page = public.client.get("/gui/login")
    assert all("secure" in c.lower() for c in page.headers.get_list("set-cookie"))


def test_session_cookies_are_not_secure_on_plain_http(api: Api) -> None:
    set_passphrase(api, api.agent.owner_id)
    response = login(api, api.agent.owner_id)
    assert not any("secure" in c.lower() for c in response.headers.get_list("set-cookie"))
