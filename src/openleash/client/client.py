"""``Client`` and ``AsyncClient``: an agent talking to an OpenLeash server.

Both cover every agent endpoint with the same methods; each endpoint is described once (a
:class:`_Call`: what to send and how to read the answer) and the two clients only differ in
how they send it.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Self, TypedDict, TypeVar
from urllib.parse import quote

import httpx

from openleash.client.actions import ActionRequest, new_action
from openleash.client.auth import AgentAuth
from openleash.client.errors import ApiError, ApprovalTimeout, TransportError
from openleash.client.models import (
    AgentInfo,
    ApprovalRequest,
    Decision,
    PolicyDraft,
    PublicKey,
    Usage,
)
from openleash.domain.jsonvalue import JsonObject, JsonValue

T = TypeVar("T")

#: The environment variables :meth:`Client.from_env` reads (``openleash init`` writes them).
ENV_URL = "OPENLEASH_URL"
ENV_AGENT_ID = "OPENLEASH_AGENT_ID"
ENV_PRIVATE_KEY = "OPENLEASH_AGENT_PRIVATE_KEY_B64"
ENV_OWNER_ID = "USER_PRINCIPAL_ID"


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[JsonObject], T]
    body: bytes | None = None
    params: Mapping[str, str] | None = None
    signed: bool = True


class _Send(TypedDict, total=False):
    """What a request carries besides its method and URL (``httpx`` keyword arguments)."""

    params: Mapping[str, str] | None
    content: bytes
    headers: dict[str, str]
    auth: httpx.Auth


class _ApprovalRequestBody(TypedDict, total=False):
    """``POST /v1/agent/approval-requests``."""

    decision_id: str
    action: dict[str, object]
    justification: str
    context: dict[str, object]


class _PolicyDraftBody(TypedDict, total=False):
    """``POST /v1/agent/policy-drafts``."""

    policy_yaml: str
    name: str
    description: str
    justification: str
    applies_to_agent_principal_id: str | None


def _json_body(value: Mapping[str, object]) -> bytes:
    # Compact JSON, as the official SDKs send it; the signature covers these exact bytes.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _segment(value: str) -> str:
    return quote(value, safe="")


def _result(response: httpx.Response) -> JsonObject:
    body: JsonValue
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        raise ApiError(
            str(error.get("code")),
            str(error.get("message")),
            response.status_code,
            error.get("details"),
        )
    raise ApiError("HTTP_ERROR", response.text[:200], response.status_code)


def _keys(body: JsonObject) -> list[PublicKey]:
    keys = body.get("keys")
    return (
        [PublicKey.from_wire(k) for k in keys if isinstance(k, dict)]
        if isinstance(keys, list)
        else []
    )


def _drafts(body: JsonObject) -> list[PolicyDraft]:
    drafts = body.get("policy_drafts")
    if not isinstance(drafts, list):
        return []
    return [PolicyDraft.from_wire(d) for d in drafts if isinstance(d, dict)]


class _Self:
    def __repr__(self) -> str:
        return "<the proposing agent>"


#: ``applies_to`` default of :meth:`Client.create_policy_draft`: the agent that proposes it.
#: ``None`` means every agent of the owner.
_SELF = _Self()


# -- the endpoints, described once ---------------------------------------------------------


def _authorize(action: Mapping[str, object], approval_token: str | None) -> _Call[Decision]:
    body = dict(action)
    if approval_token is not None:
        body["approval_token"] = approval_token
    return _Call("POST", "/v1/authorize", Decision.from_wire, _json_body(body))


def _create_approval_request(
    decision_id: str,
    action: Mapping[str, object],
    justification: str | None,
    context: Mapping[str, object] | None,
) -> _Call[ApprovalRequest]:
    body = _ApprovalRequestBody(decision_id=decision_id, action=dict(action))
    if justification is not None:
        body["justification"] = justification
    if context is not None:
        body["context"] = dict(context)
    return _Call("POST", "/v1/agent/approval-requests", ApprovalRequest.from_wire, _json_body(body))


def _get_approval_request(approval_request_id: str) -> _Call[ApprovalRequest]:
    path = f"/v1/agent/approval-requests/{_segment(approval_request_id)}"
    return _Call("GET", path, ApprovalRequest.from_wire)


def _create_policy_draft(
    policy_yaml: str,
    name: str | None,
    description: str | None,
    justification: str | None,
    applies_to: str | _Self | None,
) -> _Call[PolicyDraft]:
    body = _PolicyDraftBody(policy_yaml=policy_yaml)
    if name is not None:
        body["name"] = name
    if description is not None:
        body["description"] = description
    if justification is not None:
        body["justification"] = justification
    if not isinstance(applies_to, _Self):  # _SELF, the one instance, leaves the key out
        body["applies_to_agent_principal_id"] = applies_to
    return _Call("POST", "/v1/agent/policy-drafts", PolicyDraft.from_wire, _json_body(body))


def _list_policy_drafts(status: str | None) -> _Call[list[PolicyDraft]]:
    params = {"status": status} if status is not None else None
    return _Call("GET", "/v1/agent/policy-drafts", _drafts, params=params)


def _get_policy_draft(policy_draft_id: str) -> _Call[PolicyDraft]:
    path = f"/v1/agent/policy-drafts/{_segment(policy_draft_id)}"
    return _Call("GET", path, PolicyDraft.from_wire)


_USAGE = _Call("GET", "/v1/agent/usage", Usage.from_wire)
_SELF_CALL = _Call("GET", "/v1/agent/self", AgentInfo.from_wire)
_PUBLIC_KEYS = _Call("GET", "/v1/public-keys", _keys, signed=False)


@dataclass(slots=True)
class _Waiting:
    """One ``wait_for_approval``: the first poll at once, then after ``interval`` seconds, each
    pause ``backoff`` times longer up to ``max_interval``, until ``timeout``."""

    approval_request_id: str
    timeout: float
    interval: float
    max_interval: float
    backoff: float
    monotonic: Callable[[], float]
    start: float = field(init=False)

    def __post_init__(self) -> None:
        if self.timeout < 0 or not 0 < self.interval <= self.max_interval or self.backoff < 1:
            raise ValueError("need timeout >= 0, 0 < interval <= max_interval and backoff >= 1")
        self.start = self.monotonic()

    def pause(self, request: ApprovalRequest) -> float | None:
        """``None`` once ``request`` is no longer pending, else the pause before the next poll;
        :class:`~openleash.client.ApprovalTimeout` when the time is up."""
        if not request.pending:
            return None
        waited = self.monotonic() - self.start
        if waited >= self.timeout:
            raise ApprovalTimeout(self.approval_request_id, waited)
        pause = min(self.interval, self.timeout - waited)
        self.interval = min(self.interval * self.backoff, self.max_interval)
        return pause


def _read_env(source: str | os.PathLike[str] | Mapping[str, str] | None) -> Mapping[str, str]:
    if source is None:
        return os.environ
    if isinstance(source, Mapping):
        return source
    lines = Path(source).read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


class _Base:
    """What both clients share: identity, the owner id cache, request preparation."""

    def __init__(
        self, base_url: str, agent_id: str, private_key_b64: str, owner_id: str | None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.agent_id = agent_id
        self.auth = AgentAuth(agent_id, private_key_b64)
        self._owner_id = owner_id

    @classmethod
    def from_env(
        cls, source: str | os.PathLike[str] | Mapping[str, str] | None = None, **options: Any
    ) -> Self:
        """A client from ``OPENLEASH_URL``, ``OPENLEASH_AGENT_ID``,
        ``OPENLEASH_AGENT_PRIVATE_KEY_B64`` and ``USER_PRINCIPAL_ID``: read from the process
        environment, a mapping, or an env file such as the one ``openleash init`` writes."""
        env = _read_env(source)
        options.setdefault("owner_id", env.get(ENV_OWNER_ID) or None)
        return cls(env[ENV_URL], env[ENV_AGENT_ID], env[ENV_PRIVATE_KEY], **options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, agent_id={self.agent_id!r})"

    def _request(self, call: _Call[T]) -> _Send:
        send = _Send(params=call.params)
        if call.body is not None:
            send["content"] = call.body
            send["headers"] = {"Content-Type": "application/json"}
        if call.signed:
            send["auth"] = self.auth
        return send

    def _action(
        self,
        owner_id: str,
        action_type: str,
        payload: Mapping[str, JsonValue] | None,
        relying_party: Mapping[str, JsonValue] | None,
    ) -> ActionRequest:
        return new_action(
            self.agent_id, owner_id, action_type, payload, relying_party=relying_party
        )


class Client(_Base):
    """A synchronous agent client: ``Client(url, agent_id, private_key_b64)``.

    Every method raises :class:`~openleash.client.ApiError` with the server's wire code when
    the server refuses, and :class:`~openleash.client.TransportError` when it cannot be
    reached. ``http_client`` lets you pass your own ``httpx.Client`` (proxies, TLS settings,
    a mock transport); the client then does not close it.
    """

    def __init__(
        self,
        base_url: str,
        agent_id: str,
        private_key_b64: str,
        *,
        owner_id: str | None = None,
        timeout: float = 10.0,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(base_url, agent_id, private_key_b64, owner_id)
        self._own_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)
        self._sleep = sleep
        self._monotonic = monotonic

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def _run(self, call: _Call[T]) -> T:
        try:
            response = self._http.request(
                call.method, self.base_url + call.path, **self._request(call)
            )
        except httpx.TransportError as exc:
            raise TransportError(f"{call.method} {call.path}: {exc}") from exc
        return call.parse(_result(response))

    # -- decisions --------------------------------------------------------------------------

    def authorize(
        self, action: Mapping[str, object], *, approval_token: str | None = None
    ) -> Decision:
        """Ask whether ``action`` may go ahead. With ``approval_token`` (from an approved
        request for this identical action) the owner's approval is used up."""
        return self._run(_authorize(action, approval_token))

    def owner_id(self) -> str:
        """The agent's owner (the ``subject`` of its actions): given, or asked once."""
        if self._owner_id is None:
            self._owner_id = self.agent_self().owner_id
        return self._owner_id

    def new_action(
        self,
        action_type: str,
        payload: Mapping[str, JsonValue] | None = None,
        *,
        relying_party: Mapping[str, JsonValue] | None = None,
    ) -> ActionRequest:
        """A fresh action of this agent on behalf of its owner."""
        return self._action(self.owner_id(), action_type, payload, relying_party)

    # -- approvals --------------------------------------------------------------------------

    def create_approval_request(
        self,
        decision_id: str,
        action: Mapping[str, object],
        justification: str | None = None,
        context: Mapping[str, object] | None = None,
    ) -> ApprovalRequest:
        """Ask the owner to approve a held action: ``decision_id`` of the REQUIRE_APPROVAL (or
        REQUIRE_STEP_UP) decision and the identical ``action``. Asking again for the same
        decision returns the request already filed."""
        return self._run(_create_approval_request(decision_id, action, justification, context))

    def get_approval_request(self, approval_request_id: str) -> ApprovalRequest:
        return self._run(_get_approval_request(approval_request_id))

    def wait_for_approval(
        self,
        approval_request_id: str,
        *,
        timeout: float = 300.0,
        interval: float = 1.0,
        max_interval: float = 15.0,
        backoff: float = 2.0,
    ) -> ApprovalRequest:
        """Poll until the request is no longer PENDING and return it (APPROVED, with its
        ``approval_token``; DENIED; or EXPIRED). Polls after ``interval`` seconds, each wait
        ``backoff`` times longer up to ``max_interval``; raises
        :class:`~openleash.client.ApprovalTimeout` after ``timeout`` seconds."""
        waiting = _Waiting(
            approval_request_id, timeout, interval, max_interval, backoff, self._monotonic
        )
        while True:
            request = self.get_approval_request(approval_request_id)
            pause = waiting.pause(request)
            if pause is None:
                return request
            self._sleep(pause)

    # -- policy drafts ----------------------------------------------------------------------

    def create_policy_draft(
        self,
        policy_yaml: str,
        *,
        name: str | None = None,
        description: str | None = None,
        justification: str | None = None,
        applies_to_agent_principal_id: str | _Self | None = _SELF,
    ) -> PolicyDraft:
        """Propose a policy to the owner. It applies to this agent unless
        ``applies_to_agent_principal_id`` names another agent of the owner, or is ``None``
        (every agent of the owner)."""
        return self._run(
            _create_policy_draft(
                policy_yaml, name, description, justification, applies_to_agent_principal_id
            )
        )

    def list_policy_drafts(self, status: str | None = None) -> list[PolicyDraft]:
        """This agent's drafts (summaries), optionally only PENDING, APPROVED or DENIED."""
        return self._run(_list_policy_drafts(status))

    def get_policy_draft(self, policy_draft_id: str) -> PolicyDraft:
        return self._run(_get_policy_draft(policy_draft_id))

    # -- the agent itself -------------------------------------------------------------------

    def usage(self) -> Usage:
        """Each limit of the agent's effective policy and how much of it is used."""
        return self._run(_USAGE)

    def agent_self(self) -> AgentInfo:
        return self._run(_SELF_CALL)

    def public_keys(self) -> list[PublicKey]:
        """The server's proof-signing keys (no signature needed)."""
        return self._run(_PUBLIC_KEYS)


class AsyncClient(_Base):
    """The asynchronous agent client: the methods of :class:`Client`, awaitable."""

    def __init__(
        self,
        base_url: str,
        agent_id: str,
        private_key_b64: str,
        *,
        owner_id: str | None = None,
        timeout: float = 10.0,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(base_url, agent_id, private_key_b64, owner_id)
        self._own_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._sleep = sleep
        self._monotonic = monotonic

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def _run(self, call: _Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method, self.base_url + call.path, **self._request(call)
            )
        except httpx.TransportError as exc:
            raise TransportError(f"{call.method} {call.path}: {exc}") from exc
        return call.parse(_result(response))

    async def authorize(
        self, action: Mapping[str, object], *, approval_token: str | None = None
    ) -> Decision:
        return await self._run(_authorize(action, approval_token))

    async def owner_id(self) -> str:
        if self._owner_id is None:
            self._owner_id = (await self.agent_self()).owner_id
        return self._owner_id

    async def new_action(
        self,
        action_type: str,
        payload: Mapping[str, JsonValue] | None = None,
        *,
        relying_party: Mapping[str, JsonValue] | None = None,
    ) -> ActionRequest:
        return self._action(await self.owner_id(), action_type, payload, relying_party)

    async def create_approval_request(
        self,
        decision_id: str,
        action: Mapping[str, object],
        justification: str | None = None,
        context: Mapping[str, object] | None = None,
    ) -> ApprovalRequest:
        return await self._run(
            _create_approval_request(decision_id, action, justification, context)
        )

    async def get_approval_request(self, approval_request_id: str) -> ApprovalRequest:
        return await self._run(_get_approval_request(approval_request_id))

    async def wait_for_approval(
        self,
        approval_request_id: str,
        *,
        timeout: float = 300.0,
        interval: float = 1.0,
        max_interval: float = 15.0,
        backoff: float = 2.0,
    ) -> ApprovalRequest:
        waiting = _Waiting(
            approval_request_id, timeout, interval, max_interval, backoff, self._monotonic
        )
        while True:
            request = await self.get_approval_request(approval_request_id)
            pause = waiting.pause(request)
            if pause is None:
                return request
            await self._sleep(pause)

    async def create_policy_draft(
        self,
        policy_yaml: str,
        *,
        name: str | None = None,
        description: str | None = None,
        justification: str | None = None,
        applies_to_agent_principal_id: str | _Self | None = _SELF,
    ) -> PolicyDraft:
        return await self._run(
            _create_policy_draft(
                policy_yaml, name, description, justification, applies_to_agent_principal_id
            )
        )

    async def list_policy_drafts(self, status: str | None = None) -> list[PolicyDraft]:
        return await self._run(_list_policy_drafts(status))

    async def get_policy_draft(self, policy_draft_id: str) -> PolicyDraft:
        return await self._run(_get_policy_draft(policy_draft_id))

    async def usage(self) -> Usage:
        return await self._run(_USAGE)

    async def agent_self(self) -> AgentInfo:
        return await self._run(_SELF_CALL)

    async def public_keys(self) -> list[PublicKey]:
        return await self._run(_PUBLIC_KEYS)
