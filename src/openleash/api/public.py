"""Routes anyone may call: health, keys, proof verification, playground, enrolment."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from openleash.api.deps import services
from openleash.api.http import base_url, json_body, json_response
from openleash.api.metrics import PROOF_CHECKS
from openleash.api.throttle import anonymous
from openleash.api.views import agents as views
from openleash.api.views import public as public_views
from openleash.api.wire import public as wire
from openleash.api.wire.common import operation
from openleash.policy import policy_schema_document
from openleash.service.public import PlaygroundRun, ProofCheck
from openleash.service.registration import ChallengeRequest, Enrolment, InviteEnrolment

router = APIRouter(tags=["public"])
#: Routes anyone may call that do work or write rows: each spends the caller's address budget.
LIMITED = [Depends(anonymous)]
#: What a JSON body can be refused for: malformed or invalid (400), too large, not JSON.
BODY_ERRORS = (400, 413, 415)


def _health_operation() -> dict[str, Any]:
    """Health answers 503 with its own body (not the error envelope) when not ready."""
    spec = operation(ok=wire.Health)
    spec["responses"][503] = {
        "model": wire.Health,
        "description": "Not ready: the store does not take writes (`store` says why).",
    }
    return spec


@router.get(
    "/v1/health",
    summary="Liveness, readiness (the store answers) and version",
    **_health_operation(),
)
async def health(request: Request) -> Response:
    health = await services(request).public.health()
    body = public_views.health_json(health, base_url(request))
    return json_response(body, 200 if health.ready else 503)


@router.get(
    "/v1/public-keys",
    summary="The server's proof-signing keys",
    **operation(ok=wire.PublicKeys),
)
async def public_keys(request: Request) -> Response:
    keys = await services(request).public.public_keys()
    return json_response(public_views.public_keys_json(keys))


@router.post(
    "/v1/verify-proof",
    dependencies=LIMITED,
    summary="Verify a proof token (always 200 with a verdict)",
    **operation(ok=wire.VerifyProofResponse, body=wire.VerifyProofRequest, errors=BODY_ERRORS),
)
async def verify_proof(request: Request) -> Response:
    _, body = await json_body(request)
    verdict = await services(request).public.verify_proof(ProofCheck.from_body(body))
    PROOF_CHECKS.labels(str(verdict.valid).lower()).inc()
    return json_response(public_views.verdict_json(verdict))


@router.post(
    "/v1/playground/run",
    dependencies=LIMITED,
    summary="Evaluate an action against a policy, no side effects",
    description="400 `INVALID_REQUEST`, `INVALID_ACTION_REQUEST` or `INVALID_POLICY` for bad "
    "input; 413 for a policy beyond the language's bounds; 503 when policy work is busy or "
    "takes too long.",
    **operation(ok=wire.PlaygroundRunResponse, body=wire.PlaygroundRunRequest, errors=BODY_ERRORS),
)
async def playground_run(request: Request) -> Response:
    _, body = await json_body(request)
    run = PlaygroundRun.from_body(body)
    return json_response(await services(request).public.playground(run))


@router.get(
    "/v1/agents/policy-schema",
    summary="The policy language: schema, reference, examples",
    **operation(ok=wire.PolicySchemaDocument, uses_store=False),
)
async def policy_schema() -> Response:
    return json_response(policy_schema_document())


@router.post(
    "/v1/agents/registration-challenge",
    dependencies=LIMITED,
    summary="Start enrolment by challenge",
    description="404 `OWNER_NOT_FOUND` when owner_id names no owner; 413 `ATTRIBUTES_TOO_LARGE`.",
    **operation(
        ok=wire.RegistrationChallenge,
        body=wire.RegistrationChallengeRequest,
        errors=(*BODY_ERRORS, 404),
    ),
)
async def registration_challenge(request: Request) -> Response:
    _, body = await json_body(request)
    ask = ChallengeRequest.from_body(body)
    return json_response(views.challenge_json(await services(request).registration.challenge(ask)))


@router.post(
    "/v1/agents/register",
    dependencies=LIMITED,
    summary="Finish enrolment by challenge",
    description="The agent is PENDING until its owner activates it. 400 `CHALLENGE_NOT_FOUND`, "
    "`CHALLENGE_EXPIRED`, `CHALLENGE_MISMATCH`, `INVALID_WEBHOOK_URL`; 401 "
    "`INVALID_SIGNATURE`; 404 `OWNER_NOT_FOUND`; 409 `AGENT_ID_TAKEN`; 429 "
    "`TOO_MANY_PENDING_AGENTS`.",
    **operation(
        ok=wire.AgentRegistration,
        body=wire.RegisterRequest,
        errors=(*BODY_ERRORS, 401, 404, 409),
    ),
)
async def register(request: Request) -> Response:
    _, body = await json_body(request)
    enrolment = Enrolment.from_body(body)
    return json_response(
        views.enrolled_json(await services(request).registration.register(enrolment))
    )


@router.get(
    "/v1/agents/register-with-invite",
    summary="How to redeem an agent invite",
    description="Both query parameters are required (400 otherwise); the invite itself is "
    "checked when it is redeemed (POST).",
    **operation(ok=wire.InviteInstructions, errors=(400,), uses_store=False),
)
async def invite_instructions(
    request: Request,
    invite_id: wire.InviteIdQuery = None,
    invite_token: wire.InviteTokenQuery = None,
) -> Response:
    link = services(request).registration.invite_instructions(invite_id or "", invite_token or "")
    return json_response(views.invite_instructions_json(link, base_url(request)))


@router.post(
    "/v1/agents/register-with-invite",
    dependencies=LIMITED,
    summary="Enrol an agent with an invite",
    description="invite_id and invite_token come from the body, else from the query. 401 "
    "`INVALID_INVITE_TOKEN`; 404 `INVITE_NOT_FOUND`; 400 `INVITE_USED`, `INVITE_EXPIRED`, "
    "`INVALID_KEY`; 409 `AGENT_ID_TAKEN`, `WEBHOOK_URL_NOT_UNIQUE`.",
    **operation(
        ok=wire.InviteRegistration,
        body=wire.InviteRegistrationRequest,
        errors=(*BODY_ERRORS, 401, 404, 409),
    ),
)
async def register_with_invite(
    request: Request,
    invite_id: wire.InviteIdQuery = None,
    invite_token: wire.InviteTokenQuery = None,
) -> Response:
    _, body = await json_body(request)
    for key, given in (("invite_id", invite_id), ("invite_token", invite_token)):
        if not body.get(key) and given:
            body[key] = given
    agent = await services(request).registration.register_with_invite(
        InviteEnrolment.from_body(body)
    )
    return json_response(views.enrolled_with_invite_json(agent, base_url(request)))
