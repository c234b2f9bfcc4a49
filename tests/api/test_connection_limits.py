"""A real loopback server with the project's HTTP protocol: idle and half-sent connections are
closed, oversized heads refused, and fresh clients still served (bounded in count and time)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from openleash.config import ConnectionLimits
from tests.support.live import free_port

LIMITS = ConnectionLimits(
    max_header_bytes=8192, header_timeout=1.0, body_timeout=1.0, max_connections=100
)


async def _hello(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False) and message["type"] == "http.request"
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


class _Config(uvicorn.Config):
    def __init__(self, app: Any, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.limits = limits


@pytest.fixture
def server() -> Iterator[int]:
    port = free_port()
    config = _Config(
        _hello,
        limits=LIMITS,
        host="127.0.0.1",
        port=port,
        http="openleash.api.protocol:HttpProtocol",
        lifespan="off",
        log_level="critical",
        timeout_keep_alive=1,
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(running.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield port
    running.should_exit = True
    thread.join(timeout=10)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def _get(port: int) -> bytes:
    with _connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sock.settimeout(5)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        return data


def test_idle_and_half_sent_connections_are_closed_and_others_still_served(server: int) -> None:
    idle = [_connect(server) for _ in range(40)]
    half = [_connect(server) for _ in range(10)]
    for sock in half:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    try:
        assert _get(server).startswith(b"HTTP/1.1 200")  # served while they wait
        assert all(_closed_by_server(sock, 5.0) for sock in idle + half)
        assert _get(server).startswith(b"HTTP/1.1 200")
    finally:
        for sock in idle + half:
            sock.close()


def test_a_body_that_never_finishes_is_dropped(server: int) -> None:
    with _connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        assert _closed_by_server(sock, 5.0)


def test_an_idle_keep_alive_connection_is_closed(server: int) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert _closed_by_server(sock, 5.0)


def test_a_huge_head_is_refused_not_buffered(server: int) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        sent = 0
        try:
            line = b"X-Big: " + b"a" * 1000 + b"\r\n"
            while sent < 1_048_576:
                sock.sendall(line)
                sent += len(line)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: good
        sock.settimeout(5)
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:
            answer = b""
        assert sent < 1_048_576 or answer.startswith(b"HTTP/1.1 431")
        if answer:
            assert answer.startswith(b"HTTP/1.1 431")
            assert b"HEADERS_TOO_LARGE" in answer
    assert _get(server).startswith(b"HTTP/1.1 200")


def test_connections_past_the_cap_are_closed_at_once(server: int) -> None:
    held = [_connect(server) for _ in range(LIMITS.max_connections)]
    try:
        time.sleep(0.2)
        extra = _connect(server)
        assert _closed_by_server(extra, 0.8)  # well before the head timeout
        extra.close()
    finally:
        for sock in held:
            sock.close()
