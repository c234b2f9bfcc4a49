"""OpenID AuthZEN Authorization API 1.0 routes: OpenLeash as a policy decision point.

Callers are signed agents (the request signing of ``/v1/authorize``; ``subject.id`` must be the
signing agent) or enforcement points holding one of the ``authzen.pep_tokens`` of config.yaml
as a bearer token (any active agent may be the subject). The mapping and the decision are in
:mod:`openleash.service.authzen`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from openleash.api.deps import services
from openleash.api.http import base_url, json_response, parse_object, read_body, signed_request
from openleash.api.throttle import client_address, counting_failures, throttles
from openleash.api.views import authzen as views
from openleash.api.wire import authzen as wire
from openleash.api.wire.common import PEP_OR_AGENT, operation
from openleash.domain.errors import AuthenticationError
from openleash.service import authzen
from openleash.service.agent_auth import verify_agent
from openleash.service.runtime import Snapshot

router = APIRouter(tags=["authzen"])


#: A malformed or undecidable request (400), a body too large (413), no or a wrong PEP token or
#: agent signature (401). A signed agent naming another subject, an agent with no policy and
#: one awaiting activation are 403, which every operation documents.
ERRORS = (400, 401, 413)


def _decision_operation(ok: type[BaseModel], body: type[BaseModel]) -> dict[str, Any]:
    """The operation of a decision route; its 200 echoes the caller's X-Request-ID."""
    spec = operation(ok=ok, body=body, errors=ERRORS, security=PEP_OR_AGENT)
    spec["responses"][200]["headers"] = {
        "X-Request-ID": {
            "description": "The request's X-Request-ID, echoed to correlate.",
            "schema": {"type": "string"},
        }
    }
    return spec


@router.get(
    "/.well-known/authzen-configuration",
    summary="AuthZEN policy decision point metadata",
    **operation(ok=wire.AuthZenConfiguration, uses_store=False),
)
async def configuration(request: Request) -> Response:
    return json_response(authzen.configuration(base_url(request)))


@router.post(
    authzen.EVALUATION_PATH,
    summary="AuthZEN: decide one access request",
    **_decision_operation(wire.EvaluationResponse, wire.EvaluationRequest),
)
async def evaluation(request: Request) -> Response:
    caller, snap, body = await _read(request)
    answer = await services(request).authzen.evaluate(snap, caller, authzen.access_request(body))
    return _answer(request, views.access_json(answer))


@router.post(
    authzen.EVALUATIONS_PATH,
    summary="AuthZEN: decide several access requests",
    description="Without `evaluations` (or with an empty list) the body is one request, "
    "answered as /access/v1/evaluation answers. An item that cannot be decided is answered "
    "`decision: false` with the error in its context; the others are still decided.",
    **_decision_operation(wire.EvaluationsAnswer, wire.EvaluationsRequest),
)
async def evaluations(request: Request) -> Response:
    caller, snap, body = await _read(request)
    batch = authzen.AccessBatch.from_body(body)
    answer = await services(request).authzen.evaluate_many(snap, caller, batch)
    return _answer(request, views.evaluations_json(answer))


async def _read(request: Request) -> tuple[authzen.Caller, Snapshot, object]:
    """Who asks (signed or with a PEP token: a caller failing either is anonymous, and slowed
    down), the snapshot it was checked against, and the body (parsed once that passed)."""
    raw = await read_body(request)
    with counting_failures(throttles(request).failures, client_address(request.scope)):
        caller, snap = await _caller(request, raw)
    return caller, snap, parse_object(raw)


def _answer(request: Request, body: Mapping[str, object]) -> Response:
    response = json_response(body)
    request_id = request.headers.get("x-request-id")
    if request_id:
        response.headers["X-Request-ID"] = request_id  # AuthZEN: echoed to correlate
    return response


async def _caller(request: Request, raw: bytes) -> tuple[authzen.Caller, Snapshot]:
    s = services(request)
    now = s.options.clock()
    if request.headers.get("x-agent-id"):
        # The signature covers the exact bytes, so they are verified before they are parsed.
        call, snap = await verify_agent(
            s.runtime, signed_request(request, raw or None), s.options, now
        )
        return authzen.Caller(now=now, call=call), snap
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise AuthenticationError(
            "MISSING_TOKEN", "Sign the request as an agent, or send a PEP token as a bearer token"
        )
    caller = authzen.pep_caller(presented.strip(), s.settings.authzen_pep_tokens, now)
    return caller, await s.runtime.snapshot()
