"""Building actions, their hash, and binding a proof to the HTTP request it accompanies.

Binding (both sides use these functions, so they agree by construction): before asking for a
decision, the agent writes into the action's payload

    request_sha256 = sha256_hex(METHOD "\\n" TARGET "\\n" sha256_hex(BODY))

where ``TARGET`` is the request's percent-encoded path with its query string (``/orders?x=1``)
and ``BODY`` the exact bytes it will send. The proof then names (through ``action_hash``) an
action that names this one request; the counterparty recomputes the digest from the request it
received. The action itself travels in :data:`ACTION_HEADER` next to the proof in
:data:`PROOF_HEADER`, so the counterparty can check it against the proof's ``action_hash``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import NotRequired, TypedDict, overload

import httpx

from openleash.crypto import action_hash, iso_ms
from openleash.domain.action import parse_action
from openleash.domain.jsonvalue import JsonObject, JsonValue

__all__ = [
    "ACTION_HEADER",
    "PROOF_HEADER",
    "ActionPrincipal",
    "ActionRequest",
    "ActionSubject",
    "bind_request",
    "compute_action_hash",
    "decode_action_header",
    "encode_action_header",
    "new_action",
    "proof_headers",
    "request_sha256",
    "request_target",
]

PROOF_HEADER = "X-OpenLeash-Proof"
ACTION_HEADER = "X-OpenLeash-Action"
#: The payload field that binds an action to one HTTP request.
REQUEST_SHA256 = "request_sha256"


class ActionPrincipal(TypedDict):
    """Who acts: the agent."""

    agent_id: str


class ActionSubject(TypedDict):
    """On whose behalf: the agent's owner."""

    principal_id: str


class ActionRequest(TypedDict):
    """An action as :func:`new_action` builds it (the ActionRequest of the wire). ``payload``
    and ``relying_party`` hold what the caller gave, as the caller shaped it."""

    action_id: str
    action_type: str
    requested_at: str
    principal: ActionPrincipal
    subject: ActionSubject
    payload: JsonObject
    #: The counterparty: ``domain``, ``trust_profile``, ``rp_id`` (the server keeps only these).
    relying_party: NotRequired[JsonObject]


def new_action(
    agent_id: str,
    owner_id: str,
    action_type: str,
    payload: Mapping[str, JsonValue] | None = None,
    *,
    relying_party: Mapping[str, JsonValue] | None = None,
    action_id: str | None = None,
    requested_at: datetime | None = None,
) -> ActionRequest:
    """A fresh ActionRequest: a new ``action_id`` and ``requested_at`` (now, unless given)."""
    action = ActionRequest(
        action_id=action_id or str(uuid.uuid4()),
        action_type=action_type,
        requested_at=iso_ms(requested_at or datetime.now(UTC)),
        principal={"agent_id": agent_id},
        subject={"principal_id": owner_id},
        payload=dict(payload or {}),
    )
    if relying_party is not None:
        action["relying_party"] = dict(relying_party)
    return action


def compute_action_hash(action: Mapping[str, object]) -> str:
    """The ``action_hash`` the server computes for ``action``: unknown keys are stripped as the
    server strips them, then RFC 8785 and SHA-256. Raises
    :class:`~openleash.domain.errors.OpenLeashError` (``INVALID_ACTION_REQUEST``) for an action
    the server would refuse."""
    return action_hash(parse_action(dict(action)))


def request_target(url: str | httpx.URL) -> str:
    """The percent-encoded path and query of ``url`` (a full URL or a path)."""
    return httpx.URL(url).raw_path.decode("ascii")


def request_sha256(method: str, target: str, body: bytes | str = b"") -> str:
    """The digest that binds an action to one request (see the module documentation)."""
    raw = body.encode() if isinstance(body, str) else body
    body_digest = hashlib.sha256(raw).hexdigest()
    message = f"{method.upper()}\n{target}\n{body_digest}".encode()
    return hashlib.sha256(message).hexdigest()


@overload
def bind_request(
    action: ActionRequest, method: str, url: str | httpx.URL, body: bytes | str = b""
) -> ActionRequest: ...


@overload
def bind_request(
    action: Mapping[str, object], method: str, url: str | httpx.URL, body: bytes | str = b""
) -> Mapping[str, object]: ...


def bind_request(
    action: Mapping[str, object], method: str, url: str | httpx.URL, body: bytes | str = b""
) -> Mapping[str, object]:
    """A copy of ``action`` whose ``payload.request_sha256`` binds it to this request: ``url``
    is the full URL or the path (with its query) the request goes to, ``body`` the exact bytes
    it will carry. Authorize the returned action, then send the request unchanged.

    The copy is a ``dict`` (an :class:`ActionRequest` for one :func:`new_action` built)."""
    bound = copy.deepcopy(dict(action))
    payload = bound.get("payload")
    bound_payload = dict(payload) if isinstance(payload, Mapping) else {}
    bound_payload[REQUEST_SHA256] = request_sha256(method, request_target(url), body)
    bound["payload"] = bound_payload
    return bound


def encode_action_header(action: Mapping[str, object]) -> str:
    """``action`` as compact JSON in unpadded base64url: the value of :data:`ACTION_HEADER`."""
    raw = json.dumps(action, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_action_header(value: str) -> JsonValue:
    """The JSON value of an :data:`ACTION_HEADER` (the sender's: check that it is an object);
    ``ValueError`` when it is not one."""
    text = value.strip()
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    decoded: JsonValue = json.loads(raw)
    return decoded


def proof_headers(proof_token: str, action: Mapping[str, object] | None = None) -> dict[str, str]:
    """The headers that carry a proof (and the action it was issued for) to a counterparty."""
    headers = {PROOF_HEADER: proof_token}
    if action is not None:
        headers[ACTION_HEADER] = encode_action_header(action)
    return headers
