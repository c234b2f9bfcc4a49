"""``ProofMiddleware``: an ASGI middleware that lets only proven agent requests through.

For each HTTP request it protects, it reads the proof (``X-OpenLeash-Proof``) and the action
it was issued for (``X-OpenLeash-Action``, base64url JSON), verifies them with a
:class:`~openleash.verify.ProofVerifier`, and, with ``bind=True`` (the default), checks that the
action names this very request (``payload.request_sha256``: method, path with query, body).
A refused request is answered 401 or 403 with the OpenLeash error envelope and never reaches
the application; an accepted one carries the :class:`~openleash.verify.VerifiedProof` in its
scope (:func:`proof_of`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openleash.client.actions import ACTION_HEADER, PROOF_HEADER, decode_action_header
from openleash.domain.jsonvalue import JsonObject
from openleash.verify.errors import (
    PROOF_ACTION_MISMATCH,
    PROOF_REQUIRED,
    ProofRejected,
)
from openleash.verify.verifier import (
    HttpRequest,
    ProofVerifier,
    VerifiedProof,
    expected_action_type,
)

__all__ = ["SCOPE_KEY", "ProofMiddleware", "proof_of", "rejection_response", "request_of"]

#: Where the middleware leaves the verified proof in the request's ASGI scope.
SCOPE_KEY = "openleash.proof"
DEFAULT_MAX_BODY = 1 << 20


def proof_of(scope: Mapping[str, Any]) -> VerifiedProof | None:
    """The proof the middleware verified for this request (``request.scope`` in Starlette)."""
    found = scope.get(SCOPE_KEY)
    return found if isinstance(found, VerifiedProof) else None


def request_of(scope: Mapping[str, Any], body: bytes) -> HttpRequest:
    """The request as the agent bound it: method, raw path with its query, body."""
    raw_path = scope.get("raw_path") or scope.get("path", "/").encode()
    raw_path = raw_path.split(b"?", 1)[0]  # the query is in query_string (ASGI spec)
    query = scope.get("query_string") or b""
    target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
    return HttpRequest(str(scope.get("method", "GET")), target, body)


def _header(scope: Mapping[str, Any], name: str) -> str | None:
    wanted = name.lower().encode("latin-1")
    for key, value in scope.get("headers") or ():
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None


def presented_action(value: str | None) -> JsonObject | None:
    """The action header's JSON object; :class:`ProofRejected` when it is not one."""
    if value is None:
        return None
    try:
        action = decode_action_header(value)
    except ValueError:
        action = None
    if not isinstance(action, dict):
        raise ProofRejected(PROOF_ACTION_MISMATCH, f"{ACTION_HEADER} is not base64url JSON")
    return action


def rejection_response(exc: ProofRejected) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of the answer to a refused request."""
    body = json.dumps(exc.to_wire(), separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if exc.status == 401:
        headers.append((b"www-authenticate", b'OpenLeash-Proof realm="openleash"'))
    return exc.status, headers, body


class _BodyTooLargeError(Exception):
    """The body exceeds ``max_body``."""


class ProofMiddleware:
    """``ProofMiddleware(app, verifier, action_type=...)``: protect ``app``.

    * ``action_type`` (required): the action type every proof must be for, or a function of
      the scope returning it. There is no "any type": a function that returns no type for a
      request refuses that request (``PROOF_ACTION_MISMATCH``).
    * ``header`` / ``action_header``: where the proof and its action travel.
    * ``bind``: require the action to name this request (see :mod:`openleash.client.actions`).
    * ``protect``: a function of the scope saying whether a request needs a proof (default:
      every HTTP request).
    * ``max_body``: the largest body read for binding (bigger: 413).
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: ProofVerifier,
        *,
        action_type: str | Callable[[Scope], str | None],
        header: str = PROOF_HEADER,
        action_header: str = ACTION_HEADER,
        bind: bool = True,
        protect: Callable[[Scope], bool] | None = None,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.app = app
        self.verifier = verifier
        if not callable(action_type):
            action_type = expected_action_type(action_type)
        self.header = header
        self.action_header = action_header
        self.bind = bind
        self.action_type = action_type
        self.protect = protect
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.protect is not None and not self.protect(scope)):
            await self.app(scope, receive, send)
            return
        try:
            body, receive = await self._buffer(receive) if self.bind else (b"", receive)
        except _BodyTooLargeError:
            await _answer(send, 413, "PAYLOAD_TOO_LARGE", "the request body is too large")
            return
        try:
            proof = await self._verify(scope, body)
        except ProofRejected as exc:
            status, headers, content = rejection_response(exc)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": content})
            return
        scope[SCOPE_KEY] = proof
        state = scope.setdefault("state", {})
        if isinstance(state, MutableMapping):
            state["openleash_proof"] = proof  # Starlette's request.state.openleash_proof
        await self.app(scope, receive, send)

    async def _verify(self, scope: Scope, body: bytes) -> VerifiedProof:
        token = _header(scope, self.header)
        if not token:
            raise ProofRejected(
                PROOF_REQUIRED, f"this request needs an OpenLeash proof ({self.header})"
            )
        action = presented_action(_header(scope, self.action_header))
        return await self.verifier.averify(
            token.strip(),
            action=action,
            action_type=self._expected_type(scope),
            request=request_of(scope, body) if self.bind else None,
        )

    def _expected_type(self, scope: Scope) -> str:
        if not callable(self.action_type):
            return self.action_type
        chosen = self.action_type(scope)
        if not isinstance(chosen, str) or not chosen:
            # Fail closed: a request the service gives no action type takes no proof at all.
            raise ProofRejected(
                PROOF_ACTION_MISMATCH, "this service accepts no proof for this request"
            )
        return chosen

    async def _buffer(self, receive: Receive) -> tuple[bytes, Receive]:
        """Read the whole body, and a ``receive`` that hands it on to the application."""
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _BodyTooLargeError
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        return body, _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
