"""The agent's side of OpenLeash, as the integrations need it: signed calls to authorize an
action, file an approval request and read its status.

Every request is signed with :class:`openleash.client.AgentAuth`; answers are plain JSON
objects. Failures are split in two, because an integration reports them differently: the
server refused (:class:`LeashRefusedError`, with its wire code) or could not be asked at all
(:class:`LeashUnavailableError`). Either way the action does not go ahead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from openleash.client import AgentAuth


class LeashError(Exception):
    """OpenLeash gave no decision; the action must not go ahead."""


class LeashRefusedError(LeashError):
    """The server answered with its error envelope (``code`` is the wire code)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class LeashUnavailableError(LeashError):
    """The server could not be reached, or answered with something that is not JSON."""


class Leash(Protocol):
    """What the integrations ask of OpenLeash, as one agent."""

    agent_id: str

    async def owner_id(self) -> str: ...

    async def authorize(
        self, action: Mapping[str, Any], approval_token: str | None = None
    ) -> dict[str, Any]: ...

    async def request_approval(
        self, decision_id: str, action: Mapping[str, Any], justification: str | None
    ) -> dict[str, Any]: ...

    async def approval(self, approval_request_id: str) -> dict[str, Any]: ...


class HttpLeash:
    """:class:`Leash` over HTTP: ``HttpLeash(url, agent_id, private_key_b64)``."""

    def __init__(
        self,
        base_url: str,
        agent_id: str,
        private_key_b64: str,
        *,
        owner_id: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.agent_id = agent_id
        self._auth = AgentAuth(agent_id, private_key_b64)
        self._owner_id = owner_id
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)

    async def __aenter__(self) -> HttpLeash:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def owner_id(self) -> str:
        """The agent's owner (the ``subject`` of its actions): given, or asked once."""
        if self._owner_id is None:
            owner = (await self._call("GET", "/v1/agent/self")).get("owner_id")
            if not isinstance(owner, str):
                raise LeashUnavailableError("/v1/agent/self did not name the agent's owner")
            self._owner_id = owner
        return self._owner_id

    async def authorize(
        self, action: Mapping[str, Any], approval_token: str | None = None
    ) -> dict[str, Any]:
        body = {**action, "approval_token": approval_token} if approval_token else action
        return await self._call("POST", "/v1/authorize", body)

    async def request_approval(
        self, decision_id: str, action: Mapping[str, Any], justification: str | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"decision_id": decision_id, "action": dict(action)}
        if justification:
            body["justification"] = justification
        return await self._call("POST", "/v1/agent/approval-requests", body)

    async def approval(self, approval_request_id: str) -> dict[str, Any]:
        path = f"/v1/agent/approval-requests/{quote(approval_request_id, safe='')}"
        return await self._call("GET", path)

    async def _call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        content = None
        headers = {}
        if body is not None:
            # Compact JSON: the signature covers these exact bytes.
            content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        try:
            response = await self._http.request(
                method, path, content=content, headers=headers, auth=self._auth
            )
        except httpx.HTTPError as exc:
            raise LeashUnavailableError(f"OpenLeash did not answer: {type(exc).__name__}") from exc
        return _answer(response)


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        raise LeashRefusedError(
            response.status_code, str(error.get("code")), str(error.get("message"))
        )
    raise LeashUnavailableError(
        f"OpenLeash answered HTTP {response.status_code} without a decision"
    )
