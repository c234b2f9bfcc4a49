"""What keeps a web page from using the authority of the browser or the machine it runs on.

Admin calls from loopback and owner calls with the session cookie are authenticated by where
they come from, not by anything the caller proves. A page the owner visits can reach them: by
DNS rebinding (its own name now resolves to 127.0.0.1, so the request carries a foreign
``Host``) or with a cross-site form or fetch (the browser sends ``Origin`` and
``Sec-Fetch-Site``). So such requests must name this server in ``Host`` (its public URL, or a
loopback name on its port), must not come from another origin, and state changes must carry
JSON (an HTML form can only send text/plain, urlencoded or multipart bodies). Clients that are
not browsers send neither ``Origin`` nor ``Sec-Fetch-Site`` and pass.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from openleash.api.errors import status_of
from openleash.config import Settings
from openleash.domain.errors import ForbiddenError, InvalidInputError, OpenLeashError

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
Place = tuple[str, str, int]  # scheme, host name, port

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SAME_ORIGIN_FETCHES = frozenset({"same-origin", "none"})
ADMIN_PREFIX = "/v1/admin"
#: Routes outside ``/v1/admin`` that admit loopback callers as admins (``require_admin``).
ADMIN_PATHS = frozenset({"/metrics"})
OWNER_PREFIX = "/v1/owner/"
#: Owner routes that read no session: a bearer header on them proves nothing.
OWNER_SIGN_IN = frozenset({"/v1/owner/login", "/v1/owner/setup"})


@dataclass(frozen=True, slots=True)
class Origins:
    """This server's own places: its public URL and loopback on its port."""

    public: Place
    port: int

    @classmethod
    def of(cls, settings: Settings) -> Origins:
        parts = urlsplit(settings.base_url)
        scheme = parts.scheme
        name = _name(parts.hostname or "")
        return cls((scheme, name, parts.port or _DEFAULT_PORTS[scheme]), settings.port)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _name(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def _split_host(host: str) -> tuple[str, int | None] | None:
    """``name[:port]`` of a Host header, or ``None`` when it is not one."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else (None if not rest else "x")
    else:
        name, sep, port_text = host.partition(":")
        port = port_text if sep else None
    if not name or (port is not None and not (port.isascii() and port.isdigit())):
        return None
    if port is not None and not 0 < len(port) <= 5:
        return None
    return _name(name), int(port) if port is not None else None


def _is_ours(scheme: str, host: str, origins: Origins) -> bool:
    split = _split_host(host)
    if split is None:
        return False
    name, port = split
    pub_scheme, pub_name, pub_port = origins.public
    if name == pub_name and (port or _DEFAULT_PORTS[pub_scheme]) == pub_port:
        return True
    return name in LOOPBACK_NAMES and (port or _DEFAULT_PORTS.get(scheme, 80)) == origins.port


def check_host(scope: Scope, origins: Origins) -> str:
    """The request's Host, when it names this server; else ``FORBIDDEN_HOST``."""
    host = header(scope, b"host")
    if host is None or not _is_ours(scope.get("scheme", "http"), host, origins):
        raise ForbiddenError(
            "FORBIDDEN_HOST",
            "This server does not answer to that Host name. Use its public URL "
            "(set server.public_url) or a loopback address on its port",
            {"host": (host or "")[:100]},
        )
    return host


def _origin_place(origin: str) -> Place | None:
    parts = urlsplit(origin)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path:
        return None
    return parts.scheme, _name(parts.hostname), port or _DEFAULT_PORTS[parts.scheme]


def check_origin(scope: Scope, host: str, origins: Origins) -> None:
    """Refuse a request a browser sent from a page of another origin."""
    site = header(scope, b"sec-fetch-site")
    origin = header(scope, b"origin")
    if site is not None and site.strip().lower() not in _SAME_ORIGIN_FETCHES:
        raise _cross_site(f"Sec-Fetch-Site: {site[:30]}")
    if origin is None:
        return
    place = _origin_place(origin.strip())
    scheme = scope.get("scheme", "http")
    split = _split_host(host)
    own = (scheme, split[0], split[1] or _DEFAULT_PORTS.get(scheme, 80)) if split else None
    if place is None or place not in (origins.public, own):
        raise _cross_site(f"Origin: {origin[:100]}")


def _cross_site(seen: str) -> OpenLeashError:
    return ForbiddenError(
        "FORBIDDEN_ORIGIN",
        "Requests from another site's pages are refused; call this route from a program, or "
        "from this server's own pages",
        {"seen": seen},
    )


def check_browser(scope: Scope, origins: Origins) -> None:
    """Host names this server and the request does not come from another origin."""
    check_origin(scope, check_host(scope, origins), origins)


def check_json_or_empty(scope: Scope) -> None:
    """A state change carries JSON or no body at all: never what an HTML form can send."""
    content_type = header(scope, b"content-type")
    if content_type is not None:
        if content_type.split(";", 1)[0].strip().lower() == "application/json":
            return
    elif (
        header(scope, b"content-length") in (None, "0")
        and header(scope, b"transfer-encoding") is None
    ):
        return
    raise InvalidInputError(
        "UNSUPPORTED_MEDIA_TYPE",
        "Send the body as JSON with Content-Type: application/json (or send no body)",
    )


def _bearer(scope: Scope) -> bool:
    scheme, _, value = (header(scope, b"authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and bool(value.strip())


def check_api(scope: Scope, origins: Origins) -> None:
    """The rules for the JSON API routes that may be authenticated by ambient authority."""
    path, changes = scope["path"], scope["method"] not in SAFE_METHODS
    if path == ADMIN_PREFIX or path.startswith(f"{ADMIN_PREFIX}/") or path in ADMIN_PATHS:
        # Loopback is ambient whatever else the request carries (a rebinding page can add any
        # header), so every admin request is checked, reads included.
        check_browser(scope, origins)
    elif path.startswith(OWNER_PREFIX) and changes:
        # A bearer session is proof no web page can borrow; anything else (the cookie, or no
        # session yet: login and set-up ignore a bearer header) is checked.
        if path in OWNER_SIGN_IN or not _bearer(scope):
            check_browser(scope, origins)
    else:
        return
    if changes:
        check_json_or_empty(scope)


class BrowserGuard:
    """ASGI middleware: :func:`check_api` before the admin and owner routes."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.origins = Origins.of(settings)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            try:
                check_api(scope, self.origins)
            except OpenLeashError as refused:
                await _refuse(send, refused)
                return
        await self.app(scope, receive, send)


async def _refuse(send: Any, error: OpenLeashError) -> None:
    body = orjson.dumps(error.to_wire())
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status_of(error), "headers": headers})
    await send({"type": "http.response.body", "body": body})
