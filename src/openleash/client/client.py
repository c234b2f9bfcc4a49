"""``Client`` and ``AsyncClient``: an agent talking to an OpenLeash server."""

from __future__ import annotations

import json
from typing import Any

import httpx

from openleash.client.auth import AgentAuth


class OpenLeashClientError(Exception):
    """The server answered with an error envelope; ``code`` is its wire code."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def _result(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        raise OpenLeashClientError(
            response.status_code,
            str(error.get("code")),
            str(error.get("message")),
            error.get("details"),
        )
    raise OpenLeashClientError(response.status_code, "HTTP_ERROR", response.text[:200])


def _body(action: dict[str, Any]) -> bytes:
    # Compact JSON, as the official SDKs send it; the signature covers these exact bytes.
    return json.dumps(action, separators=(",", ":"), ensure_ascii=False).encode()


_JSON = {"Content-Type": "application/json"}


class Client:
    """Synchronous agent client. ``Client(url, agent_id, private_key_b64)``."""

    def __init__(
        self, base_url: str, agent_id: str, private_key_b64: str, *, timeout: float = 10.0
    ) -> None:
        self.auth = AgentAuth(agent_id, private_key_b64)
        self._http = httpx.Client(base_url=base_url, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def authorize(self, action: dict[str, Any]) -> dict[str, Any]:
        return _result(
            self._http.post("/v1/authorize", content=_body(action), headers=_JSON, auth=self.auth)
        )

    def agent_self(self) -> dict[str, Any]:
        return _result(self._http.get("/v1/agent/self", auth=self.auth))

    def public_keys(self) -> list[dict[str, Any]]:
        keys = _result(self._http.get("/v1/public-keys"))["keys"]
        return list(keys)


class AsyncClient:
    """Asynchronous agent client with the same methods as :class:`Client`."""

    def __init__(
        self, base_url: str, agent_id: str, private_key_b64: str, *, timeout: float = 10.0
    ) -> None:
        self.auth = AgentAuth(agent_id, private_key_b64)
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def authorize(self, action: dict[str, Any]) -> dict[str, Any]:
        return _result(
            await self._http.post(
                "/v1/authorize", content=_body(action), headers=_JSON, auth=self.auth
            )
        )

    async def agent_self(self) -> dict[str, Any]:
        return _result(await self._http.get("/v1/agent/self", auth=self.auth))

    async def public_keys(self) -> list[dict[str, Any]]:
        keys = _result(await self._http.get("/v1/public-keys"))["keys"]
        return list(keys)
