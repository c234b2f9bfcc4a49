"""Every route of the application, read from the application itself, with what it answers.

:func:`operations` walks ``app.routes`` (through the routers FastAPI includes) so a route added
to the application is fuzzed without anyone listing it here. What does need listing: the
routes whose answers are not JSON (:data:`NOT_JSON`) and any route left out of fuzzing
(:data:`EXCLUDED`, with the reason).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

#: Documented answers that are not JSON: (method, path) -> what they are. Their 4xx answers
#: are checked for the envelope only when they are JSON.
NOT_JSON: dict[tuple[str, str], str] = {
    ("GET", "/metrics"): "Prometheus text exposition",
    ("GET", "/v1/owner/events/stream"): "Server-Sent Events",
    ("GET", "/reference"): "the OpenAPI documentation page (HTML)",
    ("HEAD", "/reference"): "the OpenAPI documentation page (HTML)",
    ("GET", "/docs/oauth2-redirect"): "FastAPI's OAuth2 redirect page (HTML)",
    ("HEAD", "/docs/oauth2-redirect"): "FastAPI's OAuth2 redirect page (HTML)",
}
#: Every /gui route is a portal page or form: HTML, or a redirect.
PORTAL_PREFIX = "/gui"

#: Routes not fuzzed, with the reason: (method, path) -> why. Empty: every route is fuzzed.
EXCLUDED: dict[tuple[str, str], str] = {}

_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    #: The query parameters the OpenAPI document gives (empty for undocumented routes).
    query: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def params(self) -> list[str]:
        return _PARAM.findall(self.path)

    @property
    def json(self) -> bool:
        """Whether every answer, success or refusal, must be JSON."""
        return (self.method, self.path) not in NOT_JSON and not self.portal

    @property
    def portal(self) -> bool:
        return self.path == PORTAL_PREFIX or self.path.startswith(PORTAL_PREFIX + "/")

    @property
    def auth(self) -> str:
        """Who may call it: ``agent``, ``admin``, ``owner``, ``portal``, ``pep`` or ``none``."""
        path = self.path
        if path == "/v1/authorize" or path.startswith("/v1/agent/"):
            return "agent"
        if path.startswith("/v1/admin/") or path == "/metrics":
            return "admin"
        if path in ("/v1/owner/setup", "/v1/owner/login"):
            return "none"
        if path.startswith("/v1/owner/"):
            return "owner"
        if self.portal:
            return "portal"
        if path.startswith("/access/v1/"):
            return "pep"
        return "none"


def _routes(routes: Any) -> Iterator[Any]:
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # a router FastAPI included: its routes, with their prefix
            yield from contexts()
        else:
            yield route


def routes_of(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the application serves."""
    found: set[tuple[str, str]] = set()
    for route in _routes(app.routes):
        for method in getattr(route, "methods", None) or ():
            found.add((method, route.path))
    return found


def _query_names(app: FastAPI) -> dict[tuple[str, str], tuple[str, ...]]:
    names: dict[tuple[str, str], tuple[str, ...]] = {}
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            params = operation.get("parameters", [])
            names[(method.upper(), path)] = tuple(p["name"] for p in params if p["in"] == "query")
    return names


def operations(app: FastAPI) -> list[Operation]:
    """What the fuzz suite calls: every route but the excluded ones, in a stable order."""
    query = _query_names(app)
    return [
        Operation(method, path, query.get((method, path), ()))
        for method, path in sorted(routes_of(app))
        if (method, path) not in EXCLUDED
    ]
