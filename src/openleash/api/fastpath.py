"""``POST /v1/authorize``: one ASGI handler, served ahead of the application.

Every agent action goes through this one route, so :class:`AuthorizeFastPath` hands it to
:class:`AuthorizeHandler` before the framework's routing, middleware and dependency machinery
see it; everything else goes to the application unchanged. The application routes the path to
the same handler too (:func:`authorize_route`): other methods get its ``405`` with
``Allow: POST``, and the application alone (without the fast path in front) serves it alike.

The handler decodes the request by hand, as the hot path must; the types it reads and writes are
documented, and checked against real requests and answers by the tests, in
:mod:`openleash.api.wire.authorize`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, cast

import orjson
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.routing import Route

from openleash.api.errors import status_of
from openleash.api.http import header_map, log_unexpected, parse_object, receive_body
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
METHOD = "POST"
_JSON_HEADERS = [(b"content-type", b"application/json")]


class AuthorizeHandler:
    """The ASGI handler of ``POST /v1/authorize``: a decision (200) or the error envelope."""

    def __init__(self, state: State) -> None:
        #: The application's state: its services, and the throttle tables its routes use too.
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = list(_JSON_HEADERS)
        body: Mapping[str, Any]
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
            log_unexpected(log, METHOD, PATH, exc)
            status = 500
            body = {"error": {"code": "INTERNAL_ERROR", "message": "Internal server error"}}
            STORE_ERRORS.inc()
        payload = orjson.dumps(body)
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        LATENCY.observe(time.perf_counter() - started)

    async def _authorize(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        headers = header_map(scope["headers"])
        raw = await receive_body(receive, headers.get("content-length"))
        s = cast(Services, self.state.services)
        raw_path = scope.get("raw_path") or scope["path"].encode()
        request = SignedRequest(
            method=METHOD,
            path=raw_path.decode("latin-1").split("?", 1)[0],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=raw or None,
        )
        limits = throttles_of(self.state, s.settings, s.options)
        with counting_failures(limits.failures, client_address(scope)):
            # The signature covers the exact bytes, so they are verified before they are parsed.
            call, snap = await verify_agent(s.runtime, request, s.options, s.options.clock())
        return await authorize(s.runtime, snap, call, parse_object(raw), s.options)


def authorize_route(app: Starlette) -> Route:
    """The application's route of the path, to the one handler (left out of the generated
    OpenAPI document, which describes the path from :mod:`openleash.api.wire.authorize`)."""
    return Route(PATH, AuthorizeHandler(app.state), methods=[METHOD], include_in_schema=False)


class AuthorizeFastPath:
    """ASGI middleware: answers ``POST /v1/authorize`` itself, passes the rest on."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.handler = AuthorizeHandler(app.state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == METHOD:
            await self.handler(scope, receive, send)
            return
        await self.app(scope, receive, send)
