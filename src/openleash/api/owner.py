"""Owner routes (inv §2.3, personal scope): sign-in, TOTP, agents, policies, approvals, policy
drafts, audit and the live event stream.

A session is a bearer token (``Authorization: Bearer``) or the ``openleash_session`` cookie
(HttpOnly, SameSite=Lax, Secure over TLS). A request authenticated by the cookie that changes
anything must also carry the session's CSRF token in ``X-CSRF-Token``: a cross-site page can
make the browser send the cookie, never read the token.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query
from pydantic import WithJsonSchema
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from openleash.api.cookies import DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE, SESSION_COOKIE
from openleash.api.deps import services
from openleash.api.http import base_url, int_in_range, json_response, optional_json
from openleash.api.throttle import anonymous, login_client
from openleash.api.views import accounts as views
from openleash.api.views import agents as agents_views
from openleash.api.views import approvals as approval_views
from openleash.api.views import audit as audit_views
from openleash.api.views import drafts as draft_views
from openleash.api.views import policies as policy_views
from openleash.api.views import usage as usage_views
from openleash.api.wire import admin as admin_wire
from openleash.api.wire import agent as agent_wire
from openleash.api.wire import owner as wire
from openleash.api.wire import owner_agents as agents_wire
from openleash.api.wire import owner_approvals as approvals_wire
from openleash.api.wire import owner_policies as policies_wire
from openleash.api.wire.common import ANONYMOUS, OWNER, operation, schema_ref
from openleash.bootstrap import Services
from openleash.domain.errors import ForbiddenError
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import ApprovalStatus, DraftStatus
from openleash.domain.timefmt import iso_ms
from openleash.service import owner_events
from openleash.service.audit_query import AuditFilter
from openleash.service.owner_auth import (
    LoginAttempt,
    OwnerCall,
    OwnerSetup,
    SignedIn,
    TotpCode,
)
from openleash.service.owner_factor import Denial, FactorProof
from openleash.service.owner_policies import (
    OwnerPolicyCreate,
    OwnerPolicyOrder,
    OwnerPolicyUpdate,
    factor_code,
)
from openleash.service.registration import AgentStatusChange

router = APIRouter(tags=["owner"])

CSRF_COOKIE = "openleash_csrf"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: How often the event stream looks for new records, and sends a keep-alive comment.
STREAM_POLL_SECONDS = 0.5
STREAM_PING_SECONDS = 20.0
#: Every this many polls the stream checks that its session is still open.
STREAM_RECHECK_POLLS = 4


def session_token(request: Request) -> tuple[str | None, bool]:
    """The presented session token and whether it came from the cookie."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


async def owner_call(request: Request) -> OwnerCall:
    token, from_cookie = session_token(request)
    call = await services(request).accounts.authenticate(token)
    if from_cookie and request.method not in _SAFE_METHODS:
        presented = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(presented.encode(), call.session.csrf_token.encode()):
            raise ForbiddenError(
                "CSRF_FAILED", "Send the session's CSRF token in the X-CSRF-Token header"
            )
    return call


async def optional_body(request: Request) -> JsonObject:
    """A JSON object body, or ``{}`` when there is none (approve and deny may have no body)."""
    return await optional_json(request)


async def owner_change(request: Request) -> tuple[OwnerCall, Services, JsonObject]:
    """What a route that changes something starts with: the owner's call (the session, its CSRF
    token checked), the services and the JSON body (``{}`` when there is none)."""
    call = await owner_call(request)
    return call, services(request), await optional_body(request)


async def sign_in(request: Request, attempt: LoginAttempt) -> SignedIn:
    """The owner's login (API and portal alike), slowed down per client address and let through
    an account lock from a browser the owner signed in with before."""
    address, locks = login_client(request)
    return await services(request).accounts.login(
        attempt, address=address, locks=locks, device=request.cookies.get(DEVICE_COOKIE)
    )


def set_session_cookies(
    request: Request, response: Response, login: SignedIn, max_age: int
) -> None:
    # Secure whenever people reach the server over https, even when a proxy ends the TLS.
    secure = base_url(request).startswith("https://")
    response.set_cookie(
        SESSION_COOKIE,
        login.token,
        max_age=max_age,
        httponly=True,
        secure=secure,
        samesite="lax",
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE, login.csrf_token, max_age=max_age, secure=secure, samesite="strict", path="/"
    )
    # Outlives the session and logout: it marks the browser, not a sign-in.
    response.set_cookie(
        DEVICE_COOKIE,
        login.device_token,
        max_age=DEVICE_COOKIE_MAX_AGE,
        httponly=True,
        secure=secure,
        samesite="strict",
        path="/",
    )


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


# -- what the document says about the owner routes ----------------------------------------------

#: Any route with a session: 401 without one (or with an ended one), 404 when its owner is gone.
SESSION_ERRORS = (401, 404)
#: A route that reads a JSON body (or none): malformed, too large, or not JSON.
BODY_ERRORS = (400, 413, 415)
#: A change without a bearer token is checked by the browser guard: JSON or no body (415).
CHANGE_ERRORS = (415,)

# Parameters are declared for the document and read as text, never refused by FastAPI (no
# 422): the routes and the services parse them and answer a bad value with 400
# INVALID_REQUEST. The document shows what a good value is.
_TEXT = WithJsonSchema({"type": "string"})


def _limit(default: int, most: int) -> Any:
    return Query(
        description=f"How many to return, 1 to {most}; {default} when absent (400 "
        "`INVALID_REQUEST` otherwise)."
    )


def _whole_number(most: int) -> WithJsonSchema:
    return WithJsonSchema({"type": "integer", "minimum": 1, "maximum": most})


def _filter(description: str) -> Any:
    return Query(description=f"{description} (400 `INVALID_REQUEST` for another value).")


def _one_of(enum: type[StrEnum]) -> WithJsonSchema:
    """One of the values of ``enum``, by reference to its schema, which the models of the
    responses put in the document: a generated client has one type for both."""
    return WithJsonSchema({"$ref": f"#/components/schemas/{enum.__name__}"})


CsrfHeader = Annotated[
    str | None,
    Header(
        alias="X-CSRF-Token",
        description="The session's CSRF token (`csrf_token` of the login). Required when the "
        "session comes from the `openleash_session` cookie (403 `CSRF_FAILED` otherwise); not "
        "needed with a bearer token.",
    ),
    _TEXT,
]
AgentPath = Annotated[
    str, Path(description="The agent's `agent_principal_id` (one of the owner's agents).")
]
PolicyPath = Annotated[str, Path(description="The policy's id (one of the owner's policies).")]
ApprovalPath = Annotated[str, Path(description="The approval request's id.")]
DraftPath = Annotated[str, Path(description="The policy draft's id.")]
ApprovalsLimit = Annotated[str | None, _limit(100, 500), _whole_number(500)]
ApprovalStatusQuery = Annotated[
    str | None, _filter("Only requests with this status"), _one_of(ApprovalStatus)
]
ApprovalAgentQuery = Annotated[
    str | None,
    Query(description="Only the requests of this agent (its `agent_principal_id`)."),
    _TEXT,
]
DraftStatusQuery = Annotated[
    str | None, _filter("Only drafts with this status"), _one_of(DraftStatus)
]
AuditLimit = Annotated[str | None, _limit(50, 500), _whole_number(500)]
AuditCursor = Annotated[
    str | None,
    Query(description="Where to continue: the `next_cursor` of the previous page."),
    _TEXT,
]
AuditAgentQuery = Annotated[
    str | None,
    Query(
        description="Only events of this agent of the owner (404 when there is no such agent, "
        "403 `FORBIDDEN` when it is another owner's)."
    ),
    _TEXT,
]
AuditSince = Annotated[
    str | None,
    Query(description="Only events from this time on: ISO-8601 with a zone (400 otherwise)."),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
AuditEventType = Annotated[
    str | None, Query(description="Only events of this type, e.g. `POLICY_UPSERTED`."), _TEXT
]


async def csrf_header(x_csrf_token: CsrfHeader = None) -> None:
    """Documents the header of the routes that change something; :func:`owner_call` checks
    it (the portal's forms carry the token in a field instead)."""


#: Dependencies of an owner route that changes something.
CHANGES = [Depends(csrf_header)]


# -- sign-in ------------------------------------------------------------------------------------


@router.post(
    "/v1/owner/setup",
    dependencies=[Depends(anonymous)],
    summary="Set (or reset) the passphrase with a setup invite",
    **operation(
        ok=wire.OwnerSetupResult,
        body=wire.OwnerSetupBody,
        errors=(*BODY_ERRORS, 401, 404),
        security=ANONYMOUS,
    ),
)
async def setup(request: Request) -> Response:
    setup = OwnerSetup.from_body(await optional_body(request))
    return json_response(views.setup_done_json(await services(request).accounts.set_up(setup)))


@router.post(
    "/v1/owner/login",
    dependencies=[Depends(anonymous)],
    summary="Log in; returns a session token and sets the cookie",
    **operation(
        ok=wire.OwnerLoginResult,
        body=wire.OwnerLoginBody,
        errors=(*BODY_ERRORS, 401),
        security=ANONYMOUS,
    ),
)
async def login(request: Request) -> Response:
    done = await sign_in(request, LoginAttempt.from_body(await optional_body(request)))
    response = json_response(views.signed_in_json(done))
    set_session_cookies(request, response, done, services(request).options.session_ttl_seconds)
    return response


@router.post(
    "/v1/owner/logout",
    dependencies=CHANGES,
    summary="End this session",
    **operation(
        ok=wire.OwnerLogoutResult, errors=(*SESSION_ERRORS, *CHANGE_ERRORS), security=OWNER
    ),
)
async def logout(request: Request) -> Response:
    call = await owner_call(request)
    await services(request).accounts.logout(call)
    response = json_response(views.LOGGED_OUT)
    clear_session_cookies(response)
    return response


@router.get(
    "/v1/owner/profile",
    summary="The owner's profile (no secrets)",
    **operation(ok=wire.OwnerProfile, errors=SESSION_ERRORS, security=OWNER),
)
async def profile(request: Request) -> Response:
    call = await owner_call(request)
    return json_response(views.profile_json(await services(request).accounts.profile(call)))


@router.post(
    "/v1/owner/totp/setup",
    dependencies=CHANGES,
    summary="Start TOTP enrolment (a current code if on)",
    **operation(
        ok=wire.TotpEnrolment,
        body=wire.TotpSetupBody,
        body_required=False,
        errors=(*SESSION_ERRORS, *BODY_ERRORS),
        security=OWNER,
    ),
)
async def totp_setup(request: Request) -> Response:
    call, s, body = await owner_change(request)
    started = await s.accounts.start_totp(call, TotpCode.from_body(body, optional=True))
    return json_response(views.totp_enrolment_json(started))


@router.post(
    "/v1/owner/totp/confirm",
    dependencies=CHANGES,
    summary="Turn TOTP on; returns backup codes once",
    **operation(
        ok=wire.TotpEnabled,
        body=wire.TotpConfirmBody,
        errors=(*SESSION_ERRORS, *BODY_ERRORS),
        security=OWNER,
    ),
)
async def totp_confirm(request: Request) -> Response:
    call, s, body = await owner_change(request)
    codes = await s.accounts.confirm_totp(call, TotpCode.from_body(body))
    return json_response(views.totp_enabled_json(codes))


@router.post(
    "/v1/owner/totp/disable",
    dependencies=CHANGES,
    summary="Turn TOTP off (needs a code)",
    **operation(
        ok=wire.TotpDisabled,
        body=wire.TotpDisableBody,
        errors=(*SESSION_ERRORS, *BODY_ERRORS),
        security=OWNER,
    ),
)
async def totp_disable(request: Request) -> Response:
    call, s, body = await owner_change(request)
    await s.accounts.disable_totp(call, TotpCode.from_body(body))
    return json_response(views.TOTP_DISABLED)


# -- agents -------------------------------------------------------------------------------------


@router.get(
    "/v1/owner/agents",
    summary="The owner's agents (no secrets)",
    **operation(ok=admin_wire.AgentList, errors=SESSION_ERRORS, security=OWNER),
)
async def list_agents(request: Request) -> Response:
    call = await owner_call(request)
    listed = await services(request).registration.agents(call.owner_id)
    return json_response(agents_views.agents_json(listed))


@router.put(
    "/v1/owner/agents/{agent_principal_id}",
    dependencies=CHANGES,
    summary="Activate a pending agent or revoke an agent (TOTP if on)",
    **operation(
        ok=agents_wire.OwnerAgentStatusResult,
        body=agents_wire.OwnerAgentStatusBody,
        errors=(*SESSION_ERRORS, *BODY_ERRORS, 409),
        security=OWNER,
    ),
)
async def set_agent_status(request: Request, agent_principal_id: AgentPath) -> Response:
    call, s, body = await owner_change(request)
    change = AgentStatusChange.from_body(body)
    agent = await s.registration.set_status(call, agent_principal_id, change)
    return json_response(agents_views.status_changed_json(agent, change.status))


@router.get(
    "/v1/owner/agents/{agent_principal_id}/usage",
    summary="An agent's use of limits",
    **operation(ok=agent_wire.AgentUsage, errors=SESSION_ERRORS, security=OWNER),
)
async def agent_usage(request: Request, agent_principal_id: AgentPath) -> Response:
    call = await owner_call(request)
    used = await services(request).usage.of_agent(agent_principal_id, owner_id=call.owner_id)
    return json_response(usage_views.usage_json(used))


@router.post(
    "/v1/owner/agent-invites",
    dependencies=CHANGES,
    summary="An invite for a new agent of this owner",
    **operation(
        ok=admin_wire.AgentInvite,
        errors=(*SESSION_ERRORS, *CHANGE_ERRORS),
        security=OWNER,
    ),
)
async def agent_invite(request: Request) -> Response:
    call = await owner_call(request)
    invite = await services(request).registration.agent_invite(call.owner_id)
    return json_response(agents_views.agent_invite_json(invite, base_url(request)))


# -- policies -----------------------------------------------------------------------------------


@router.get(
    "/v1/owner/policies",
    summary="The owner's policies with tier, rank and YAML",
    **operation(ok=policies_wire.OwnerPolicyList, errors=SESSION_ERRORS, security=OWNER),
)
async def list_policies(request: Request) -> Response:
    call = await owner_call(request)
    listed = await services(request).owner_policies.list_for(call)
    return json_response(policy_views.owned_policies(listed))


@router.post(
    "/v1/owner/policies",
    dependencies=CHANGES,
    summary="Create a policy bound to one agent or all",
    **operation(
        ok=policies_wire.OwnerPolicyCreated,
        body=policies_wire.OwnerPolicyCreateBody,
        errors=(*SESSION_ERRORS, *BODY_ERRORS),
        security=OWNER,
    ),
)
async def create_policy(request: Request) -> Response:
    call, s, body = await owner_change(request)
    created = await s.owner_policies.create(call, OwnerPolicyCreate.from_body(body))
    return json_response(policy_views.owned_created(created))


@router.put(
    "/v1/owner/policies/order",
    dependencies=CHANGES,
    summary="Reorder the policies of a tier",
    **operation(
        ok=policies_wire.OwnerPoliciesReordered,
        body=policies_wire.OwnerPolicyReorderBody,
        errors=(*SESSION_ERRORS, *BODY_ERRORS),
        security=OWNER,
    ),
)
async def reorder_policies(request: Request) -> Response:
    call, s, body = await owner_change(request)
    ordered = await s.owner_policies.reorder(call, OwnerPolicyOrder.from_body(body))
    return json_response(policy_views.reordered(ordered))


@router.get(
    "/v1/owner/policies/{policy_id}",
    summary="One policy with its YAML",
    **operation(ok=policies_wire.OwnerPolicy, errors=SESSION_ERRORS, security=OWNER),
)
async def get_policy(request: Request, policy_id: PolicyPath) -> Response:
    call = await owner_call(request)
    owned = await services(request).owner_policies.get(call, policy_id)
    return json_response(policy_views.owned_policy(owned))


@router.put(
    "/v1/owner/policies/{policy_id}",
    dependencies=CHANGES,
    summary="Update a policy or bind it elsewhere",
    **operation(
        ok=policies_wire.OwnerPolicyUpdated,
        body=policies_wire.OwnerPolicyUpdateBody,
        errors=(*SESSION_ERRORS, *BODY_ERRORS),
        security=OWNER,
    ),
)
async def update_policy(request: Request, policy_id: PolicyPath) -> Response:
    call, s, body = await owner_change(request)
    await s.owner_policies.update(call, policy_id, OwnerPolicyUpdate.from_body(body))
    return json_response(policy_views.policy_changed(policy_id, "updated"))


@router.delete(
    "/v1/owner/policies/{policy_id}",
    dependencies=CHANGES,
    summary="Delete a policy (TOTP if on)",
    **operation(
        ok=policies_wire.OwnerPolicyDeleted,
        body=policies_wire.OwnerPolicyDeleteBody,
        body_required=False,
        errors=(*SESSION_ERRORS, *BODY_ERRORS),
        security=OWNER,
    ),
)
async def delete_policy(request: Request, policy_id: PolicyPath) -> Response:
    call, s, body = await owner_change(request)
    await s.owner_policies.delete(call, policy_id, factor_code(body))
    return json_response(policy_views.policy_changed(policy_id, "deleted"))


# -- approval requests --------------------------------------------------------------------------


@router.get(
    "/v1/owner/approval-requests",
    summary="Approval requests, newest first (?status=, ?agent_principal_id=, ?limit=)",
    **operation(
        ok=approvals_wire.OwnerApprovalRequestList,
        errors=(*SESSION_ERRORS, 400),
        security=OWNER,
    ),
)
async def list_approvals(
    request: Request,
    status: ApprovalStatusQuery = None,
    agent_principal_id: ApprovalAgentQuery = None,
    limit: ApprovalsLimit = None,
) -> Response:
    call = await owner_call(request)
    listed = await services(request).approvals.list_for_owner(
        call,
        status=status or None,
        limit=int_in_range(limit, "limit", 100, 1, 500),
        agent_principal_id=agent_principal_id or None,
    )
    return json_response(approval_views.owner_list(listed))


@router.get(
    "/v1/owner/approval-requests/{approval_request_id}",
    summary="One approval request",
    **operation(ok=approvals_wire.OwnerApprovalRequest, errors=SESSION_ERRORS, security=OWNER),
)
async def get_approval(request: Request, approval_request_id: ApprovalPath) -> Response:
    call = await owner_call(request)
    read = await services(request).approvals.for_owner(call, approval_request_id)
    return json_response(approval_views.for_owner(read))


@router.post(
    "/v1/owner/approval-requests/{approval_request_id}/approve",
    dependencies=CHANGES,
    summary="Approve (TOTP if on; a step-up needs it, and the passphrase for HIGH)",
    **operation(
        ok=approvals_wire.OwnerApprovalApproved,
        body=approvals_wire.OwnerApproveBody,
        body_required=False,
        errors=(*SESSION_ERRORS, *BODY_ERRORS),
        security=OWNER,
    ),
)
async def approve(request: Request, approval_request_id: ApprovalPath) -> Response:
    call, s, body = await owner_change(request)
    approved = await s.approvals.approve(call, approval_request_id, FactorProof.from_body(body))
    return json_response(approval_views.approved(approved))


@router.post(
    "/v1/owner/approval-requests/{approval_request_id}/deny",
    dependencies=CHANGES,
    summary="Deny",
    **operation(
        ok=approvals_wire.OwnerApprovalDenied,
        body=wire.OwnerDenyBody,
        body_required=False,
        errors=(*SESSION_ERRORS, *BODY_ERRORS),
        security=OWNER,
    ),
)
async def deny(request: Request, approval_request_id: ApprovalPath) -> Response:
    call, s, body = await owner_change(request)
    denied = await s.approvals.deny(call, approval_request_id, Denial.from_body(body))
    return json_response(approval_views.denied(denied))


# -- policy drafts ------------------------------------------------------------------------------


@router.get(
    "/v1/owner/policy-drafts",
    summary="Policy drafts proposed by the owner's agents",
    **operation(
        ok=policies_wire.OwnerPolicyDraftList, errors=(*SESSION_ERRORS, 400), security=OWNER
    ),
)
async def list_drafts(request: Request, status: DraftStatusQuery = None) -> Response:
    call = await owner_call(request)
    listed = await services(request).drafts.list_for_owner(call, status or None)
    return json_response(draft_views.owner_list(listed))


@router.get(
    "/v1/owner/policy-drafts/{policy_draft_id}",
    summary="One policy draft",
    **operation(ok=policies_wire.OwnerPolicyDraft, errors=SESSION_ERRORS, security=OWNER),
)
async def get_draft(request: Request, policy_draft_id: DraftPath) -> Response:
    call = await owner_call(request)
    read = await services(request).drafts.for_owner(call, policy_draft_id)
    return json_response(draft_views.for_owner(read))


@router.post(
    "/v1/owner/policy-drafts/{policy_draft_id}/approve",
    dependencies=CHANGES,
    summary="Approve: create and bind it",
    **operation(
        ok=policies_wire.OwnerDraftApproved,
        body=policies_wire.OwnerDraftApproveBody,
        body_required=False,
        errors=(*SESSION_ERRORS, *BODY_ERRORS),
        security=OWNER,
    ),
)
async def approve_draft(request: Request, policy_draft_id: DraftPath) -> Response:
    call, s, body = await owner_change(request)
    approved = await s.drafts.approve(call, policy_draft_id, FactorProof.from_body(body))
    return json_response(draft_views.approved(approved))


@router.post(
    "/v1/owner/policy-drafts/{policy_draft_id}/deny",
    dependencies=CHANGES,
    summary="Deny a policy draft",
    **operation(
        ok=policies_wire.OwnerDraftDenied,
        body=wire.OwnerDenyBody,
        body_required=False,
        errors=(*SESSION_ERRORS, *BODY_ERRORS),
        security=OWNER,
    ),
)
async def deny_draft(request: Request, policy_draft_id: DraftPath) -> Response:
    call, s, body = await owner_change(request)
    denied = await s.drafts.deny(call, policy_draft_id, Denial.from_body(body))
    return json_response(draft_views.denied(denied))


# -- audit and events ---------------------------------------------------------------------------


@router.get(
    "/v1/owner/audit",
    summary="The owner's audit events, newest first",
    **operation(ok=admin_wire.AuditPage, errors=(*SESSION_ERRORS, 400, 403), security=OWNER),
)
async def audit(
    request: Request,
    limit: AuditLimit = None,
    cursor: AuditCursor = None,
    agent_principal_id: AuditAgentQuery = None,
    since: AuditSince = None,
    event_type: AuditEventType = None,
) -> Response:
    call = await owner_call(request)
    where = AuditFilter(
        agent_principal_id=agent_principal_id or None,
        since=since or None,
        event_type=event_type or None,
    )
    page = await services(request).audit.owner_page(
        call, where, limit=int_in_range(limit, "limit", 50, 1, 500), cursor=cursor
    )
    return json_response(audit_views.audit_page(page))


class EventStreamResponse(StreamingResponse):
    """A stream of Server-Sent Events."""

    media_type = "text/event-stream"


@router.get(
    "/v1/owner/events/stream",
    summary="Live events (Server-Sent Events)",
    response_class=EventStreamResponse,
    **operation(
        ok=None,
        ok_description="The owner's live events, as Server-Sent Events",
        ok_content={
            "text/event-stream": {
                "schema": {"type": "string", "description": agents_wire.EVENT_STREAM_DESCRIPTION},
                "example": agents_wire.EVENT_STREAM_EXAMPLE,
                # The JSON of each data: line (OpenAPI 3.1 has no keyword for it).
                "x-data-schema": schema_ref(agents_wire.OwnerStreamMessage),
            }
        },
        errors=SESSION_ERRORS,
        security=OWNER,
    ),
)
async def events(request: Request) -> Response:
    call = await owner_call(request)
    s = services(request)
    store, clock = s.store, s.options.clock
    start = await owner_events.head(store)

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 3000\n: connected\n\n"
        after, quiet, polls = start, 0.0, 0
        # The stream ends with the session (expired, logged out, ended by a passphrase reset,
        # or its owner deactivated); the browser reconnects and must log in again.
        while not await request.is_disconnected() and iso_ms(clock()) < call.session.expires_at:
            polls += 1
            if polls % STREAM_RECHECK_POLLS == 0 and not await s.accounts.still_signed_in(call):
                break
            messages, after = await owner_events.since(store, call.owner_id, after)
            for message in messages:
                yield b"data: " + orjson.dumps(message) + b"\n\n"
            quiet = 0.0 if messages else quiet + STREAM_POLL_SECONDS
            if quiet >= STREAM_PING_SECONDS:
                quiet = 0.0
                yield b": ping\n\n"
            await asyncio.sleep(STREAM_POLL_SECONDS)

    return EventStreamResponse(
        stream(),
        headers={
            "Cache-Control": "no-cache, no-transform",
            "X-Accel-Buffering": "no",
        },
    )
