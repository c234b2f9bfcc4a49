"""One HTTP request straight into the ASGI application, with every byte chosen by the caller.

No HTTP client stands in between, so paths, query strings and headers reach the application
exactly as a fuzzer wrote them (within what a real server's parser lets through). A streaming
response (Server-Sent Events) counts as answered once its headers are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

#: How long one request may take before it counts as a hang.
DEADLINE_SECONDS = 5.0
STREAMING = b"text/event-stream"


@dataclass(frozen=True)
class Request:
    method: str
    raw_path: bytes
    query: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""

    def show(self) -> str:
        """The request as a failure report prints it (bodies cut to a readable length)."""
        body = self.body if len(self.body) <= 300 else self.body[:300] + b"..."
        target = self.raw_path + (b"?" + self.query if self.query else b"")
        return (
            f"{self.method} {target[:300]!r} headers={list(self.headers)!r} "
            f"body({len(self.body)} bytes)={body!r}"
        )


@dataclass
class Response:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    seconds: float = 0.0

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def content_type(self) -> bytes:
        return (self.header(b"content-type") or b"").split(b";")[0].strip().lower()


def scope_of(request: Request) -> dict[str, Any]:
    # As uvicorn and hypercorn decode it: bytes that are not UTF-8 become U+FFFD.
    path = unquote(request.raw_path.decode("latin-1"))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": path,
        "raw_path": request.raw_path,
        "query_string": request.query,
        "root_path": "",
        "headers": list(request.headers),
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
        "state": {},
    }


async def _exchange(app: Any, request: Request) -> Response:
    response = Response()
    finished = asyncio.Event()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": request.body, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            response.status = int(message["status"])
            response.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
            if response.content_type == STREAMING:
                finished.set()
        elif message["type"] == "http.response.body":
            response.body += bytes(message.get("body", b""))
            if not message.get("more_body", False):
                finished.set()

    task = asyncio.ensure_future(app(scope_of(request), receive, send))
    waiter = asyncio.ensure_future(finished.wait())
    done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        error = task.exception()
        if error is not None and response.status == 0:
            # Nothing was answered: a server would close the connection with a 500.
            response.status, response.body = 500, repr(error).encode()
    else:
        task.cancel()  # a stream: the client goes away once it has the headers
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return response


async def call(app: Any, request: Request, deadline: float = DEADLINE_SECONDS) -> Response:
    """The application's answer to ``request``; ``TimeoutError`` past ``deadline``."""
    started = time.monotonic()
    response = await asyncio.wait_for(_exchange(app, request), deadline)
    response.seconds = time.monotonic() - started
    return response
