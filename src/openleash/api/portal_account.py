"""The owner portal's other pages: agents (invite, revoke), usage against limits, the audit log
and the profile (TOTP enrolment)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from openleash.api import portal_views as views
from openleash.api.deps import services
from openleash.api.errors import status_of
from openleash.api.http import base_url
from openleash.api.portal_http import (
    PREFIX,
    PortalRoute,
    owner_form,
    owner_of,
    page,
    redirect,
    render,
    second_factor,
)
from openleash.api.views import accounts as accounts_views
from openleash.api.views import agents as agents_views
from openleash.api.views import audit as audit_views
from openleash.api.views import usage as usage_views
from openleash.api.views.accounts import TotpEnrolmentJson
from openleash.api.views.agents import AgentInviteJson
from openleash.api.views.audit import AuditPageJson
from openleash.domain.errors import OpenLeashError
from openleash.domain.models import Status
from openleash.service.audit_query import AuditFilter
from openleash.service.owner_auth import OwnerCall, TotpCode
from openleash.service.registration import AgentStatusChange

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

#: Suggestions for the audit page's event type filter (any type can be typed in).
AUDIT_EVENT_TYPES = (
    "DECISION_CREATED",
    "APPROVAL_REQUEST_CREATED",
    "APPROVAL_REQUEST_APPROVED",
    "APPROVAL_REQUEST_DENIED",
    "APPROVAL_TOKEN_USED",
    "POLICY_UPSERTED",
    "POLICY_UPDATED",
    "POLICY_DELETED",
    "POLICY_DRAFT_CREATED",
    "POLICY_DRAFT_APPROVED",
    "POLICY_DRAFT_DENIED",
    "AGENT_REGISTERED",
    "AGENT_REVOKED",
    "USER_LOGIN",
    "USER_LOGIN_FAILED",
)


# -- agents -------------------------------------------------------------------------------------


async def _agents_page(
    request: Request,
    call: OwnerCall,
    *,
    invite: AgentInviteJson | None = None,
    error: OpenLeashError | None = None,
) -> Response:
    listed = agents_views.agents_json(await services(request).registration.agents(call.owner_id))
    return page(
        request,
        "agents.html",
        call,
        nav="agents",
        error=error,
        agents=listed["agents"],
        invite=invite,
        totp_enabled=await views.totp_enabled(services(request), call),
    )


@router.get(f"{PREFIX}/agents")
async def agents(request: Request) -> Response:
    call = await owner_of(request)
    return await _agents_page(request, call)


@router.post(f"{PREFIX}/agents/invite")
async def agent_invite(request: Request) -> Response:
    call, _ = await owner_form(request)
    issued = await services(request).registration.agent_invite(call.owner_id)
    # Shown once, on this response only (not stored anywhere the owner could reload it from).
    invite = agents_views.agent_invite_json(issued, base_url(request))
    return await _agents_page(request, call, invite=invite)


@router.post(f"{PREFIX}/agents/{{agent_principal_id}}/revoke")
async def revoke_agent(request: Request, agent_principal_id: str) -> Response:
    return await _set_agent_status(request, agent_principal_id, Status.REVOKED, "revoked")


@router.post(f"{PREFIX}/agents/{{agent_principal_id}}/activate")
async def activate_agent(request: Request, agent_principal_id: str) -> Response:
    return await _set_agent_status(request, agent_principal_id, Status.ACTIVE, "activated")


async def _set_agent_status(
    request: Request, agent_principal_id: str, status: str, done: str
) -> Response:
    call, form = await owner_form(request)
    body = {"status": status, **second_factor(form)}
    try:
        change = AgentStatusChange.from_body(body)
        await services(request).registration.set_status(call, agent_principal_id, change)
    except OpenLeashError as exc:
        return await _agents_page(request, call, error=exc)
    return redirect(f"{PREFIX}/agents?done={done}")


# -- usage, audit -------------------------------------------------------------------------------


@router.get(f"{PREFIX}/usage")
async def usage_page(request: Request) -> Response:
    call = await owner_of(request)
    s = services(request)
    reports = []
    for agent in await s.registration.agents(call.owner_id):
        if agent.status != Status.ACTIVE:
            continue
        reports.append(
            usage_views.usage_json(
                await s.usage.of_agent(agent.agent_principal_id, owner_id=call.owner_id)
            )
        )
    return render("usage.html", call=call, nav="usage", reports=reports)


@router.get(f"{PREFIX}/audit")
async def audit(request: Request) -> Response:
    call = await owner_of(request)
    s = services(request)
    q = request.query_params
    filters = {
        "agent_principal_id": q.get("agent_principal_id", "").strip(),
        "event_type": q.get("event_type", "").strip().upper(),
        "since": q.get("since", "").strip(),
    }
    error: OpenLeashError | None = None
    page: AuditPageJson = {"items": [], "total": 0, "next_cursor": None}
    where = AuditFilter(
        agent_principal_id=filters["agent_principal_id"] or None,
        since=_zoned(filters["since"]) or None,
        event_type=filters["event_type"] or None,
    )
    try:
        found = await s.audit.owner_page(call, where, limit=50, cursor=q.get("cursor") or None)
        page = audit_views.audit_page(found)
    except OpenLeashError as exc:
        error = exc
    return render(
        "audit.html",
        call=call,
        status=status_of(error) if error else 200,
        nav="audit",
        error=error,
        filters=filters,
        page=page,
        agent_names=await views.agent_names(services(request), call),
        event_types=AUDIT_EVENT_TYPES,
        shown=views.shown,
        next_query=_audit_query(filters, page["next_cursor"]),
        cursor=q.get("cursor") or "",
    )


def _zoned(since: str) -> str:
    """A date or a zone-less time (as a datetime-local field sends it) read as UTC."""
    if len(since) == 10:
        return f"{since}T00:00:00Z"
    if len(since) in (16, 19) and since[10:11] == "T":
        return f"{since}{':00' if len(since) == 16 else ''}Z"
    return since


def _audit_query(filters: dict[str, str], cursor: str | None) -> str | None:
    if cursor is None:
        return None
    kept = {k: v for k, v in filters.items() if v}
    return urlencode({**kept, "cursor": cursor})


# -- profile ------------------------------------------------------------------------------------


async def _profile_page(
    request: Request,
    call: OwnerCall,
    *,
    enrolment: TotpEnrolmentJson | None = None,
    backup_codes: list[str] | None = None,
    confirming: bool = False,
    error: OpenLeashError | None = None,
) -> Response:
    profile = accounts_views.profile_json(await services(request).accounts.profile(call))
    return page(
        request,
        "profile.html",
        call,
        nav="profile",
        error=error,
        profile=profile,
        enrolment=enrolment,
        backup_codes=backup_codes,
        confirming=confirming or enrolment is not None,
    )


@router.get(f"{PREFIX}/profile")
async def profile(request: Request) -> Response:
    call = await owner_of(request)
    return await _profile_page(request, call)


@router.post(f"{PREFIX}/profile/totp/setup")
async def totp_setup(request: Request) -> Response:
    call, form = await owner_form(request)
    try:
        given = TotpCode.from_body({"code": form.get("code", "").strip()}, optional=True)
        started = accounts_views.totp_enrolment_json(
            await services(request).accounts.start_totp(call, given)
        )
    except OpenLeashError as exc:
        return await _profile_page(request, call, error=exc)
    # The QR code is SVG markup made by the server from the new secret, not anyone's input.
    started["qr_svg"] = Markup(started["qr_svg"])  # noqa: S704 - server-generated SVG
    return await _profile_page(request, call, enrolment=started)


@router.post(f"{PREFIX}/profile/totp/confirm")
async def totp_confirm(request: Request) -> Response:
    call, form = await owner_form(request)
    try:
        given = TotpCode.from_body({"code": form.get("code", "").strip()})
        codes = await services(request).accounts.confirm_totp(call, given)
    except OpenLeashError as exc:
        return await _profile_page(request, call, confirming=True, error=exc)
    return await _profile_page(request, call, backup_codes=codes)


@router.post(f"{PREFIX}/profile/totp/disable")
async def totp_disable(request: Request) -> Response:
    call, form = await owner_form(request)
    try:
        given = TotpCode.from_body({"code": form.get("code", "").strip()})
        await services(request).accounts.disable_totp(call, given)
    except OpenLeashError as exc:
        return await _profile_page(request, call, error=exc)
    return redirect(f"{PREFIX}/profile?done=totp_disabled")
