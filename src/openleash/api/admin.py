"""Admin routes, used to bootstrap and operate a server (inv §2.6, secrets never returned)."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from openleash.api.deps import services
from openleash.api.http import base_url, json_body, json_response, query_int
from openleash.api.proxy import FORWARDING_HEADERS, PEER, is_within, networks
from openleash.domain.errors import AuthenticationError
from openleash.service import agents, keys, owners, policies, usage
from openleash.service.audit import read_page

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


@router.post("/users", summary="Create an owner (user)")
async def create_user(request: Request) -> Response:
    _, body = await json_body(request)
    s = services(request)
    return json_response(await owners.create_owner(s.store, body, s.options))


@router.get("/users", summary="List owners")
async def list_users(request: Request) -> Response:
    return json_response(await owners.list_owners(services(request).store))


@router.post("/users/{user_id}/setup-invite", summary="Invite an owner to set a passphrase")
async def setup_invite(request: Request, user_id: str) -> Response:
    s = services(request)
    result = await owners.create_invite(s.store, user_id, "setup", s.options)
    result["setup_url"] = (
        f"{base_url(request)}/gui/login/setup?invite_id={result['invite_id']}"
        f"&invite_token={result['invite_token']}"
    )
    return json_response(result)


@router.post("/users/{user_id}/agent-invite", summary="Invite an agent to enrol for an owner")
async def agent_invite(request: Request, user_id: str) -> Response:
    s = services(request)
    result = await owners.create_invite(s.store, user_id, "agent", s.options)
    result["invite_url"] = (
        f"{base_url(request)}/v1/agents/register-with-invite?invite_id={result['invite_id']}"
        f"&invite_token={result['invite_token']}"
    )
    return json_response(result)


@router.get("/agents", summary="List agents (no secrets)")
async def list_agents(request: Request) -> Response:
    owner = request.query_params.get("owner_id")
    return json_response(await agents.list_agents(services(request).store, owner))


@router.delete("/agents/{agent_principal_id}", summary="Revoke an agent")
async def revoke_agent(request: Request, agent_principal_id: str) -> Response:
    s = services(request)
    return json_response(await agents.revoke_agent(s.store, agent_principal_id, s.options))


@router.get("/agents/{agent_principal_id}/usage", summary="An agent's use of its limits")
async def agent_usage(request: Request, agent_principal_id: str) -> Response:
    s = services(request)
    return json_response(await usage.admin_usage(s.runtime, s.store, agent_principal_id, s.options))


@router.get("/policies", summary="List policies with their YAML")
async def list_policies(request: Request) -> Response:
    owner = request.query_params.get("owner_id")
    return json_response(await policies.list_policies(services(request).store, owner))


@router.get("/policies/{policy_id}", summary="One policy with its YAML")
async def get_policy(request: Request, policy_id: str) -> Response:
    return json_response(await policies.get_policy(services(request).store, policy_id))


@router.get("/keys", summary="Server signing keys")
async def list_keys(request: Request) -> Response:
    return json_response({"keys": await keys.list_keys(services(request).store)})


@router.post("/keys/rotate", summary="Make a new active signing key")
async def rotate_key(request: Request) -> Response:
    s = services(request)
    return json_response(await keys.rotate_key(s.store, s.options))


@router.post("/keys/{kid}/revoke", summary="Revoke a signing key")
async def revoke_key(request: Request, kid: str) -> Response:
    s = services(request)
    return json_response(await keys.revoke_key(s.store, kid, s.options))


AUDIT_FILTERS = (
    "owner_id",
    "agent_principal_id",
    "event_type",
    "principal_id",
    "action_type",
    "result",
    "since",
    "until",
)


@router.get("/audit", summary="Audit events, newest first")
async def audit(request: Request) -> Response:
    q = request.query_params
    limit = query_int(request, "limit", 50, 1, 500)
    filters: dict[str, Any] = {k: q[k] for k in AUDIT_FILTERS if q.get(k)}
    page = await read_page(
        services(request).store,
        limit=limit,
        cursor=q.get("cursor"),
        filters=filters or None,
    )
    return json_response(page)
