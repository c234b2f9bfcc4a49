"""Small pieces every route uses: the one request-body reader, parsing numbers from the query,
rendering JSON, links, and bounded logging of unexpected failures."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response

from openleash.api.errors import status_of
from openleash.bootstrap import Services
from openleash.domain.errors import InvalidInputError, OpenLeashError
from openleash.domain.jsonvalue import JsonObject, parse_json
from openleash.service.agent_auth import SIGNING_HEADERS, SignedRequest

MAX_BODY = 1_048_576
JSON_MEDIA = "application/json"
#: An unexpected failure is logged in at most this many characters (a hostile request must
#: not be able to fill the disk through the log).
MAX_LOG_CHARS = 4000
_MAX_DIGITS = 9

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


def json_response(content: Mapping[str, object], status: int = 200) -> Response:
    """``content`` as the JSON body, its keys in their order. A view's TypedDict is a
    ``Mapping[str, object]``; what it holds must be JSON (orjson refuses anything else)."""
    return Response(orjson.dumps(content), status_code=status, media_type=JSON_MEDIA)


def error_response(error: OpenLeashError, headers: dict[str, str] | None = None) -> Response:
    response = json_response(error.to_wire(), status_of(error))
    response.headers.update(headers or {})
    return response


def whole_number(text: str | None, what: str) -> int | None:
    """``text`` as a non-negative integer of at most nine ASCII digits, ``None`` if absent;
    anything else (``-1``, ``²``, a thousand digits) is ``INVALID_REQUEST``, never a 500."""
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS):
        raise InvalidInputError(
            "INVALID_REQUEST", f"{what} must be a whole number, got {text[:20]!r}"
        )
    return int(text)


def query_int(request: Request, name: str, default: int, least: int, most: int) -> int:
    """The query parameter ``name`` as a whole number from ``least`` to ``most``."""
    return int_in_range(request.query_params.get(name), name, default, least, most)


def int_in_range(text: str | None, name: str, default: int, least: int, most: int) -> int:
    """``text``, the value of the parameter ``name``, as a whole number from ``least`` to
    ``most``; ``default`` when absent."""
    value = whole_number(text, name)
    if value is None:
        return default
    if not least <= value <= most:
        raise InvalidInputError(
            "INVALID_REQUEST", f"{name} must be a whole number from {least} to {most}"
        )
    return value


def _too_large(limit: int) -> OpenLeashError:
    return InvalidInputError("PAYLOAD_TOO_LARGE", f"Request body exceeds {limit} bytes")


async def receive_body(receive: Receive, declared: str | None, limit: int = MAX_BODY) -> bytes:
    """THE body reader (routes, portal forms and the ``/v1/authorize`` fast path): the raw
    bytes, refused with 413 past ``limit`` whether or not the request says its length."""
    length = whole_number(declared, "Content-Length")
    if length is not None and length > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidInputError(
                "INVALID_REQUEST", "Client disconnected before the body arrived"
            )
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    return await receive_body(request.receive, request.headers.get("content-length"), limit)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _unsupported() -> OpenLeashError:
    return InvalidInputError(
        "UNSUPPORTED_MEDIA_TYPE", "Send the body as JSON with Content-Type: application/json"
    )


async def json_body(request: Request) -> tuple[bytes, JsonObject]:
    """The raw bytes and the parsed JSON object of a request (fix PROTOCOL §3.7: bad input is
    a 4xx with the error envelope, never a 500)."""
    if media_type(request) != JSON_MEDIA:
        raise _unsupported()
    raw = await read_body(request)
    return raw, parse_object(raw)


async def optional_json(request: Request) -> JsonObject:
    """A JSON object body, or ``{}`` when there is none. A body of another declared type is
    refused even when empty: an HTML form (text/plain, urlencoded, multipart) never counts."""
    declared = media_type(request)
    if declared and declared != JSON_MEDIA:
        raise _unsupported()
    raw = await read_body(request)
    if not raw.strip():
        return {}
    if declared != JSON_MEDIA:
        raise _unsupported()
    return parse_object(raw)


def parse_object(raw: bytes) -> JsonObject:
    if not raw.strip():
        raise InvalidInputError("INVALID_JSON", "Request body is empty; send a JSON object")
    value = parse_json(raw)
    if not isinstance(value, dict):
        raise InvalidInputError("INVALID_JSON", "Request body must be a JSON object")
    return value


#: Headers a request may carry once: what the signature covers, and the body's length. Were one
#: sent twice, the server and whatever stands before it could each read a different value.
_ONCE = frozenset({*SIGNING_HEADERS, "content-length"})


def header_map(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The request's headers by lower-case name; a signing header or Content-Length sent
    twice is refused (``INVALID_REQUEST``), never read as its first or its last value."""
    headers: dict[str, str] = {}
    for key, value in raw:
        name = key.decode("latin-1").lower()
        if name in headers and name in _ONCE:
            raise InvalidInputError(
                "INVALID_REQUEST", f"The {name} header is sent twice; send it once"
            )
        headers[name] = value.decode("latin-1")
    return headers


def signed_request(request: Request, body: bytes | None) -> SignedRequest:
    scope = request.scope
    raw_path = scope.get("raw_path") or scope["path"].encode()
    path = raw_path.decode("latin-1").split("?", 1)[0]
    return SignedRequest(
        method=request.method,
        path=path,
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=header_map(scope["headers"]),
        body=body,
    )


def base_url(request: Request) -> str:
    """The base of generated links: ``server.public_url`` (never the request's Host, which a
    DNS-rebinding page or a client chooses)."""
    return cast(Services, request.app.state.services).settings.base_url


def clip(text: str, most: int = MAX_LOG_CHARS) -> str:
    """``text`` cut to about ``most`` characters, keeping its start and its end."""
    if len(text) <= most:
        return text
    head, tail = most // 3, most - most // 3
    return f"{text[:head]}\n... [{len(text) - most} characters cut] ...\n{text[-tail:]}"


def log_unexpected(log: logging.Logger, method: str, path: str, exc: BaseException) -> None:
    """Log a failure the server did not expect, in a bounded number of characters: the last
    frames of the traceback (a RecursionError has a thousand) and no request body."""
    trace = "".join(traceback.format_exception(exc, limit=-12))
    log.error("unexpected error on %s %s\n%s", clip(method, 16), clip(path, 200), clip(trace))
