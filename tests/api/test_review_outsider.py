"""An outsider's attacks on the browser guard and the links it answers with: variants of the
fixed holes that took another path (a route authenticated by loopback outside ``/v1/admin``,
a bearer header that the route never reads, a redirect built from the request's Host)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import uvloop

from openleash.config import ConnectionLimits, Settings
from tests.api.conftest import Api, from_address, running_api
from tests.api.owners import PASSPHRASE
from tests.support.live import free_port
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


# -- a client that never reads its response does not hold the connection ----------------------

SLOW_LIMITS = ConnectionLimits(
    max_header_bytes=8192, header_timeout=1.0, body_timeout=1.0, max_connections=100
)
CHUNK = b"x" * 1_048_576
#: What the application's ``send`` raised (a server error log with a traceback each).
SEND_ERRORS: list[BaseException] = []


async def _large(scope: Any, receive: Any, send: Any) -> None:
    """16 MiB in chunks: more than any socket buffer holds, so its writer must wait."""
    if scope["type"] != "http":
        return
    await receive()
    headers = [(b"content-length", str(16 * len(CHUNK)).encode())]
    try:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for _ in range(15):
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": CHUNK})
    except Exception as exc:
        SEND_ERRORS.append(exc)


class _Config(uvicorn.Config):
    def __init__(self, app: Any, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.limits = limits


@pytest.fixture
def large_server() -> Iterator[tuple[int, uvicorn.Server]]:
    port = free_port()
    config = _Config(
        _large,
        limits=SLOW_LIMITS,
        host="127.0.0.1",
        port=port,
        http="openleash.api.protocol:HttpProtocol",
        lifespan="off",
        log_level="critical",
        timeout_keep_alive=1,
    )
    running = uvicorn.Server(config)

    def serve() -> None:
        # On uvloop, as ``openleash start`` runs (its transports refuse writes once closed).
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(running.serve())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield port, running
    running.should_exit = True
    thread.join(timeout=10)


def _open_connections(running: uvicorn.Server, within: float) -> int:
    deadline = time.monotonic() + within
    while running.server_state.connections and time.monotonic() < deadline:
        time.sleep(0.1)
    return len(running.server_state.connections)


def test_a_client_that_stops_reading_its_response_is_dropped(
    large_server: tuple[int, uvicorn.Server],
) -> None:
    # Slow-read slowloris: a request, then never a byte read. The head and body timers are
    # done with; without a bound on a stalled write the connection (and its kernel buffers)
    # stays for ever, and max_connections of them shut everyone else out.
    port, running = large_server
    readers = []
    for _ in range(3):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        readers.append(sock)
    try:
        time.sleep(0.5)
        assert len(running.server_state.connections) == 3  # all stuck writing
        assert _open_connections(running, SLOW_LIMITS.body_timeout + 4.0) == 0
    finally:
        for sock in readers:
            sock.close()


def test_a_pipelining_client_that_hangs_up_mid_response_logs_nothing(
    large_server: tuple[int, uvicorn.Server],
) -> None:
    # Requests pipelined behind a response being written, then the connection dropped: the
    # writer, woken by the loss, wrote to the closed transport and every such hang-up put two
    # tracebacks in the server log (a cheap way for anyone to flood it).
    port, running = large_server
    SEND_ERRORS.clear()
    for _ in range(3):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        time.sleep(0.3)
        sock.close()
    assert _open_connections(running, 3.0) == 0
    assert SEND_ERRORS == []


# -- one IPv6 subscriber is one client, whatever address of its /64 it uses --------------------

V6_BUDGET = 20


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path / "data", anonymous_per_minute=V6_BUDGET)
    yield from running_api(settings)


def test_anonymous_budget_is_shared_by_the_addresses_of_one_ipv6_64(limited: Api) -> None:
    # Every host on an IPv6 network gets a /64: 2**64 addresses. Counting each apart gives
    # one attacker as many budgets as it likes.
    answers = [
        from_address(
            limited, f"2001:db8:1:2::{i:x}", "POST", "/v1/verify-proof", json={"token": "x"}
        )
        for i in range(1, 2 * V6_BUDGET + 1)
    ]
    assert sum(r.status_code == 429 for r in answers) >= V6_BUDGET - 2
    # Another network is not affected.
    other = from_address(limited, "2001:db8:9::1", "POST", "/v1/verify-proof", json={"token": "x"})
    assert other.status_code == 200


def test_login_guesses_rotating_through_one_ipv6_64_lock_that_network(api: Api) -> None:
    assert set_passphrase(api.client, api.agent.owner_id, PASSPHRASE).status_code == 200
    body = {"user_principal_id": api.agent.owner_id, "passphrase": "not the passphrase"}
    answers = [
        from_address(api, f"2001:db8:5:6::{i:x}", "POST", "/v1/owner/login", json=body)
        for i in range(1, 9)
    ]
    codes = [a.json()["error"]["code"] for a in answers]
    assert codes[:5] == ["INVALID_CREDENTIALS"] * 5
    assert "LOGIN_LOCKED" in codes[5:]
    # The owner, elsewhere, still gets in (the account is far from its own lock).
    good = {**body, "passphrase": PASSPHRASE}
    owner = from_address(api, "198.51.100.7", "POST", "/v1/owner/login", json=good)
    assert owner.status_code == 200


def test_ipv4_mapped_addresses_count_as_their_ipv4_address(limited: Api) -> None:
    for _ in range(V6_BUDGET):
        from_address(limited, "203.0.113.9", "POST", "/v1/verify-proof", json={"token": "x"})
    mapped = from_address(
        limited, "::ffff:203.0.113.9", "POST", "/v1/verify-proof", json={"token": "x"}
    )
    assert mapped.status_code == 429
