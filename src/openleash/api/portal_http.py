"""The owner portal's HTTP plumbing: HTML pages from templates, security headers, the sign-in
redirect, and the CSRF check every form goes through.

Pages are rendered on the server with Jinja2 (autoescaping on: whatever an agent wrote is text,
never markup). The session is the ``openleash_session`` cookie the owner API sets. Each form
carries the session's CSRF token in a hidden field, compared in constant time; the login form,
which has no session yet, carries a token from a short-lived cookie of its own (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Coroutine
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from fastapi.routing import APIRoute
from jinja2 import Environment, FunctionLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from openleash.api.cookies import SESSION_COOKIE
from openleash.api.deps import services
from openleash.api.errors import status_of
from openleash.api.guard import SAFE_METHODS, Origins, check_browser
from openleash.api.http import base_url, media_type, read_body
from openleash.domain.errors import ForbiddenError, InvalidInputError, NotFoundError, OpenLeashError
from openleash.domain.jsonvalue import JsonObject
from openleash.service.owner_auth import OwnerCall

PREFIX = "/gui"
LOGIN_PATH = f"{PREFIX}/login"
HOME_PATH = f"{PREFIX}/approvals"
LOGIN_CSRF_COOKIE = "openleash_login_csrf"
LOGIN_CSRF_SECONDS = 3600
MAX_FORM = 262_144

_PORTAL = resources.files("openleash").joinpath("portal")
_TEMPLATES = _PORTAL.joinpath("templates")
_STATIC = _PORTAL.joinpath("static")

#: Pages allow nothing from elsewhere: scripts, styles and the event stream come from this
#: origin, and no page can be framed (clickjacking an approve button).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: Session failures that send a browser to the login page (anything else is an error page).
_SIGNED_OUT = frozenset({"MISSING_TOKEN", "INVALID_SESSION", "USER_NOT_FOUND", "USER_INACTIVE"})

_CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


# -- static files -------------------------------------------------------------------------------


def _load_static() -> dict[str, tuple[bytes, str, str]]:
    """Every file of ``portal/static``: bytes, media type and a short content hash (read once;
    a request can only name a file in this table, so no path reaches the file system)."""
    found: dict[str, tuple[bytes, str, str]] = {}
    for entry in _STATIC.iterdir():
        if not entry.is_file():
            continue
        data = entry.read_bytes()
        suffix = entry.name[entry.name.rfind(".") :] if "." in entry.name else ""
        media = _CONTENT_TYPES.get(suffix, "application/octet-stream")
        found[entry.name] = (data, media, hashlib.sha256(data).hexdigest()[:12])
    return found


STATIC_FILES = _load_static()


def static_url(name: str) -> str:
    """The URL of a static file, versioned by its content so it can be cached for long."""
    return f"{PREFIX}/static/{name}?v={STATIC_FILES[name][2]}"


def static_response(name: str) -> Response:
    found = STATIC_FILES.get(name)
    if found is None:
        raise NotFoundError("NOT_FOUND", f"No file {name}")
    data, media, _ = found
    return Response(
        data, media_type=media, headers={"Cache-Control": "public, max-age=86400, immutable"}
    )


# -- templates ----------------------------------------------------------------------------------


def _template_source(name: str) -> tuple[str, str, Callable[[], bool]] | None:
    if "/" in name or "\\" in name or not name.endswith(".html"):
        return None
    entry = _TEMPLATES.joinpath(name)
    if not entry.is_file():
        return None
    return entry.read_text(encoding="utf-8"), name, lambda: True


_env = Environment(
    loader=FunctionLoader(_template_source),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["static"] = static_url


def render(
    template: str,
    *,
    call: OwnerCall | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page. ``call`` (the signed-in owner) gives the navigation and the forms' CSRF token;
    ``status`` is the HTTP status, which templates see too."""
    values: dict[str, object] = {
        "status": status,
        "call": call,
        "csrf_token": call.session.csrf_token if call is not None else "",
        "error": None,
        "flash": None,
        "nav": None,
    }
    values.update(context)
    return HTMLResponse(_env.get_template(template).render(values), status_code=status)


def harden(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    # Pages show approvals, policies and audit records: never keep them in a cache.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def redirect(target: str) -> Response:
    return RedirectResponse(target, status_code=303)


# -- signing in ---------------------------------------------------------------------------------


class SignInRequired(Exception):  # noqa: N818 - a signal to redirect, not a failure
    """No valid session: the browser goes to the login page and comes back to ``return_to``."""

    def __init__(self, return_to: str | None, had_cookie: bool) -> None:
        super().__init__("sign in required")
        self.return_to = return_to
        self.had_cookie = had_cookie


def safe_return(target: str | None) -> str:
    """``target`` when it is a portal page of this site, else the inbox (no open redirect)."""
    if not target or len(target) > 2000 or re.search(r"[\\\x00-\x20\x7f]", target):
        return HOME_PATH
    parts = urlsplit(target)
    path = parts.path
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return HOME_PATH
    if not (path == PREFIX or path.startswith(f"{PREFIX}/")) or "/." in path:
        return HOME_PATH
    if path == LOGIN_PATH or path.startswith(f"{PREFIX}/static/"):
        return HOME_PATH
    return target


def login_url(return_to: str | None) -> str:
    if not return_to:
        return LOGIN_PATH
    return f"{LOGIN_PATH}?returnTo={quote(safe_return(return_to), safe='')}"


def _here(request: Request) -> str | None:
    """Where to come back to after signing in: this page, or for a form the page it was on."""
    if request.method == "GET":
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    referer = request.headers.get("referer", "")
    parts = urlsplit(referer)
    if parts.netloc != request.url.netloc:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def owner_of(request: Request) -> OwnerCall:
    """The signed-in owner (by the session cookie only), or :class:`SignInRequired`."""
    s = services(request)
    token = request.cookies.get(SESSION_COOKIE)
    try:
        return await s.accounts.authenticate(token)
    except OpenLeashError as exc:
        if exc.code not in _SIGNED_OUT:
            raise
        raise SignInRequired(_here(request), token is not None) from None


# -- forms --------------------------------------------------------------------------------------


async def read_form(request: Request) -> dict[str, str]:
    """A URL-encoded form (the only kind the portal's forms send); the last value of a name."""
    raw = await read_body(request, MAX_FORM)
    if not raw:
        return {}
    if media_type(request) != "application/x-www-form-urlencoded":
        raise InvalidInputError("UNSUPPORTED_MEDIA_TYPE", "Send the form URL-encoded")
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, max_num_fields=100, errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidInputError("INVALID_REQUEST", "The form could not be read") from None
    return dict(pairs)


def _same_token(presented: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(presented.encode(), expected.encode())


def csrf_refused() -> OpenLeashError:
    return ForbiddenError(
        "CSRF_FAILED",
        "This form is out of date or was not sent from this site; reload the page and try again",
    )


async def owner_form(request: Request) -> tuple[OwnerCall, dict[str, str]]:
    """The signed-in owner and the form they sent, refused unless it carries the session's CSRF
    token."""
    call = await owner_of(request)
    form = await read_form(request)
    if not _same_token(form.get("csrf_token", ""), call.session.csrf_token):
        raise csrf_refused()
    return call, form


def login_csrf(request: Request) -> tuple[str, bool]:
    """The login form's token and whether it is new (the cookie must then be set)."""
    current = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if re.fullmatch(r"[A-Za-z0-9_-]{32,64}", current):
        return current, False
    return secrets.token_urlsafe(32), True


def set_login_csrf(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_SECONDS,
        httponly=True,
        secure=base_url(request).startswith("https://"),
        samesite="strict",
        path=LOGIN_PATH,
    )


def check_login_csrf(request: Request, form: dict[str, str]) -> None:
    if not _same_token(form.get("csrf_token", ""), request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        raise csrf_refused()


#: Messages after a form succeeded: the redirect names one, so nothing of a request is echoed.
FLASH = {
    "approved": "Approved. The agent can now go ahead with this exact action.",
    "denied": "Denied. The agent has been told.",
    "revoked": "The agent was revoked.",
    "activated": "The agent was activated: it can ask for decisions from now on.",
    "policy_saved": "Policy saved. It applies from the next request.",
    "policy_deleted": "Policy deleted.",
    "policy_moved": "Order changed. It applies from the next request.",
    "draft_approved": "Draft approved: it is now a policy.",
    "draft_denied": "Draft denied.",
    "totp_disabled": "Two-factor authentication is off.",
}


def flash(request: Request) -> str | None:
    return FLASH.get(request.query_params.get("done", ""))


def page(
    request: Request,
    template: str,
    call: OwnerCall,
    *,
    nav: str,
    error: OpenLeashError | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page of the signed-in owner, with the refusal of a form sent from it (``error``, and
    its status) and the message of a form that went through (named by the redirect)."""
    status = status_of(error) if error else 200
    return render(
        template, call=call, status=status, nav=nav, error=error, flash=flash(request), **context
    )


def second_factor(form: dict[str, str]) -> JsonObject:
    """The fields the services read for the TOTP gate (empty ones count as absent). The
    passphrase goes as typed: spaces may be part of it."""
    return {
        "totp_code": form.get("totp_code", "").strip(),
        "passphrase": form.get("passphrase", ""),
    }


# -- the route class ----------------------------------------------------------------------------


class PortalRoute(APIRoute):
    """Every portal response gets the security headers; a missing session becomes a redirect
    to the login page and a failure an HTML error page (never the API's JSON envelope)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def portal_handler(request: Request) -> Response:
            try:
                if request.method not in SAFE_METHODS:
                    # The CSRF token is kept; this refuses a form another site's page sent
                    # before anything of it is read.
                    check_browser(request.scope, Origins.of(services(request).settings))
                response = await handle(request)
            except SignInRequired as signal:
                response = redirect(login_url(signal.return_to))
                if signal.had_cookie:
                    response.delete_cookie(SESSION_COOKIE, path="/")
            except OpenLeashError as exc:
                status = status_of(exc)
                response = render("error.html", status=status, error=exc, error_status=status)
            return harden(response)

        return portal_handler
