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

from openleash.api.deps import services
from openleash.api.http import base_url, int_in_range, json_response, optional_json
from openleash.api.throttle import anonymous, login_client
from openleash.api.wire import admin as admin_wire
from openleash.api.wire import agent as agent_wire
from openleash.api.wire import owner as wire
from openleash.api.wire import owner_agents as agents_wire
from openleash.api.wire import owner_approvals as approvals_wire
from openleash.api.wire import owner_policies as policies_wire
from openleash.api.wire.common import ANONYMOUS, OWNER, operation, schema_ref
from openleash.bootstrap import Services
from openleash.domain.errors import ForbiddenError
from openleash.domain.models import ApprovalStatus, DraftStatus
from openleash.service import (
    approvals,
    drafts,
    owner_agents,
    owner_auth,
    owner_events,
    owner_policies,
    usage,
)
from openleash.service.owner_auth import (
    DEVICE_COOKIE,
    DEVICE_TTL_SECONDS,
    SESSION_COOKIE,
    OwnerCall,
)
from openleash.service.timefmt import iso

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
    s = services(request)
    token, from_cookie = session_token(request)
    snap = await s.runtime.snapshot()
    call = await owner_auth.authenticate_owner(s.store, snap.keyring, token, s.options.clock())
    if from_cookie and request.method not in _SAFE_METHODS:
        presented = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(presented.encode(), call.session.csrf_token.encode()):
            raise ForbiddenError(
                "CSRF_FAILED", "Send the session's CSRF token in the X-CSRF-Token header"
            )
    return call


async def optional_body(request: Request) -> dict[str, Any]:
    """A JSON object body, or ``{}`` when there is none (approve and deny may have no body)."""
    return await optional_json(request)


async def owner_change(request: Request) -> tuple[OwnerCall, Services, dict[str, Any]]:
    """What a route that changes something starts with: the owner's call (the session, its CSRF
    token checked), the services and the JSON body (``{}`` when there is none)."""
    call = await owner_call(request)
    return call, services(request), await optional_body(request)


async def sign_in(request: Request, body: dict[str, Any]) -> owner_auth.Login:
    """The owner's login (API and portal alike), slowed down per client address and let through
    an account lock from a browser the owner signed in with before."""
    s = services(request)
    snap = await s.runtime.snapshot()
    address, locks = login_client(request)
    return await owner_auth.login(
        s.store,
        snap.keyring,
        body,
        s.options,
        address=address,
        locks=locks,
        device=request.cookies.get(DEVICE_COOKIE),
    )


def set_session_cookies(
    request: Request, response: Response, login: owner_auth.Login, max_age: int
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
        max_age=DEVICE_TTL_SECONDS,
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
    s = services(request)
    body = await optional_body(request)
    return json_response(await owner_auth.setup_owner(s.store, body, s.options))


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
    done = await sign_in(request, await optional_body(request))
    response = json_response({**done.body, "csrf_token": done.csrf_token})
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
    response = json_response(await owner_auth.logout(services(request).store, call))
    clear_session_cookies(response)
    return response


@router.get(
    "/v1/owner/profile",
    summary="The owner's profile (no secrets)",
    **operation(ok=wire.OwnerProfile, errors=SESSION_ERRORS, security=OWNER),
)
async def profile(request: Request) -> Response:
    call = await owner_call(request)
    return json_response(await owner_auth.profile(services(request).store, call))


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
    return json_response(await owner_auth.totp_setup(s.store, call, body, s.options))


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
    return json_response(await owner_auth.totp_confirm(s.store, call, body))


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
    return json_response(await owner_auth.totp_disable(s.store, call, body, s.options))


# -- agents -------------------------------------------------------------------------------------


@router.get(
    "/v1/owner/agents",
    summary="The owner's agents (no secrets)",
    **operation(ok=admin_wire.AgentList, errors=SESSION_ERRORS, security=OWNER),
)
async def list_agents(request: Request) -> Response:
    call = await owner_call(request)
    return json_response(await owner_agents.list_agents(services(request).store, call))


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
    return json_response(
        await owner_agents.set_status(s.store, call, agent_principal_id, body, s.options)
    )


@router.get(
    "/v1/owner/agents/{agent_principal_id}/usage",
    summary="An agent's use of limits",
    **operation(ok=agent_wire.AgentUsage, errors=SESSION_ERRORS, security=OWNER),
)
async def agent_usage(request: Request, agent_principal_id: AgentPath) -> Response:
    call = await owner_call(request)
    s = services(request)
    return json_response(
        await usage.admin_usage(
            s.runtime, s.store, agent_principal_id, s.options, owner_id=call.owner_id
        )
    )


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
    s = services(request)
    result = await owner_agents.create_agent_invite(s.store, call, s.options)
    result["invite_url"] = (
        f"{base_url(request)}/v1/agents/register-with-invite?invite_id={result['invite_id']}"
        f"&invite_token={result['invite_token']}"
    )
    return json_response(result)


# -- policies -----------------------------------------------------------------------------------


@router.get(
    "/v1/owner/policies",
    summary="The owner's policies with tier, rank and YAML",
    **operation(ok=policies_wire.OwnerPolicyList, errors=SESSION_ERRORS, security=OWNER),
)
async def list_policies(request: Request) -> Response:
    call = await owner_call(request)
    return json_response(await owner_policies.list_owned(services(request).store, call))


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
    return json_response(await owner_policies.create_owned(s.store, call, body, s.options))


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
    return json_response(await owner_policies.reorder(s.store, call, body, s.options))


@router.get(
    "/v1/owner/policies/{policy_id}",
    summary="One policy with its YAML",
    **operation(ok=policies_wire.OwnerPolicy, errors=SESSION_ERRORS, security=OWNER),
)
async def get_policy(request: Request, policy_id: PolicyPath) -> Response:
    call = await owner_call(request)
    return json_response(await owner_policies.get_owned(services(request).store, call, policy_id))


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
    return json_response(
        await owner_policies.update_owned(s.store, call, policy_id, body, s.options)
    )


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
    return json_response(
        await owner_policies.delete_owned(s.store, call, policy_id, body, s.options)
    )


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
    return json_response(
        await approvals.list_for_owner(
            services(request).store,
            call,
            status=status or None,
            limit=int_in_range(limit, "limit", 100, 1, 500),
            agent_principal_id=agent_principal_id or None,
        )
    )


@router.get(
    "/v1/owner/approval-requests/{approval_request_id}",
    summary="One approval request",
    **operation(ok=approvals_wire.OwnerApprovalRequest, errors=SESSION_ERRORS, security=OWNER),
)
async def get_approval(request: Request, approval_request_id: ApprovalPath) -> Response:
    call = await owner_call(request)
    return json_response(
        await approvals.get_for_owner(services(request).store, call, approval_request_id)
    )


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
    snap = await s.runtime.snapshot()
    return json_response(
        await approvals.approve(s.store, snap.keyring, call, approval_request_id, body, s.options)
    )


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
    return json_response(await approvals.deny(s.store, call, approval_request_id, body, s.options))


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
    return json_response(await drafts.list_for_owner(services(request).store, call, status or None))


@router.get(
    "/v1/owner/policy-drafts/{policy_draft_id}",
    summary="One policy draft",
    **operation(ok=policies_wire.OwnerPolicyDraft, errors=SESSION_ERRORS, security=OWNER),
)
async def get_draft(request: Request, policy_draft_id: DraftPath) -> Response:
    call = await owner_call(request)
    return json_response(await drafts.get_for_owner(services(request).store, call, policy_draft_id))


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
    return json_response(await drafts.approve(s.store, call, policy_draft_id, body, s.options))


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
    return json_response(await drafts.deny(s.store, call, policy_draft_id, body, s.options))


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
    return json_response(
        await owner_agents.audit_page(
            services(request).store,
            call,
            limit=int_in_range(limit, "limit", 50, 1, 500),
            cursor=cursor,
            agent_principal_id=agent_principal_id or None,
            since=since or None,
            event_type=event_type or None,
        )
    )


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
    store, clock = services(request).store, services(request).options.clock
    start = await owner_events.head(store)

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 3000\n: connected\n\n"
        after, quiet, polls = start, 0.0, 0
        # The stream ends with the session (expired, logged out, ended by a passphrase reset,
        # or its owner deactivated); the browser reconnects and must log in again.
        while not await request.is_disconnected() and iso(clock()) < call.session.expires_at:
            polls += 1
            if polls % STREAM_RECHECK_POLLS == 0 and not await owner_auth.still_signed_in(
                store, call, clock()
            ):
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
