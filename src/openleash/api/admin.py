"""Admin routes, used to bootstrap and operate a server (inv §2.6, secrets never returned)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from openleash.api.deps import services
from openleash.api.http import base_url, json_body, json_response, query_int
from openleash.api.proxy import FORWARDING_HEADERS, PEER, is_within, networks
from openleash.api.views import accounts as accounts_views
from openleash.api.views import agents as agents_views
from openleash.api.views import audit as audit_views
from openleash.api.views import keys as key_views
from openleash.api.views import policies as policy_views
from openleash.api.views import usage as usage_views
from openleash.api.wire import admin as wire
from openleash.api.wire.agent import AgentUsage
from openleash.api.wire.common import ADMIN, operation
from openleash.domain.errors import AuthenticationError
from openleash.service.audit_query import AuditFilter
from openleash.service.owner_auth import NewOwner

LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})


def _from_this_machine(request: Request, trusted_proxies: tuple[str, ...]) -> bool:
    """Whether the socket's peer is loopback and the request came straight from it: not
    through a proxy (a trusted one, or any that says so in a forwarding header), which would
    make every remote caller look local."""
    peer = request.scope.get(PEER, request.scope.get("client"))
    if not peer or peer[0] not in LOOPBACK:
        return False
    if is_within(peer[0], networks(trusted_proxies)):
        return False
    return not any(name in FORWARDING_HEADERS for name, _ in request.scope["headers"])


def require_admin(request: Request) -> None:
    """Loopback callers pass when ``admin.mode`` allows it; others need the bearer token.

    The Host and Origin of every admin request were checked before (api/guard.py): a web page
    in the owner's browser cannot borrow the loopback address."""
    settings = services(request).settings
    mode, token = settings.admin_mode, settings.admin_token
    if mode in ("localhost", "localhost_or_token") and _from_this_machine(
        request, settings.trusted_proxies
    ):
        return
    if mode in ("token", "localhost_or_token") and token:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), token.encode()
        ):
            return
    raise AuthenticationError("ADMIN_UNAUTHORIZED", "Admin access requires the admin token")


router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)])

#: Every admin route: no admin token (or not from loopback where that is allowed) is 401.
READ = (401,)
#: A change must carry JSON or no body at all (api/guard.py): anything else is 415.
CHANGE = (401, 415)


@router.post(
    "/users",
    summary="Create an owner (user)",
    description="400 `VALIDATION_ERROR` (with `details.field_errors`) without a display_name.",
    **operation(
        ok=wire.UserCreated, body=wire.CreateUserRequest, errors=(*CHANGE, 400, 413), security=ADMIN
    ),
)
async def create_user(request: Request) -> Response:
    _, body = await json_body(request)
    owner = await services(request).accounts.create_owner(NewOwner.from_body(body))
    return json_response(accounts_views.owner_created_json(owner))


@router.get(
    "/users", summary="List owners", **operation(ok=wire.UserList, errors=READ, security=ADMIN)
)
async def list_users(request: Request) -> Response:
    return json_response(accounts_views.owners_json(await services(request).accounts.list_owners()))


@router.post(
    "/users/{user_id}/setup-invite",
    summary="Invite an owner to set a passphrase",
    description="404 `USER_NOT_FOUND`. The token is shown once.",
    **operation(ok=wire.SetupInvite, errors=(*CHANGE, 404), security=ADMIN),
)
async def setup_invite(request: Request, user_id: str) -> Response:
    invite = await services(request).accounts.setup_invite(user_id)
    return json_response(accounts_views.setup_invite_json(invite, base_url(request)))


@router.post(
    "/users/{user_id}/agent-invite",
    summary="Invite an agent to enrol for an owner",
    description="404 `USER_NOT_FOUND`. The token is shown once.",
    **operation(ok=wire.AgentInvite, errors=(*CHANGE, 404), security=ADMIN),
)
async def agent_invite(request: Request, user_id: str) -> Response:
    invite = await services(request).registration.agent_invite(user_id)
    return json_response(agents_views.agent_invite_json(invite, base_url(request)))


@router.get(
    "/agents",
    summary="List agents (no secrets)",
    **operation(ok=wire.AgentList, errors=READ, security=ADMIN),
)
async def list_agents(request: Request, owner_id: wire.OwnerFilter = None) -> Response:
    listed = await services(request).registration.agents(owner_id)
    return json_response(agents_views.agents_json(listed))


@router.delete(
    "/agents/{agent_principal_id}",
    summary="Revoke an agent",
    description="404 `NOT_FOUND`. Its signatures stop verifying at once, in every process.",
    **operation(ok=wire.AgentRevoked, errors=(*CHANGE, 404), security=ADMIN),
)
async def revoke_agent(request: Request, agent_principal_id: str) -> Response:
    await services(request).registration.revoke_agent(agent_principal_id)
    return json_response(agents_views.revoked_json(agent_principal_id))


@router.get(
    "/agents/{agent_principal_id}/usage",
    summary="An agent's use of its limits",
    description="404 `NOT_FOUND`.",
    **operation(ok=AgentUsage, errors=(*READ, 404), security=ADMIN),
)
async def agent_usage(request: Request, agent_principal_id: str) -> Response:
    used = await services(request).usage.of_agent(agent_principal_id)
    return json_response(usage_views.usage_json(used))


@router.get(
    "/policies",
    summary="List policies with their YAML",
    **operation(ok=wire.PolicyList, errors=READ, security=ADMIN),
)
async def list_policies(request: Request, owner_id: wire.OwnerFilter = None) -> Response:
    listed = await services(request).policies.list_for(owner_id)
    return json_response(policy_views.policy_list(listed))


@router.get(
    "/policies/{policy_id}",
    summary="One policy with its YAML",
    description="404 `POLICY_NOT_FOUND`.",
    **operation(ok=wire.StoredPolicy, errors=(*READ, 404), security=ADMIN),
)
async def get_policy(request: Request, policy_id: str) -> Response:
    return json_response(
        policy_views.stored_policy(await services(request).policies.get(policy_id))
    )


@router.get(
    "/keys",
    summary="Server signing keys",
    **operation(ok=wire.ServerKeyList, errors=READ, security=ADMIN),
)
async def list_keys(request: Request) -> Response:
    return json_response(key_views.key_list(await services(request).keys.list_all()))


@router.post(
    "/keys/rotate",
    summary="Make a new active signing key",
    **operation(ok=wire.ServerKey, errors=CHANGE, security=ADMIN),
)
async def rotate_key(request: Request) -> Response:
    rotated = await services(request).keys.rotate()
    return json_response(key_views.server_key(rotated, active=True))


@router.post(
    "/keys/{kid}/revoke",
    summary="Revoke a signing key",
    description="404 `KEY_NOT_FOUND`; 409 `KEY_ACTIVE` (rotate first).",
    **operation(ok=wire.KeyRevoked, errors=(*CHANGE, 404, 409), security=ADMIN),
)
async def revoke_key(request: Request, kid: str) -> Response:
    await services(request).keys.revoke(kid)
    return json_response(key_views.key_revoked(kid))


@router.get(
    "/audit",
    summary="Audit events, newest first",
    description="400 `INVALID_REQUEST` for a limit outside 1..500 or a cursor not from "
    "next_cursor.",
    **operation(ok=wire.AuditPage, errors=(*READ, 400), security=ADMIN),
)
async def audit(
    request: Request,
    limit: wire.AuditLimit = None,
    cursor: wire.AuditCursor = None,
    owner_id: wire.OwnerFilter = None,
    agent_principal_id: wire.AgentPrincipalFilter = None,
    event_type: wire.EventTypeFilter = None,
    principal_id: wire.PrincipalFilter = None,
    action_type: wire.ActionTypeFilter = None,
    result: wire.ResultFilter = None,
    since: wire.SinceFilter = None,
    until: wire.UntilFilter = None,
) -> Response:
    # ``limit`` is read, with its bounds and messages, by query_int (the same value).
    where = AuditFilter(
        owner_id=owner_id,
        agent_principal_id=agent_principal_id,
        event_type=event_type,
        principal_id=principal_id,
        action_type=action_type,
        result=result,
        since=since,
        until=until,
    )
    page = await services(request).audit.page(
        where, limit=query_int(request, "limit", 50, 1, 500), cursor=cursor
    )
    return json_response(audit_views.audit_page(page))
