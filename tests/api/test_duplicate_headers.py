"""A signing header sent twice is refused on every signed route: the server must not read one
value while a proxy before it, or the signature's author, meant the other."""

from __future__ import annotations

import json

import pytest

from openleash.client.auth import AgentAuth
from openleash.domain.timefmt import iso_ms

from .conftest import Api

SIGNING = ["X-Agent-Id", "X-Timestamp", "X-Nonce", "X-Body-Sha256", "X-Signature"]


def _signed(api: Api, method: str, path: str, body: bytes) -> list[tuple[str, str]]:
    agent = api.agent
    auth = AgentAuth(agent.agent_id, agent.private_key_b64, clock=lambda: iso_ms(api.clock()))
    headers = list(auth.sign_headers(method, path, body).items())
    if body:
        headers.append(("Content-Type", "application/json"))
    return headers


@pytest.mark.parametrize("name", SIGNING)
@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/authorize"), ("GET", "/v1/agent/self")])
def test_a_signing_header_sent_twice_is_refused(
    api: Api, name: str, method: str, path: str
) -> None:
    body = (
        json.dumps(api.agent.action(amount_minor=100, currency="USD")).encode()
        if method == "POST"
        else b""
    )
    headers = _signed(api, method, path, body)
    value = next(v for k, v in headers if k.lower() == name.lower())
    # The same value again, or another: either way the request is ambiguous.
    for second in (value, value + "0"):
        response = api.client.request(
            method, path, content=body or None, headers=[*headers, (name, second)]
        )
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "INVALID_REQUEST"
        assert name.lower() in error["message"]


def test_the_same_request_signed_once_goes_through(api: Api) -> None:
    response = api.client.request(
        "GET", "/v1/agent/self", headers=_signed(api, "GET", "/v1/agent/self", b"")
    )
    assert response.status_code == 200, response.text
