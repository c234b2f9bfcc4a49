"""The owner portal at ``/gui``: server-rendered pages over the owner services.

Each view parses the form or query, calls the service functions the owner API calls, and
renders the result; a service's refusal (a wrong TOTP code, an expired request) is shown on the
page it came from. The approvals inbox updates itself from the owner event stream
(``static/portal.js`` fetches ``/gui/approvals/fragment`` again when an approval is filed or
resolved). See :mod:`openleash.api.portal_http` for sessions, CSRF and headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from openleash.api import portal_account, portal_policies
from openleash.api import portal_views as views
from openleash.api.deps import services
from openleash.api.errors import status_of
from openleash.api.owner import clear_session_cookies, set_session_cookies, sign_in
from openleash.api.portal_http import (
    HOME_PATH,
    LOGIN_CSRF_COOKIE,
    LOGIN_PATH,
    PREFIX,
    PortalRoute,
    SignInRequired,
    check_login_csrf,
    login_csrf,
    owner_form,
    owner_of,
    page,
    read_form,
    redirect,
    render,
    safe_return,
    second_factor,
    set_login_csrf,
    static_response,
)
from openleash.api.throttle import anonymous
from openleash.api.views import approvals as approval_views
from openleash.api.views.agents import AgentRecordJson, agent_json
from openleash.api.views.approvals import OwnerApprovalJson
from openleash.domain.errors import InvalidInputError, OpenLeashError
from openleash.domain.jsonvalue import JsonObject, JsonValue
from openleash.domain.models import ApprovalStatus
from openleash.service.owner_auth import LoginAttempt, OwnerCall, OwnerSetup
from openleash.service.owner_factor import Denial, FactorProof

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


# -- static files, sign-in ----------------------------------------------------------------------


@router.get(f"{PREFIX}/static/{{name}}")
async def static(name: str) -> Response:
    return static_response(name)


@router.get(PREFIX)
@router.get(f"{PREFIX}/")
async def home() -> Response:
    return redirect(HOME_PATH)


@router.get(LOGIN_PATH)
async def login_page(request: Request) -> Response:
    return_to = request.query_params.get("returnTo")
    try:
        await owner_of(request)
        return redirect(safe_return(return_to))
    except SignInRequired:
        pass
    return _login_form(request, return_to=return_to)


def _login_form(
    request: Request,
    *,
    return_to: str | None,
    user_id: str = "",
    error: OpenLeashError | None = None,
    status: int = 200,
) -> Response:
    token, fresh = login_csrf(request)
    response = render(
        "login.html",
        status=status,
        csrf_token=token,
        return_to=safe_return(return_to),
        user_id=user_id,
        error=error,
        totp_required=error is not None and error.code in ("TOTP_REQUIRED", "INVALID_TOTP_CODE"),
    )
    if fresh:
        set_login_csrf(request, response, token)
    return response


@router.post(LOGIN_PATH, dependencies=[Depends(anonymous)])
async def login(request: Request) -> Response:
    form = await read_form(request)
    try:
        check_login_csrf(request, form)
    except OpenLeashError as exc:
        # A form left open past its token's life gets a fresh one; nothing is signed in.
        return _login_form(
            request, return_to=form.get("returnTo"), error=exc, status=status_of(exc)
        )
    s = services(request)
    user_id = form.get("user_principal_id", "").strip()
    body: JsonObject = {
        "user_principal_id": user_id,
        "passphrase": form.get("passphrase", ""),
        "totp_code": form.get("totp_code", "").strip(),
    }
    try:
        done = await sign_in(request, LoginAttempt.from_body(body))
    except OpenLeashError as exc:
        return _login_form(
            request,
            return_to=form.get("returnTo"),
            user_id=user_id,
            error=exc,
            status=status_of(exc),
        )
    response = redirect(safe_return(form.get("returnTo")))
    set_session_cookies(request, response, done, s.options.session_ttl_seconds)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


SETUP_PATH = f"{LOGIN_PATH}/setup"  # under the login path: the login form's CSRF cookie covers it


def _setup_form(
    request: Request,
    invite_id: str,
    invite_token: str,
    *,
    error: OpenLeashError | None = None,
    status: int = 200,
) -> Response:
    token, fresh = login_csrf(request)
    response = render(
        "setup.html",
        status=status,
        csrf_token=token,
        invite_id=invite_id,
        invite_token=invite_token,
        error=error,
    )
    if fresh:
        set_login_csrf(request, response, token)
    return response


@router.get(SETUP_PATH)
async def setup_page(request: Request) -> Response:
    """Where a setup invite link leads: the owner chooses a passphrase."""
    query = request.query_params
    return _setup_form(request, query.get("invite_id", ""), query.get("invite_token", ""))


@router.post(SETUP_PATH, dependencies=[Depends(anonymous)])
async def setup(request: Request) -> Response:
    form = await read_form(request)
    invite_id, invite_token = form.get("invite_id", ""), form.get("invite_token", "")
    try:
        check_login_csrf(request, form)
        if form.get("passphrase", "") != form.get("confirm", ""):
            raise InvalidInputError("VALIDATION_ERROR", "The two passphrases differ")
        setup = OwnerSetup.from_body(
            {
                "invite_id": invite_id,
                "invite_token": invite_token,
                "passphrase": form.get("passphrase", ""),
            }
        )
        owner_id = await services(request).accounts.set_up(setup)
    except OpenLeashError as exc:
        return _setup_form(request, invite_id, invite_token, error=exc, status=status_of(exc))
    # The invite is used up: on to logging in, with the user ID filled in.
    return _login_form(request, return_to=None, user_id=owner_id)


@router.post(f"{PREFIX}/logout")
async def logout(request: Request) -> Response:
    call, _ = await owner_form(request)
    await services(request).accounts.logout(call)
    response = redirect(LOGIN_PATH)
    clear_session_cookies(response)
    return response


# -- approvals ----------------------------------------------------------------------------------


class _Inbox(TypedDict):
    """What the inbox templates show."""

    pending_agents: list[AgentRecordJson]
    pending: list[OwnerApprovalJson]
    recent: list[OwnerApprovalJson]
    format_amount: Callable[[JsonValue, JsonValue], str | None]


async def _inbox(request: Request, call: OwnerCall) -> _Inbox:
    s = services(request)
    pending = await s.approvals.list_for_owner(call, status=ApprovalStatus.PENDING, limit=100)
    recent = await s.approvals.list_for_owner(call, status=None, limit=30)
    return {
        "pending_agents": [
            agent_json(a) for a in await services(request).registration.pending_agents(call)
        ],
        "pending": [approval_views.for_owner(a) for a in pending],
        "recent": [
            approval_views.for_owner(a) for a in recent if a.status != ApprovalStatus.PENDING
        ][:20],
        "format_amount": views.format_amount,
    }


@router.get(HOME_PATH)
async def inbox(request: Request) -> Response:
    call = await owner_of(request)
    return render("approvals.html", call=call, nav="approvals", **await _inbox(request, call))


@router.get(f"{HOME_PATH}/fragment")
async def inbox_fragment(request: Request) -> Response:
    try:
        call = await owner_of(request)
    except SignInRequired:
        # The script reloads the page, which then goes to the login page.
        return Response(status_code=401)
    return render("approvals_list.html", call=call, **await _inbox(request, call))


async def _approval_page(
    request: Request,
    call: OwnerCall,
    approval_request_id: str,
    *,
    error: OpenLeashError | None = None,
) -> Response:
    s = services(request)
    view = approval_views.for_owner(await s.approvals.for_owner(call, approval_request_id))
    action = view["action"]
    given = action.get("payload")
    payload = given if isinstance(given, dict) else {}
    return page(
        request,
        "approval.html",
        call,
        nav="approvals",
        error=error,
        r=view,
        amount=views.format_amount(payload.get("amount_minor"), payload.get("currency")),
        payload=payload,
        payload_rows=views.payload_rows(action),
        relying_party=views.object_rows(action.get("relying_party")),
        context_rows=views.object_rows(view["context"]),
        counterparty=await views.counterparty(s, view),
        totp_enabled=await views.totp_enabled(services(request), call),
    )


@router.get(f"{HOME_PATH}/{{approval_request_id}}")
async def approval(request: Request, approval_request_id: str) -> Response:
    call = await owner_of(request)
    return await _approval_page(request, call, approval_request_id)


@router.post(f"{HOME_PATH}/{{approval_request_id}}/approve")
async def approve(request: Request, approval_request_id: str) -> Response:
    call, form = await owner_form(request)
    proof = FactorProof.from_body(second_factor(form))
    try:
        await services(request).approvals.approve(call, approval_request_id, proof)
    except OpenLeashError as exc:
        if exc.code == "NOT_FOUND":
            raise
        return await _approval_page(request, call, approval_request_id, error=exc)
    return redirect(f"{HOME_PATH}/{approval_request_id}?done=approved")


@router.post(f"{HOME_PATH}/{{approval_request_id}}/deny")
async def deny(request: Request, approval_request_id: str) -> Response:
    call, form = await owner_form(request)
    body: JsonObject = {**second_factor(form), "reason": form.get("reason", "")}
    try:
        denial = Denial.from_body(body)
        await services(request).approvals.deny(call, approval_request_id, denial)
    except OpenLeashError as exc:
        if exc.code == "NOT_FOUND":
            raise
        return await _approval_page(request, call, approval_request_id, error=exc)
    return redirect(f"{HOME_PATH}/{approval_request_id}?done=denied")


# The other pages live in their own modules; app.py registers this one router.
router.include_router(portal_policies.router)
router.include_router(portal_account.router)
