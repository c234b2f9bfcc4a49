"""Routes anyone may call: health, keys, proof verification, playground, enrolment."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from openleash.api.deps import services
from openleash.api.http import base_url, json_body, json_response
from openleash.api.metrics import PROOF_CHECKS
from openleash.api.throttle import anonymous
from openleash.api.wire import public as wire
from openleash.api.wire.common import operation
from openleash.policy import policy_schema_document
from openleash.service import public as use
from openleash.service import registration

router = APIRouter(tags=["public"])
#: Routes anyone may call that do work or write rows: each spends the caller's address budget.
LIMITED = [Depends(anonymous)]


@router.get("/v1/health", summary="Liveness, readiness (the store answers) and version")
async def health(request: Request) -> Response:
    s = services(request)
    ready, body = await use.health(s.store, s.options)
    base = base_url(request)
    body["api_reference"] = f"{base}/reference"
    body["openapi_spec"] = f"{base}/reference/openapi.json"
    return json_response(body, 200 if ready else 503)


@router.get("/v1/public-keys", summary="The server's proof-signing keys")
async def public_keys(request: Request) -> Response:
    return json_response(await use.public_keys(services(request).runtime))


@router.post(
    "/v1/verify-proof",
    dependencies=LIMITED,
    summary="Verify a proof token (always 200 with a verdict)",
    **operation(ok=wire.VerifyProofResponse, body=wire.VerifyProofRequest, errors=(400, 413, 415)),
)
async def verify_proof(request: Request) -> Response:
    _, body = await json_body(request)
    s = services(request)
    verdict = await use.verify_proof(s.runtime, body, s.options)
    PROOF_CHECKS.labels(str(verdict["valid"]).lower()).inc()
    return json_response(verdict)


@router.post(
    "/v1/playground/run",
    dependencies=LIMITED,
    summary="Evaluate an action against a policy, no side effects",
)
async def playground_run(request: Request) -> Response:
    _, body = await json_body(request)
    return json_response(await use.playground_run_bounded(body, services(request).options))


@router.get("/v1/agents/policy-schema", summary="The policy language: schema, reference, examples")
async def policy_schema() -> Response:
    return json_response(policy_schema_document())


@router.post(
    "/v1/agents/registration-challenge",
    dependencies=LIMITED,
    summary="Start enrolment by challenge",
)
async def registration_challenge(request: Request) -> Response:
    _, body = await json_body(request)
    s = services(request)
    return json_response(await registration.issue_challenge(s.store, body, s.options))


@router.post("/v1/agents/register", dependencies=LIMITED, summary="Finish enrolment by challenge")
async def register(request: Request) -> Response:
    _, body = await json_body(request)
    s = services(request)
    return json_response(await registration.register(s.store, body, s.options))


@router.get("/v1/agents/register-with-invite", summary="How to redeem an agent invite")
async def invite_instructions(request: Request) -> Response:
    q = request.query_params
    return json_response(
        registration.invite_instructions(
            q.get("invite_id", ""), q.get("invite_token", ""), base_url(request)
        )
    )


@router.post(
    "/v1/agents/register-with-invite", dependencies=LIMITED, summary="Enrol an agent with an invite"
)
async def register_with_invite(request: Request) -> Response:
    _, body = await json_body(request)
    for key in ("invite_id", "invite_token"):
        if not body.get(key) and request.query_params.get(key):
            body[key] = request.query_params[key]
    s = services(request)
    return json_response(
        await registration.register_with_invite(s.store, body, s.options, base_url(request))
    )
