"""Forwarded headers count only from configured trusted proxies."""

from __future__ import annotations

from typing import Any

import pytest

from openleash.api.proxy import PEER, ForwardedHeaders
from tests.api.conftest import Api


async def _seen(trusted: tuple[str, ...], peer: str, headers: list[tuple[bytes, bytes]]) -> Any:
    found: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        found.update(client=scope["client"], scheme=scope["scheme"], peer=scope[PEER])

    scope = {"type": "http", "client": (peer, 5000), "scheme": "http", "headers": headers}
    await ForwardedHeaders(app, trusted)(scope, None, None)
    return found


XFF = [(b"x-forwarded-for", b"198.51.100.9, 203.0.113.5"), (b"x-forwarded-proto", b"https")]


@pytest.mark.anyio
async def test_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    seen = await _seen((), "203.0.113.7", XFF)
    assert seen["client"] == ("203.0.113.7", 5000)
    assert seen["scheme"] == "http"
    seen = await _seen(("10.0.0.0/8",), "203.0.113.7", XFF)
    assert seen["client"] == ("203.0.113.7", 5000)


@pytest.mark.anyio
async def test_a_trusted_proxy_gives_the_nearest_untrusted_address() -> None:
    seen = await _seen(("10.0.0.0/8",), "10.1.2.3", XFF)
    assert seen["client"] == ("203.0.113.5", 0)  # the proxy's own peer, not what the client said
    assert seen["scheme"] == "https"
    assert seen["peer"] == ("10.1.2.3", 5000)
    chained = [(b"x-forwarded-for", b"1.2.3.4, 203.0.113.5, 10.9.9.9")]
    assert (await _seen(("10.0.0.0/8",), "10.1.2.3", chained))["client"] == ("203.0.113.5", 0)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_a_loopback_request_relayed_by_a_proxy_is_not_local_admin(api: Api) -> None:
    # A reverse proxy on this machine makes every caller look local; its header gives it away.
    relayed = api.client.get("/v1/admin/users", headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status_code == 401
    assert api.client.get("/v1/admin/users").status_code == 200
