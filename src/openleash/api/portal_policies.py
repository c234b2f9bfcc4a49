"""The owner portal's policy pages: the policies by tier and rank, the YAML editor that shows
validation issues on their lines, and the agents' pending policy drafts."""

from __future__ import annotations

from typing import TypedDict

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from openleash.api import portal_views as views
from openleash.api.deps import services
from openleash.api.portal_http import (
    PREFIX,
    PortalRoute,
    owner_form,
    owner_of,
    page,
    redirect,
    second_factor,
)
from openleash.api.views import drafts as draft_views
from openleash.api.views import policies as policy_views
from openleash.api.views.agents import agents_json
from openleash.api.views.policies import OwnedPolicyJson
from openleash.domain.errors import OpenLeashError
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import DraftStatus, Status
from openleash.service.owner_auth import OwnerCall
from openleash.service.owner_factor import Denial, FactorProof
from openleash.service.owner_policies import (
    OwnerPolicyCreate,
    OwnerPolicyOrder,
    OwnerPolicyUpdate,
    factor_code,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


class PolicyFields(TypedDict):
    """The policy editor's fields, as typed (``target``: the agent it binds, empty for all)."""

    policy_yaml: str
    name: str
    description: str
    target: str
    mode: str


# -- policies -----------------------------------------------------------------------------------


@router.get(f"{PREFIX}/policies")
async def policies(request: Request) -> Response:
    call = await owner_of(request)
    return await _policies_page(request, call)


async def _policies_page(
    request: Request, call: OwnerCall, *, error: OpenLeashError | None = None
) -> Response:
    listed = [
        policy_views.owned_policy(p) for p in await services(request).owner_policies.list_for(call)
    ]
    pending = await services(request).drafts.list_for_owner(call, DraftStatus.PENDING)
    agent_names = await views.agent_names(services(request), call)
    return page(
        request,
        "policies.html",
        call,
        nav="policies",
        error=error,
        agent_tier=[p for p in listed if p["tier"] == "agent"],
        owner_tier=[p for p in listed if p["tier"] != "agent"],
        drafts=[draft_views.for_owner(d) for d in pending],
        agent_names=agent_names,
        totp_enabled=await views.totp_enabled(services(request), call),
    )


async def _editor(
    request: Request,
    call: OwnerCall,
    *,
    policy: OwnedPolicyJson | None,
    fields: PolicyFields,
    error: OpenLeashError | None = None,
) -> Response:
    listed = agents_json(await services(request).registration.agents(call.owner_id))
    issues = views.policy_issues(error) if error else []
    report = views.yaml_report(fields["policy_yaml"], issues) if error else None
    return page(
        request,
        "policy_edit.html",
        call,
        nav="policies",
        error=error,
        policy=policy,
        fields=fields,
        report=report,
        agents=[a for a in listed["agents"] if a["status"] == Status.ACTIVE],
        totp_enabled=await views.totp_enabled(services(request), call),
    )


NEW_POLICY = """\
version: 1
default: deny
rules:
  - id: small_purchases
    effect: allow
    action: purchase
    constraints:
      amount_max: 5000
"""


@router.get(f"{PREFIX}/policies/new")
async def new_policy(request: Request) -> Response:
    call = await owner_of(request)
    fields: PolicyFields = {
        "policy_yaml": NEW_POLICY,
        "name": "",
        "description": "",
        "target": "",
        "mode": "enforce",
    }
    return await _editor(request, call, policy=None, fields=fields)


def _policy_fields(form: dict[str, str]) -> PolicyFields:
    return {
        # Browsers send a textarea's line breaks as CRLF.
        "policy_yaml": form.get("policy_yaml", "").replace("\r\n", "\n"),
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip(),
        "target": form.get("target", "").strip(),
        "mode": form.get("mode", "enforce"),
    }


@router.post(f"{PREFIX}/policies/new")
async def create_policy(request: Request) -> Response:
    call, form = await owner_form(request)
    fields = _policy_fields(form)
    s = services(request)
    body: JsonObject = {
        "policy_yaml": fields["policy_yaml"],
        "name": fields["name"],
        "description": fields["description"],
        "applies_to_agent_principal_id": fields["target"] or None,
        "mode": fields["mode"],
        **second_factor(form),
    }
    try:
        created = await s.owner_policies.create(call, OwnerPolicyCreate.from_body(body))
    except OpenLeashError as exc:
        return await _editor(request, call, policy=None, fields=fields, error=exc)
    return redirect(f"{PREFIX}/policies/{created.policy_id}?done=policy_saved")


def _stored_fields(policy: OwnedPolicyJson) -> PolicyFields:
    return {
        "policy_yaml": policy["policy_yaml"],
        "name": policy["name"] or "",
        "description": policy["description"] or "",
        "target": policy["applies_to_agent_principal_id"] or "",
        "mode": policy["mode"] or "enforce",
    }


@router.post(f"{PREFIX}/policies/order")
async def move_policy(request: Request) -> Response:
    """Move one policy up in its tier (it is then read before the one that was above it).
    Declared before the routes with a policy id, which would take "order" for one."""
    call, form = await owner_form(request)
    s = services(request)
    tier, moved = form.get("tier", ""), form.get("policy_id", "")
    listed = await s.owner_policies.list_for(call)
    order = [p.policy.policy_id for p in listed if p.tier == tier]
    if moved in order and order.index(moved) > 0:
        at = order.index(moved)
        order[at - 1], order[at] = order[at], order[at - 1]
    body: JsonObject = {"tier": tier, "ordered_policy_ids": list(order), **second_factor(form)}
    try:
        await s.owner_policies.reorder(call, OwnerPolicyOrder.from_body(body))
    except OpenLeashError as exc:
        return await _policies_page(request, call, error=exc)
    return redirect(f"{PREFIX}/policies?done=policy_moved")


@router.get(f"{PREFIX}/policies/{{policy_id}}")
async def edit_policy(request: Request, policy_id: str) -> Response:
    call = await owner_of(request)
    policy = policy_views.owned_policy(await services(request).owner_policies.get(call, policy_id))
    return await _editor(request, call, policy=policy, fields=_stored_fields(policy))


@router.post(f"{PREFIX}/policies/{{policy_id}}")
async def update_policy(request: Request, policy_id: str) -> Response:
    call, form = await owner_form(request)
    fields = _policy_fields(form)
    s = services(request)
    policy = policy_views.owned_policy(await s.owner_policies.get(call, policy_id))
    body: JsonObject = {
        "policy_yaml": fields["policy_yaml"],
        "name": fields["name"],
        "description": fields["description"],
        **second_factor(form),
    }
    if (fields["target"] or None) != policy["applies_to_agent_principal_id"]:
        body["applies_to_agent_principal_id"] = fields["target"] or None
    try:
        await s.owner_policies.update(call, policy_id, OwnerPolicyUpdate.from_body(body))
    except OpenLeashError as exc:
        return await _editor(request, call, policy=policy, fields=fields, error=exc)
    return redirect(f"{PREFIX}/policies/{policy_id}?done=policy_saved")


@router.post(f"{PREFIX}/policies/{{policy_id}}/delete")
async def delete_policy(request: Request, policy_id: str) -> Response:
    call, form = await owner_form(request)
    s = services(request)
    try:
        await s.owner_policies.delete(call, policy_id, factor_code(second_factor(form)))
    except OpenLeashError as exc:
        if exc.code == "NOT_FOUND":
            raise
        policy = policy_views.owned_policy(await s.owner_policies.get(call, policy_id))
        return await _editor(request, call, policy=policy, fields=_stored_fields(policy), error=exc)
    return redirect(f"{PREFIX}/policies?done=policy_deleted")


@router.post(f"{PREFIX}/policy-drafts/{{policy_draft_id}}/approve")
async def approve_draft(request: Request, policy_draft_id: str) -> Response:
    return await _resolve_draft(request, policy_draft_id, approve=True)


@router.post(f"{PREFIX}/policy-drafts/{{policy_draft_id}}/deny")
async def deny_draft(request: Request, policy_draft_id: str) -> Response:
    return await _resolve_draft(request, policy_draft_id, approve=False)


async def _resolve_draft(request: Request, policy_draft_id: str, *, approve: bool) -> Response:
    """Approve or deny a draft, then back to the policies page."""
    call, form = await owner_form(request)
    drafts = services(request).drafts
    body: JsonObject = {**second_factor(form), "reason": form.get("reason", "")}
    try:
        if approve:
            await drafts.approve(call, policy_draft_id, FactorProof.from_body(body))
        else:
            await drafts.deny(call, policy_draft_id, Denial.from_body(body))
    except OpenLeashError as exc:
        if exc.code == "NOT_FOUND":
            raise
        return await _policies_page(request, call, error=exc)
    return redirect(f"{PREFIX}/policies?done={'draft_approved' if approve else 'draft_denied'}")
