"""``create_app()``: the ASGI application, its error table and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

from openleash import __version__
from openleash.api import admin, agent, metrics, owner, portal, public
from openleash.api.authzen import router as authzen_router
from openleash.api.errors import status_of
from openleash.api.fastpath import AuthorizeFastPath, authorize_route
from openleash.api.guard import BrowserGuard
from openleash.api.http import error_response, json_response, log_unexpected
from openleash.api.proxy import ForwardedHeaders
from openleash.api.wire import authorize as authorize_wire
from openleash.api.wire.common import check_unique_operation_ids, install_openapi
from openleash.bootstrap import Services, open_services
from openleash.config import Settings, load_settings
from openleash.domain.errors import OpenLeashError
from openleash.domain.jsonvalue import JsonObject
from openleash.service.webhook_dispatch import WebhookDispatcher
from openleash.service.webhooks import Deliverer

log = logging.getLogger("openleash")

_HTTP_CODES = {
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


async def _on_openleash_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OpenLeashError)  # noqa: S101 - registered for this type only
    response = error_response(exc)
    wait = (exc.details or {}).get("retry_after_seconds")
    if status_of(exc) == 429 and isinstance(wait, int):
        response.headers["Retry-After"] = str(wait)  # RATE_LIMITED, LOGIN_LOCKED, ...
    return response


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for this type only
    code = _HTTP_CODES.get(exc.status_code, "INVALID_REQUEST")
    path = request.url.path[:200]
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        message = f"No route {request.method[:16]} {path}"
    elif exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
        message = f"{request.method[:16]} is not allowed on {path}; use {headers['Allow']}"
    else:
        message = str(exc.detail)
    response = json_response({"error": {"code": code, "message": message}}, exc.status_code)
    response.headers.update(headers)
    return response


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path answers (a path may have several routes, and
    routers may be nested: each method is asked of the whole table)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    # The exception is logged in bounded size (without the request body, which may hold
    # secrets); the client gets the envelope and nothing of the internals.
    log_unexpected(log, request.method, request.url.path, exc)
    return json_response(
        {"error": {"code": "INTERNAL_ERROR", "message": "Internal server error"}}, 500
    )


def _settle_garbage_collector() -> None:
    """Move what start-up allocated out of the collector's way and collect less often.

    Requests allocate many short-lived objects; with the default thresholds the cyclic
    collector runs every few requests and, walking every long-lived object of the process each
    time it reaches the oldest generation, puts milliseconds on the tail latency."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def _lifespan(
    open_them: Callable[[], Awaitable[Services]],
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What runs around the served requests: the services opened (in the worker process), the
    webhook sender started; on the way out, both stopped and the store closed."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = await open_them()
        app.state.services = opened
        deliverer = Deliverer(allow_private=opened.options.webhook_allow_private)
        dispatcher = WebhookDispatcher(
            opened.store, opened.runtime, deliverer, opened.options.clock
        )
        sending = asyncio.create_task(dispatcher.run(), name="openleash-webhooks")
        _settle_garbage_collector()
        try:
            yield
        finally:
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
            await deliverer.aclose()
            await opened.store.close()

    return lifespan


def create_app(
    settings: Settings | None = None,
    services: Callable[[], Awaitable[Services]] | None = None,
) -> FastAPI:
    """The application. Services are opened in the lifespan, in the worker process."""
    resolved = settings or load_settings()

    async def opener() -> Services:
        return await open_services(resolved)

    app = FastAPI(
        title="OpenLeash",
        version=__version__,
        description="Per-action authorization for AI agents.",
        openapi_url="/reference/openapi.json",
        docs_url="/reference",
        redoc_url=None,
        # Starlette's redirect of a trailing slash is an absolute URL built from the Host
        # header (a poisoned cache or a phishing link could send it elsewhere): 404 instead.
        redirect_slashes=False,
        lifespan=_lifespan(services or opener),
    )
    install_openapi(app)
    app.add_exception_handler(OpenLeashError, _on_openleash_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
    app.include_router(public.router)
    app.include_router(agent.router)
    app.include_router(admin.router)
    app.include_router(owner.router)
    app.include_router(portal.router)
    app.include_router(metrics.router)
    app.include_router(authzen_router)
    _serve_authorize(app)
    # The last added runs first: forwarded headers are settled before the guard reads them.
    app.add_middleware(BrowserGuard, settings=resolved)
    app.add_middleware(ForwardedHeaders, trusted=resolved.trusted_proxies)
    return app


def _serve_authorize(app: FastAPI) -> None:
    """``POST /v1/authorize``: routed to the fast path's handler, which serves the path ahead
    of the application (:mod:`openleash.api.fastpath`), and added to ``app.openapi()`` from its
    wire models (it is no FastAPI route, so FastAPI cannot describe it)."""
    app.router.routes.append(authorize_route(app))
    generate = app.openapi

    def openapi() -> JsonObject:
        document = authorize_wire.add_to_openapi(generate())
        check_unique_operation_ids(document)
        return document

    # FastAPI documents replacing app.openapi as the way to extend the generated document.
    app.openapi = openapi  # type: ignore[method-assign]


def create_asgi(
    settings: Settings | None = None,
    services: Callable[[], Awaitable[Services]] | None = None,
) -> AuthorizeFastPath:
    """The served application: :func:`create_app` behind the ``/v1/authorize`` fast path."""
    return AuthorizeFastPath(create_app(settings, services))


def create_app_from_env() -> AuthorizeFastPath:
    """Factory for worker processes: settings come from ``OPENLEASH_*`` variables."""
    return create_asgi()
