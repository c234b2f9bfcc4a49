"""``Guard``: authorize a tool call before it runs.

A guard turns a call into an action (``action_type`` plus a payload built from the call's
arguments), asks the server, and lets the call run only on ALLOW, handing it the proof:

* DENY raises :class:`~openleash.client.ActionDenied` (with the decision's reason and
  explanation);
* REQUIRE_APPROVAL and REQUIRE_STEP_UP file an approval request, then either wait for the
  owner (``on_approval="wait"``: the identical action is authorized again with the approval
  token, and the call runs with that proof) or raise
  :class:`~openleash.client.ApprovalRequired` / :class:`~openleash.client.StepUpRequired`
  (``on_approval="raise"``). The owner confirms a step-up with a second factor when approving;
* the owner denying, or the request expiring, raises :class:`~openleash.client.ApprovalDenied`;
  waiting longer than ``approval_timeout`` raises :class:`~openleash.client.ApprovalTimeout`.

The call gets the proof through :func:`current_proof` (and :func:`current_authorization`), and
also as the keyword argument named by ``proof_param`` when one is set.

Without a ``payload``, the payload is the call's arguments by name: they must be JSON values
(tuples are sent as arrays); anything else raises ``TypeError`` before the server is asked.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, ParamSpec, TypeVar, cast

from openleash.client.actions import ActionRequest, proof_headers
from openleash.client.client import AsyncClient, Client
from openleash.client.errors import (
    ActionDenied,
    ApprovalDenied,
    ApprovalRequired,
    StepUpRequired,
)
from openleash.client.models import ApprovalRequest, Decision, Result
from openleash.domain.jsonvalue import JsonObject, JsonValue

P = ParamSpec("P")
R = TypeVar("R")

OnApproval = Literal["wait", "raise"]
#: A payload, or a function of the call's arguments that returns one.
PayloadSpec = Mapping[str, JsonValue] | Callable[..., Mapping[str, JsonValue]]
RelyingPartySpec = Mapping[str, JsonValue] | Callable[..., Mapping[str, JsonValue] | None]
JustificationSpec = str | Callable[..., str | None]


class _Parts(NamedTuple):
    """What one call makes of the specs."""

    payload: JsonObject
    relying_party: JsonObject | None
    justification: str | None


_current: ContextVar[Authorization | None] = ContextVar("openleash_authorization", default=None)


@dataclass(frozen=True, slots=True)
class Authorization:
    """An allowed action: the ALLOW ``decision``, the ``action`` it was given for, and the
    owner's ``approval`` when one was needed."""

    decision: Decision
    action: ActionRequest
    approval: ApprovalRequest | None = None

    @property
    def proof_token(self) -> str | None:
        return self.decision.proof_token

    def headers(self) -> dict[str, str]:
        """The headers that carry this proof and its action to a counterparty (empty when the
        policy issued no proof)."""
        token = self.decision.proof_token
        return proof_headers(token, self.action) if token else {}


def current_authorization() -> Authorization | None:
    """The authorization of the guarded call running now (``None`` outside one)."""
    return _current.get()


@contextmanager
def authorization_scope(authorization: Authorization) -> Iterator[Authorization]:
    """Make ``authorization`` the current one (:func:`current_proof`) inside the block."""
    token = _current.set(authorization)
    try:
        yield authorization
    finally:
        _current.reset(token)


def current_proof() -> str | None:
    """The proof token of the guarded call running now (``None`` outside one, or when the
    policy issued no proof)."""
    found = _current.get()
    return found.proof_token if found is not None else None


class Guard:
    """Authorizes calls as ``action_type`` actions of ``client``'s agent. Use it as a
    decorator (on plain or ``async`` functions) or, through :meth:`authorized`, as a context
    manager (``with`` / ``async with``).

    ``payload`` is the action's payload: a mapping, or a function called with the guarded
    call's arguments that returns one (``lambda item, amount: {"amount_minor": amount, ...}``).
    Without it, the payload is the call's arguments by name. ``relying_party`` (the
    counterparty: ``domain``, ``trust_profile``, ``rp_id``) and ``justification`` (shown to the
    owner in an approval request) are given the same way.
    """

    def __init__(
        self,
        client: Client | AsyncClient,
        action_type: str,
        *,
        payload: PayloadSpec | None = None,
        relying_party: RelyingPartySpec | None = None,
        justification: JustificationSpec | None = None,
        on_approval: OnApproval = "wait",
        approval_timeout: float = 300.0,
        poll_interval: float = 1.0,
        max_poll_interval: float = 15.0,
        proof_param: str | None = None,
    ) -> None:
        if on_approval not in ("wait", "raise"):
            raise ValueError('on_approval must be "wait" or "raise"')
        self.client = client
        self.action_type = action_type
        self.payload = payload
        self.relying_party = relying_party
        self.justification = justification
        self.on_approval = on_approval
        self.approval_timeout = approval_timeout
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.proof_param = proof_param

    def __repr__(self) -> str:
        return f"Guard({self.action_type!r}, agent_id={self.client.agent_id!r})"

    # -- the decorator ----------------------------------------------------------------------

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(fn)
        if inspect.iscoroutinefunction(fn):
            return cast(Callable[P, R], self._wrap_async(fn, signature))
        if isinstance(self.client, AsyncClient):
            raise TypeError("a plain function needs a Client; an AsyncClient guards async ones")
        return self._wrap_sync(fn, signature)

    def _wrap_sync(self, fn: Callable[P, R], signature: inspect.Signature) -> Callable[P, R]:
        # The call gets its keyword arguments back with the proof's added by name: more than
        # ``P`` can say, so ``fn`` is called as a function of any arguments.
        call: Callable[..., R] = fn

        @functools.wraps(fn)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            call_kwargs = self._without_proof(kwargs)
            self._check_call(signature, args, call_kwargs)
            parts = self._parts(signature, args, call_kwargs)
            with authorization_scope(self._authorize_sync(*parts)) as authorization:
                return call(*args, **self._with_proof(call_kwargs, authorization))

        return guarded

    def _wrap_async(
        self, fn: Callable[..., Awaitable[Any]], signature: inspect.Signature
    ) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(fn)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            call_kwargs = self._without_proof(kwargs)
            self._check_call(signature, args, call_kwargs)
            parts = self._parts(signature, args, call_kwargs)
            with authorization_scope(await self._authorize_async(*parts)) as authorization:
                return await fn(*args, **self._with_proof(call_kwargs, authorization))

        return guarded

    def _check_call(
        self, signature: inspect.Signature, args: tuple[object, ...], kwargs: Mapping[str, object]
    ) -> None:
        """Raise ``TypeError`` for a call the function would refuse, before it is authorized
        (an authorized action counts towards the limits)."""
        name = self.proof_param
        extra = {name: None} if name is not None and name in signature.parameters else {}
        signature.bind(*args, **kwargs, **extra)

    def _without_proof(self, kwargs: Mapping[str, object]) -> dict[str, object]:
        return {k: v for k, v in kwargs.items() if k != self.proof_param}

    def _with_proof(
        self, kwargs: dict[str, object], authorization: Authorization
    ) -> dict[str, object]:
        if self.proof_param is None:
            return kwargs
        return {**kwargs, self.proof_param: authorization.proof_token}

    # -- the context manager and direct use -------------------------------------------------

    def authorized(self, *args: object, **kwargs: object) -> GuardedBlock:
        """A context manager that authorizes before its block runs and yields the
        :class:`Authorization`. Its arguments go to ``payload``, ``relying_party`` and
        ``justification`` as a guarded call's would (without ``payload``: they are it)."""
        return GuardedBlock(self, self._parts(None, args, kwargs))

    def authorize(self, *args: object, **kwargs: object) -> Authorization:
        """Authorize now, as :meth:`authorized` would, and return the authorization."""
        return self._authorize_sync(*self._parts(None, args, kwargs))

    async def aauthorize(self, *args: object, **kwargs: object) -> Authorization:
        return await self._authorize_async(*self._parts(None, args, kwargs))

    # -- building the action ----------------------------------------------------------------

    def _parts(
        self,
        signature: inspect.Signature | None,
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
    ) -> _Parts:
        """(payload, relying party, justification) of one call."""
        payload = _evaluate(self.payload, args, kwargs)
        if payload is None:
            payload = _arguments(signature, args, kwargs, self.proof_param)
        relying_party = _evaluate(self.relying_party, args, kwargs)
        justification = (
            self.justification(*args, **kwargs)
            if callable(self.justification)
            else self.justification
        )
        return _Parts(dict(payload), dict(relying_party) if relying_party else None, justification)

    # -- the flow ---------------------------------------------------------------------------

    def _authorize_sync(
        self, payload: JsonObject, relying_party: JsonObject | None, why: str | None
    ) -> Authorization:
        client = self.client
        if not isinstance(client, Client):
            raise TypeError("use `async with` / await with an AsyncClient")
        action = client.new_action(self.action_type, payload, relying_party=relying_party)
        decision = client.authorize(action)
        if not decision.needs_approval:
            return _settled(decision, action)
        request = client.create_approval_request(decision.decision_id, action, why)
        self._maybe_raise(decision, action, request)
        final = client.wait_for_approval(request.approval_request_id, **self._wait())
        token = _approval_token(final, decision, action)
        return _settled(client.authorize(action, approval_token=token), action, final)

    async def _authorize_async(
        self, payload: JsonObject, relying_party: JsonObject | None, why: str | None
    ) -> Authorization:
        client = self.client
        if isinstance(client, Client):
            # A synchronous client in async code: its blocking calls go to a worker thread.
            return await asyncio.to_thread(self._authorize_sync, payload, relying_party, why)
        action = await client.new_action(self.action_type, payload, relying_party=relying_party)
        decision = await client.authorize(action)
        if not decision.needs_approval:
            return _settled(decision, action)
        request = await client.create_approval_request(decision.decision_id, action, why)
        self._maybe_raise(decision, action, request)
        final = await client.wait_for_approval(request.approval_request_id, **self._wait())
        token = _approval_token(final, decision, action)
        return _settled(await client.authorize(action, approval_token=token), action, final)

    def _wait(self) -> dict[str, float]:
        return {
            "timeout": self.approval_timeout,
            "interval": self.poll_interval,
            "max_interval": self.max_poll_interval,
        }

    def _maybe_raise(
        self, decision: Decision, action: ActionRequest, request: ApprovalRequest
    ) -> None:
        if self.on_approval == "raise":
            kind = StepUpRequired if decision.result == Result.REQUIRE_STEP_UP else ApprovalRequired
            raise kind(decision, action, request.approval_request_id)


class GuardedBlock:
    """``with guard.authorized(...) as authorization:`` (or ``async with``)."""

    def __init__(self, guard: Guard, parts: _Parts) -> None:
        self._guard = guard
        self._parts = parts
        self._token: Token[Authorization | None] | None = None

    def __enter__(self) -> Authorization:
        return self._enter(self._guard._authorize_sync(*self._parts))

    def __exit__(self, *exc: object) -> None:
        self._exit()

    async def __aenter__(self) -> Authorization:
        return self._enter(await self._guard._authorize_async(*self._parts))

    async def __aexit__(self, *exc: object) -> None:
        self._exit()

    def _enter(self, authorization: Authorization) -> Authorization:
        if self._token is not None:
            raise RuntimeError("a guarded block cannot be entered twice")
        self._token = _current.set(authorization)
        return authorization

    def _exit(self) -> None:
        if self._token is not None:
            _current.reset(self._token)


def guard(
    client: Client | AsyncClient,
    action_type: str,
    **options: Any,
) -> Guard:
    """``@guard(client, "purchase", payload=...)``: shorthand for :class:`Guard`."""
    return Guard(client, action_type, **options)


def _evaluate(
    spec: PayloadSpec | RelyingPartySpec | None,
    args: tuple[object, ...],
    kwargs: Mapping[str, object],
) -> Mapping[str, JsonValue] | None:
    if spec is None:
        return None
    value: object = spec(*args, **kwargs) if callable(spec) else spec
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    return value


def _arguments(
    signature: inspect.Signature | None,
    args: tuple[object, ...],
    kwargs: Mapping[str, object],
    proof_param: str | None,
) -> JsonObject:
    """The call's arguments by name (the default payload); ``self``/``cls`` left out."""
    if signature is None:
        if args:
            raise TypeError("without a payload function, pass the payload as keyword arguments")
        return {name: _json_value(value, name) for name, value in kwargs.items()}
    bound = signature.bind_partial(*args, **kwargs)
    bound.apply_defaults()
    skip = {proof_param, "self", "cls"}
    arguments: JsonObject = {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update((k, _json_value(v, k)) for k, v in value.items() if k not in skip)
        elif name not in skip:
            arguments[name] = _json_value(value, name)
    return arguments


def _json_value(value: object, name: str) -> JsonValue:
    """``value`` (the argument ``name``) as JSON will carry it: tuples become arrays, keys
    strings (as ``json.dumps`` writes them); ``TypeError`` when JSON cannot carry it."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(item, name) for item in value]
    if isinstance(value, dict):
        return {_json_key(key, name): _json_value(item, name) for key, item in value.items()}
    raise TypeError(
        f"argument `{name}` is a {type(value).__name__}, which JSON cannot carry: give the "
        "guard a payload (a function of the call's arguments) that turns it into JSON values"
    )


def _json_key(key: object, name: str) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, int | float):
        return json.dumps(key)
    raise TypeError(f"argument `{name}` has a {type(key).__name__} key, which JSON cannot carry")


def _settled(
    decision: Decision, action: ActionRequest, approval: ApprovalRequest | None = None
) -> Authorization:
    """ALLOW becomes an authorization; anything else (DENY, or a second hold after an
    approval) is refused: fail closed."""
    if decision.allowed:
        return Authorization(decision, action, approval)
    detail = decision.explanation or decision.reason or "no reason given"
    after = " after the owner's approval" if approval is not None else ""
    raise ActionDenied(f"{decision.result}{after}: {detail}", decision, action)


def _approval_token(request: ApprovalRequest, decision: Decision, action: ActionRequest) -> str:
    if not request.approved or not request.approval_token:
        raise ApprovalDenied(request, decision, action)
    return request.approval_token
