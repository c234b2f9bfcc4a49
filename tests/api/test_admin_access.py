"""Admin access: loopback only when the mode allows it, else the bearer token; forwarded-for
headers never count."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from openleash.api.app import create_asgi
from openleash.bootstrap import Services, open_services, options_from
from openleash.config import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TOKEN = "admin-token-for-tests"


def client_for(tmp_path: Path, mode: str, host: str) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", admin_mode=mode, admin_token=TOKEN)

    async def opener() -> Services:
        return await open_services(settings, replace(options_from(settings)))

    app = create_asgi(settings, services=opener)
    with TestClient(app, base_url="http://127.0.0.1:8787", client=(host, 50000)) as client:
        yield client


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[TestClient]:
    yield from client_for(tmp_path, "localhost_or_token", "203.0.113.7")


@pytest.fixture
def local_token_mode(tmp_path: Path) -> Iterator[TestClient]:
    yield from client_for(tmp_path, "token", "127.0.0.1")


def test_remote_caller_without_token_is_refused(remote: TestClient) -> None:
    response = remote.get("/v1/admin/users")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "ADMIN_UNAUTHORIZED"


def test_forwarded_for_loopback_does_not_help(remote: TestClient) -> None:
    response = remote.get(
        "/v1/admin/users", headers={"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"}
    )
    assert response.status_code == 401


def test_remote_caller_with_the_token_is_admitted(remote: TestClient) -> None:
    response = remote.get("/v1/admin/users", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    wrong = remote.get("/v1/admin/users", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_token_mode_refuses_loopback_without_token(local_token_mode: TestClient) -> None:
    assert local_token_mode.get("/v1/admin/users").status_code == 401
    ok = local_token_mode.get("/v1/admin/users", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


def test_openapi_document_and_reference_are_served(remote: TestClient) -> None:
    spec = remote.get("/reference/openapi.json").json()
    assert spec["info"]["title"] == "OpenLeash"
    for path in (
        "/v1/authorize",
        "/v1/health",
        "/v1/public-keys",
        "/v1/verify-proof",
        "/v1/agents/register-with-invite",
        "/v1/admin/users",
    ):
        assert path in spec["paths"], path
    page = remote.get("/reference")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]


def test_unknown_route_uses_the_error_envelope(remote: TestClient) -> None:
    response = remote.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
