"""OpenID AuthZEN Authorization API 1.0: "may this subject do this action on this resource?"

An AuthZEN request names a subject, an action, a resource and a context. Each is mapped onto
one OpenLeash ActionRequest (below) and decided by :class:`openleash.service.authorize.Authorizer`,
the path of ``POST /v1/authorize``: the decision is recorded, audited and counted by the limits
exactly as if the agent had asked itself, and an ALLOW carries the same proof token.

=================================  ==========================================================
AuthZEN                            OpenLeash action
=================================  ==========================================================
``subject.id``                     ``principal.agent_id`` (the signing agent, for agents)
(the agent's owner)                ``subject.principal_id``
``action.name``                    ``action_type``
``resource.properties.*``          ``payload.*`` (``relying_party`` becomes ``relying_party``)
``action.properties.*``            ``payload.*``
``resource.type``, ``resource.id`` ``payload.resource.type``, ``payload.resource.id``
``context.amount_minor``,          ``payload.amount_minor``, ``payload.currency`` when the
``context.currency``               resource's properties do not give them
``context.action_id``,             ``action_id`` and ``requested_at`` (new ones otherwise), so
``context.requested_at``           a PEP can ask again for the identical action
``context.approval_token``         ``approval_token`` (the owner's approval of that action)
other ``context.*``                ``payload.context.*``
=================================  ==========================================================

The answer's ``decision`` is true only for ALLOW; its ``context`` is the ``/v1/authorize``
response (``result``, ``decision_id``, ``reason``, ``obligations``, ``proof_token``, ...).

:class:`AuthZen` is the use case, built once (:mod:`openleash.bootstrap`); it returns
:class:`AccessDecision` or :class:`AccessAnswers`, which the API renders
(:mod:`openleash.api.views.authzen`).
"""

from __future__ import annotations

import hmac
import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypedDict

from openleash.domain.errors import (
    AuthenticationError,
    ForbiddenError,
    InvalidInputError,
    OpenLeashError,
)
from openleash.domain.ids import new_id
from openleash.domain.jsonvalue import JsonObject, JsonValue
from openleash.domain.models import Agent, Result, Status
from openleash.domain.timefmt import iso_ms
from openleash.service.agent_auth import AgentCall, record_nonce
from openleash.service.authorize import Authorized, Authorizer, AuthorizeRequest
from openleash.service.options import Options
from openleash.service.ports import NonceRepo, Units
from openleash.service.runtime import Snapshot

EVALUATION_PATH = "/access/v1/evaluation"
EVALUATIONS_PATH = "/access/v1/evaluations"
EXECUTE_ALL, DENY_ON_FIRST_DENY, PERMIT_ON_FIRST_PERMIT = (
    "execute_all",
    "deny_on_first_deny",
    "permit_on_first_permit",
)
SEMANTICS = (EXECUTE_ALL, DENY_ON_FIRST_DENY, PERMIT_ON_FIRST_PERMIT)
#: Evaluations in one batch: each is a decision with its own transaction and audit record.
MAX_EVALUATIONS = 100
#: The parts of a request that the top level of a batch gives each evaluation by default.
_PARTS = ("subject", "action", "resource", "context")
#: Context keys with a meaning of their own (see the table above), kept out of payload.context.
_CONTEXT_KEYS = ("action_id", "requested_at", "approval_token", "amount_minor", "currency")
#: An item's unforeseen failure is logged in at most these many frames and characters.
_LOGGED_FRAMES, _LOGGED_CHARS = 12, 4000

_log = logging.getLogger("openleash")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: a signed agent (``call``), or a PEP that presented a configured token."""

    now: datetime
    call: AgentCall | None = None


def pep_caller(presented: str, tokens: Sequence[str], now: datetime) -> Caller:
    """A PEP caller, if ``presented`` is one of ``tokens`` (``authzen.pep_tokens``)."""
    matched = False
    for token in tokens:
        # Every configured token is compared, in constant time: the time taken says nothing
        # about which token, or how much of one, was guessed.
        matched |= hmac.compare_digest(presented.encode(), token.encode())
    if not presented or not matched:
        raise AuthenticationError("INVALID_CREDENTIALS", "The bearer token is not a PEP token")
    return Caller(now=now)


class PdpConfiguration(TypedDict):
    policy_decision_point: str
    access_evaluation_endpoint: str
    access_evaluations_endpoint: str


def configuration(base_url: str) -> PdpConfiguration:
    """``/.well-known/authzen-configuration``: where this decision point answers."""
    return {
        "policy_decision_point": base_url,
        "access_evaluation_endpoint": base_url + EVALUATION_PATH,
        "access_evaluations_endpoint": base_url + EVALUATIONS_PATH,
    }


# -- commands and results -----------------------------------------------------------------------


def access_request(body: object) -> JsonObject:
    """The request of ``POST /access/v1/evaluation``: a JSON object whose parts (``subject``,
    ``action``, ``resource``, ``context``) are read as the decision needs them."""
    return _object(body, "request body")


@dataclass(frozen=True, slots=True)
class AccessBatch:
    """``POST /access/v1/evaluations``: the items (None: the body is one request, AuthZEN
    §7.1), the parts of the top level each item defaults to, and when to stop."""

    request: JsonObject
    items: tuple[JsonValue, ...] | None = None
    semantic: str = EXECUTE_ALL

    @classmethod
    def from_body(cls, body: object) -> AccessBatch:
        request = _object(body, "request body")
        items = request.get("evaluations")
        if items is None or items == []:
            return cls(request)
        if not isinstance(items, list):
            raise InvalidInputError("INVALID_REQUEST", "evaluations must be an array")
        if len(items) > MAX_EVALUATIONS:
            raise InvalidInputError(
                "INVALID_REQUEST", f"At most {MAX_EVALUATIONS} evaluations in one request"
            )
        return cls(request, tuple(items), _semantic(request.get("options")))

    def defaults(self) -> JsonObject:
        """The top-level parts, which an item's own parts replace whole (AuthZEN §7.1.1)."""
        return {part: self.request[part] for part in _PARTS if part in self.request}


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """One request decided: the OpenLeash decision of the ActionRequest it mapped onto."""

    authorized: Authorized

    @property
    def decision(self) -> bool:
        """AuthZEN's answer: true only for ALLOW."""
        return self.authorized.evaluation.result is Result.ALLOW


@dataclass(frozen=True, slots=True)
class Undecided:
    """An item of a batch that could not be decided: a denial that carries the error."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class AccessAnswers:
    """A batch's answers, in the order of its items (fewer when its semantic stopped it)."""

    evaluations: tuple[AccessDecision | Undecided, ...]


# -- the use case -------------------------------------------------------------------------------


class AuthZen:
    """AuthZEN evaluations, each decided, recorded and counted as ``/v1/authorize`` does."""

    def __init__(self, store: Units[NonceRepo], authorizer: Authorizer, options: Options) -> None:
        self._store = store
        self._authorizer = authorizer
        self._options = options

    async def evaluate(self, snap: Snapshot, caller: Caller, request: JsonObject) -> AccessDecision:
        """``POST /access/v1/evaluation``: one decision; a denial is an answer, not an error."""
        call = _agent_call(snap, caller, _subject_id(request))
        action = action_request(request, call.agent, caller.now)
        command = AuthorizeRequest.from_body(action, snap.keyring, call.now)
        return AccessDecision(await self._authorizer.authorize(snap, call, command))

    async def evaluate_many(
        self, snap: Snapshot, caller: Caller, batch: AccessBatch
    ) -> AccessDecision | AccessAnswers:
        """``POST /access/v1/evaluations``: the items in order, each with the top-level parts
        as defaults, stopping early as the batch's semantic says. An item that cannot be
        decided is a denial that carries the error; it never stops the others' decisions from
        being recorded."""
        if batch.items is None:
            return await self.evaluate(snap, caller, batch.request)  # AuthZEN §7.1
        defaults = batch.defaults()
        caller = await self._spend_nonce(caller)
        results: list[AccessDecision | Undecided] = []
        for item in batch.items:
            result = await self._evaluate_item(snap, caller, defaults, item)
            results.append(result)
            allowed = isinstance(result, AccessDecision) and result.decision
            if (batch.semantic == DENY_ON_FIRST_DENY and not allowed) or (
                batch.semantic == PERMIT_ON_FIRST_PERMIT and allowed
            ):
                break
        return AccessAnswers(tuple(results))

    async def _evaluate_item(
        self, snap: Snapshot, caller: Caller, defaults: JsonObject, item: JsonValue
    ) -> AccessDecision | Undecided:
        try:
            # AuthZEN §7.1.1: a part the item gives replaces the default part whole.
            merged = {**defaults, **_object(item, "each evaluation")}
            return await self.evaluate(snap, caller, merged)
        except OpenLeashError as exc:
            # The API adds the HTTP status this error would have had alone.
            return Undecided(exc.code, exc.message)
        except Exception as exc:
            # A fault of the server in this item alone: the items before it are decided and
            # recorded (budgets spent, approvals used up), so their answers must still go out.
            _log.error(
                "AuthZEN evaluation failed\n%s",
                "".join(traceback.format_exception(exc, limit=-_LOGGED_FRAMES))[-_LOGGED_CHARS:],
            )
            return Undecided("INTERNAL_ERROR", "Internal server error")

    async def _spend_nonce(self, caller: Caller) -> Caller:
        """Record a signed batch's nonce once, up front; its evaluations then carry none."""
        if caller.call is None or caller.call.nonce is None:
            return caller
        async with self._store.transaction() as tx:
            await record_nonce(tx, caller.call, self._options)
        return replace(caller, call=replace(caller.call, nonce=None))


def _agent_call(snap: Snapshot, caller: Caller, subject_id: str) -> AgentCall:
    if caller.call is not None:
        # A signed agent speaks for itself only; the Authorizer refuses any other subject.id
        # (AGENT_MISMATCH), as /v1/authorize refuses another principal.agent_id.
        return caller.call
    agent = snap.agent(subject_id)
    if agent is not None and agent.status == Status.PENDING:
        raise ForbiddenError(
            "AGENT_PENDING",
            f'subject.id "{subject_id}" awaits activation by its owner; nothing is decided '
            "for it until then",
        )
    if agent is None or agent.status != Status.ACTIVE:
        raise InvalidInputError("INVALID_AGENT", f'subject.id "{subject_id}" is no active agent')
    return AgentCall(agent=agent, nonce=None, now=caller.now)


def action_request(request: JsonObject, agent: Agent, now: datetime) -> JsonObject:
    """The OpenLeash ActionRequest that an AuthZEN request describes (the module's table)."""
    action = _object(request.get("action"), "action")
    resource = _object(request.get("resource"), "resource")
    context = _object(request.get("context", {}), "context")
    name = _text(action, "name", "action")
    properties = dict(_object(resource.get("properties", {}), "resource.properties"))
    relying_party = properties.pop("relying_party", None)
    payload: JsonObject = {
        **properties,
        **_object(action.get("properties", {}), "action.properties"),
        "resource": {
            "type": _text(resource, "type", "resource"),
            "id": _text(resource, "id", "resource"),
        },
    }
    for key in ("amount_minor", "currency"):
        if key not in payload and key in context:
            payload[key] = context[key]
    extra = {k: v for k, v in context.items() if k not in _CONTEXT_KEYS}
    if extra:
        payload["context"] = extra
    body: JsonObject = {
        "action_id": context.get("action_id") or new_id(),
        "action_type": name,
        "requested_at": context.get("requested_at") or iso_ms(now),
        "principal": {"agent_id": _subject_id(request)},
        "subject": {"principal_id": agent.owner_id},
        "payload": payload,
    }
    if relying_party is not None:
        body["relying_party"] = relying_party
    if context.get("approval_token"):
        body["approval_token"] = context["approval_token"]
    return body


def _subject_id(request: JsonObject) -> str:
    subject = _object(request.get("subject"), "subject")
    _text(subject, "type", "subject")
    return _text(subject, "id", "subject")


def _semantic(options: JsonValue) -> str:
    if options is None:
        return EXECUTE_ALL
    semantic = _object(options, "options").get("evaluations_semantic", EXECUTE_ALL)
    if not isinstance(semantic, str) or semantic not in SEMANTICS:
        raise InvalidInputError(
            "INVALID_REQUEST", f"options.evaluations_semantic must be one of {', '.join(SEMANTICS)}"
        )
    return semantic


def _object(value: object, where: str) -> JsonObject:
    if not isinstance(value, dict):
        raise InvalidInputError("INVALID_REQUEST", f"{where} must be a JSON object")
    return value


def _text(part: JsonObject, key: str, where: str) -> str:
    value = part.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInputError("INVALID_REQUEST", f"{where}.{key} must be a non-empty string")
    return value
