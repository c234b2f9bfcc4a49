"""Small pieces every route uses: reading a bounded JSON body, rendering JSON."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from openleash.domain.errors import OpenLeashError
from openleash.domain.jsonvalue import parse_json
from openleash.service.agent_auth import SignedRequest

MAX_BODY = 1_048_576


def json_response(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


def error_response(error: OpenLeashError) -> Response:
    return json_response(error.to_wire(), error.status)


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The raw body, refused with 413 past ``limit`` bytes (whether or not it says its length)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise OpenLeashError("PAYLOAD_TOO_LARGE", f"Request body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise OpenLeashError("PAYLOAD_TOO_LARGE", f"Request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _require_json(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise OpenLeashError(
            "UNSUPPORTED_MEDIA_TYPE", "Send the body as JSON with Content-Type: application/json"
        )


async def json_body(request: Request) -> tuple[bytes, dict[str, Any]]:
    """The raw bytes and the parsed JSON object of a request (fix PROTOCOL §3.7: bad input is
    a 4xx with the error envelope, never a 500)."""
    _require_json(request)
    raw = await read_body(request)
    return raw, parse_object(raw)


def parse_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise OpenLeashError("INVALID_JSON", "Request body is empty; send a JSON object")
    value = parse_json(raw)
    if not isinstance(value, dict):
        raise OpenLeashError("INVALID_JSON", "Request body must be a JSON object")
    return value


def signed_request(request: Request, body: bytes | None) -> SignedRequest:
    scope = request.scope
    raw_path = scope.get("raw_path") or scope["path"].encode()
    path = raw_path.decode("latin-1").split("?", 1)[0]
    return SignedRequest(
        method=request.method,
        path=path,
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=request.headers,
        body=body,
    )


def base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"
