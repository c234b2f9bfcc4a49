"""``AgentAuth``: an httpx authentication flow that signs each request as the agent.

The same object serves ``httpx.Client`` and ``httpx.AsyncClient``: signing needs the body
bytes, which httpx has already encoded when the flow runs.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Generator
from datetime import UTC, datetime

import httpx

from openleash.crypto import iso_ms, sign, signing_input

EMPTY_OBJECT_SHA256 = hashlib.sha256(b"{}").hexdigest()


def _timestamp() -> str:
    return iso_ms(datetime.now(UTC))


class AgentAuth(httpx.Auth):
    """Adds ``X-Agent-Id``, ``X-Timestamp``, ``X-Nonce``, ``X-Body-Sha256``, ``X-Signature``."""

    requires_request_body = True

    def __init__(
        self,
        agent_id: str,
        private_key_b64: str,
        *,
        clock: Callable[[], str] = _timestamp,
        nonce: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.agent_id = agent_id
        self._private_key_b64 = private_key_b64
        self._clock = clock
        self._nonce = nonce

    def __repr__(self) -> str:
        return f"AgentAuth(agent_id={self.agent_id!r})"

    def sign_headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        body_sha256 = hashlib.sha256(body).hexdigest() if body else EMPTY_OBJECT_SHA256
        timestamp, nonce = self._clock(), self._nonce()
        message = signing_input(method.upper(), path, timestamp, nonce, body_sha256)
        return {
            "X-Agent-Id": self.agent_id,
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
            "X-Body-Sha256": body_sha256,
            "X-Signature": sign(self._private_key_b64, message.encode()),
        }

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        path = request.url.raw_path.decode("ascii").split("?", 1)[0]
        request.headers.update(self.sign_headers(request.method, path, request.content))
        yield request
