"""Routes a signed agent calls (inv §2.2)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from openleash.api.deps import services
from openleash.api.http import json_response, parse_object, read_body, signed_request
from openleash.service import agents, usage
from openleash.service.agent_auth import AgentCall, authenticate
from openleash.service.authorize import authorize as decide
from openleash.service.runtime import Snapshot

router = APIRouter(tags=["agent"])


async def _verified(request: Request, body: bytes | None) -> tuple[AgentCall, Snapshot]:
    s = services(request)
    snap = await s.runtime.snapshot()
    call = authenticate(signed_request(request, body), snap, s.options, s.options.clock())
    return call, snap


@router.post("/v1/authorize", summary="Ask whether an action may go ahead")
async def authorize(request: Request) -> Response:
    raw = await read_body(request)
    # The signature covers the exact bytes, so they are verified before they are parsed.
    call, snap = await _verified(request, raw or None)
    s = services(request)
    return json_response(await decide(s.runtime, snap, call, parse_object(raw), s.options))


@router.get("/v1/agent/self", summary="The calling agent's own record")
async def agent_self(request: Request) -> Response:
    call, _ = await _verified(request, None)
    s = services(request)
    return json_response(await agents.agent_self(s.store, call, s.options))


@router.get("/v1/agent/usage", summary="The calling agent's use of its limits")
async def agent_usage(request: Request) -> Response:
    call, _ = await _verified(request, None)
    s = services(request)
    return json_response(await usage.agent_usage(s.runtime, call, s.options))
