"""``POST /v1/authorize`` served straight from ASGI.

Every agent action goes through this one route, so it skips the framework's routing and
dependency machinery: the handler reads the body, calls the same service function as the
documented route in :mod:`openleash.api.agent`, and writes the response. Everything else goes to
the application unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from openleash.api.http import MAX_BODY, parse_object
from openleash.api.metrics import DECISIONS, LATENCY, REFUSALS, STORE_ERRORS
from openleash.bootstrap import Services
from openleash.domain.errors import OpenLeashError
from openleash.service.agent_auth import SignedRequest, verify_agent
from openleash.service.authorize import authorize

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("openleash")

PATH = "/v1/authorize"
_JSON_HEADERS = [(b"content-type", b"application/json")]


class AuthorizeFastPath:
    """ASGI middleware: answers ``POST /v1/authorize`` itself, passes the rest on."""

    def __init__(self, app: ASGIApp, services: Callable[[], Services]) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            status, body = 200, await self._authorize(scope, receive)
            DECISIONS.labels(body["result"], "approval" in body).inc()
        except OpenLeashError as error:
            status, body = error.status, error.to_wire()
            REFUSALS.labels(error.code).inc()
            if error.code == "STORE_UNAVAILABLE":
                STORE_ERRORS.inc()
        except Exception:
            log.exception("unexpected error on POST %s", PATH)
            status = 500
            body = {"error": {"code": "INTERNAL_ERROR", "message": "Internal server error"}}
            STORE_ERRORS.inc()
        payload = orjson.dumps(body)
        headers = [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        LATENCY.observe(time.perf_counter() - started)

    async def _authorize(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        raw = await _read_body(receive, headers.get("content-length"))
        s = self.services()
        raw_path = scope.get("raw_path") or scope["path"].encode()
        request = SignedRequest(
            method="POST",
            path=raw_path.decode("latin-1").split("?", 1)[0],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=raw or None,
        )
        call, snap = await verify_agent(s.runtime, request, s.options, s.options.clock())
        return await authorize(s.runtime, snap, call, parse_object(raw), s.options)


async def _read_body(receive: Receive, declared: str | None) -> bytes:
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise OpenLeashError("PAYLOAD_TOO_LARGE", f"Request body exceeds {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise OpenLeashError("INVALID_REQUEST", "Client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise OpenLeashError("PAYLOAD_TOO_LARGE", f"Request body exceeds {MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
