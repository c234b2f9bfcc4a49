"""Routes a signed agent calls (inv §2.2)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from openleash.api.deps import services
from openleash.api.http import json_response, parse_object, read_body, signed_request
from openleash.api.throttle import client_address, counting_failures, throttles
from openleash.api.views import agents as agent_views
from openleash.api.views import approvals as approval_views
from openleash.api.views import drafts as draft_views
from openleash.api.views import usage as usage_views
from openleash.api.wire import agent as wire
from openleash.api.wire.common import AGENT, operation
from openleash.service.agent_auth import AgentCall, verify_agent
from openleash.service.approvals import ApprovalAsk
from openleash.service.drafts import DraftProposal
from openleash.service.runtime import Snapshot

router = APIRouter(tags=["agent"])


async def _verified(
    request: Request, body: bytes | None, *, allow_pending: bool = False
) -> tuple[AgentCall, Snapshot]:
    """The verified caller; an agent awaiting activation only where ``allow_pending``."""
    s = services(request)
    with counting_failures(throttles(request).failures, client_address(request.scope)):
        return await verify_agent(
            s.runtime,
            signed_request(request, body),
            s.options,
            s.options.clock(),
            allow_pending=allow_pending,
        )


#: What the signature check refuses (PROTOCOL §3): a header too long (400); missing headers, a
#: stale timestamp, a replayed nonce, an unknown agent or a bad signature (401). An agent
#: awaiting activation is refused 403 ``AGENT_PENDING``, a status every operation documents.
AUTH_ERRORS = (400, 401)


@router.get(
    "/v1/agent/self",
    summary="The calling agent's own record",
    description="The one call an agent awaiting activation (PENDING) may make.",
    **operation(ok=wire.AgentSelf, errors=AUTH_ERRORS, security=AGENT),
)
async def agent_self(request: Request) -> Response:
    # The one call an agent awaiting activation may make: it tells it that it waits.
    call, _ = await _verified(request, None, allow_pending=True)
    agent = await services(request).agent_self.read(call)
    return json_response(agent_views.agent_self_json(agent))


@router.get(
    "/v1/agent/usage",
    summary="The calling agent's use of its limits",
    **operation(ok=wire.AgentUsage, errors=AUTH_ERRORS, security=AGENT),
)
async def agent_usage(request: Request) -> Response:
    call, _ = await _verified(request, None)
    used = await services(request).usage.for_agent(call)
    return json_response(usage_views.usage_json(used))


@router.post(
    "/v1/agent/approval-requests",
    summary="Ask the owner to approve a held action",
    description="400 `INVALID_REQUEST`, `INVALID_ACTION_REQUEST`, `DECISION_NOT_FOUND` (not a "
    "held decision of this agent) or `DECISION_MISMATCH` (another action); 403 "
    "`AGENT_MISMATCH` when principal.agent_id is not the signing agent.",
    **operation(
        ok=wire.ApprovalRequestCreated,
        body=wire.ApprovalRequestCreate,
        errors=(*AUTH_ERRORS, 413),
        security=AGENT,
    ),
)
async def create_approval_request(request: Request) -> Response:
    raw = await read_body(request)
    call, _ = await _verified(request, raw or None)
    ask = ApprovalAsk.from_body(parse_object(raw))
    return json_response(approval_views.created(await services(request).approvals.ask(call, ask)))


@router.get(
    "/v1/agent/approval-requests/{approval_request_id}",
    summary="An approval request; with the approval token once approved",
    **operation(ok=wire.AgentApprovalRequest, errors=(*AUTH_ERRORS, 404), security=AGENT),
)
async def get_approval_request(request: Request, approval_request_id: str) -> Response:
    call, _ = await _verified(request, None)
    read = await services(request).approvals.for_agent(call, approval_request_id)
    return json_response(approval_views.for_agent(read))


@router.post(
    "/v1/agent/policy-drafts",
    summary="Propose a policy to the owner",
    description="400 `INVALID_POLICY` (with `details.issues`) or `INVALID_AGENT`; 413 for a "
    "policy beyond the language's bounds; 503 when policy work is busy.",
    **operation(
        ok=wire.PolicyDraftCreated,
        body=wire.PolicyDraftCreate,
        errors=(*AUTH_ERRORS, 413),
        security=AGENT,
    ),
)
async def create_policy_draft(request: Request) -> Response:
    raw = await read_body(request)
    call, _ = await _verified(request, raw or None)
    proposal = DraftProposal.from_body(parse_object(raw))
    return json_response(
        draft_views.created(await services(request).drafts.propose(call, proposal))
    )


@router.get(
    "/v1/agent/policy-drafts",
    summary="The agent's own policy drafts",
    **operation(ok=wire.PolicyDraftList, errors=AUTH_ERRORS, security=AGENT),
)
async def list_policy_drafts(request: Request, status: wire.DraftStatusQuery = None) -> Response:
    call, _ = await _verified(request, None)
    listed = await services(request).drafts.list_for_agent(call, status or None)
    return json_response(draft_views.agent_list(listed))


@router.get(
    "/v1/agent/policy-drafts/{policy_draft_id}",
    summary="One of the agent's drafts",
    **operation(ok=wire.AgentPolicyDraft, errors=(*AUTH_ERRORS, 404), security=AGENT),
)
async def get_policy_draft(request: Request, policy_draft_id: str) -> Response:
    call, _ = await _verified(request, None)
    read = await services(request).drafts.for_agent(call, policy_draft_id)
    return json_response(draft_views.for_agent(read))
