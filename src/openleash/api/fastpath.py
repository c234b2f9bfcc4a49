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

from openleash.api.errors import status_of
from openleash.api.http import log_unexpected, parse_object, receive_body
from openleash.api.metrics import DECISIONS, LATENCY, REFUSALS, STORE_ERRORS
from openleash.api.throttle import client_address, counting_failures, throttles_of
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
        headers = list(_JSON_HEADERS)
        try:
            status, body = 200, await self._authorize(scope, receive)
            DECISIONS.labels(body["result"], "approval" in body).inc()
        except OpenLeashError as error:
            status, body = status_of(error), error.to_wire()
            REFUSALS.labels(error.code).inc()
            wait = (error.details or {}).get("retry_after_seconds")
            if status == 429 and isinstance(wait, int):
                headers.append((b"retry-after", str(wait).encode()))
            if error.code == "STORE_UNAVAILABLE":
                STORE_ERRORS.inc()
        except Exception as exc:
            log_unexpected(log, "POST", PATH, exc)
            status = 500
            body = {"error": {"code": "INTERNAL_ERROR", "message": "Internal server error"}}
            STORE_ERRORS.inc()
        payload = orjson.dumps(body)
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        LATENCY.observe(time.perf_counter() - started)

    async def _authorize(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        raw = await receive_body(receive, headers.get("content-length"))
        s = self.services()
        raw_path = scope.get("raw_path") or scope["path"].encode()
        request = SignedRequest(
            method="POST",
            path=raw_path.decode("latin-1").split("?", 1)[0],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=raw or None,
        )
        # The wrapped app is the FastAPI one; its state holds the tables its routes use too.
        limits = throttles_of(getattr(self.app, "state"), s.settings, s.options)  # noqa: B009
        with counting_failures(limits.failures, client_address(scope)):
            call, snap = await verify_agent(s.runtime, request, s.options, s.options.clock())
        return await authorize(s.runtime, snap, call, parse_object(raw), s.options)
