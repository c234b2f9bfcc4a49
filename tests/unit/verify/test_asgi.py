"""ProofMiddleware and the FastAPI dependency, in process (ASGI transport, no network)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from openleash.client import bind_request, proof_headers
from openleash.verify import (
    ProofMiddleware,
    ProofVerifier,
    VerifiedProof,
    install,
    proof_of,
    require_proof,
)
from tests.unit.verify.issuer import Issuer

BODY = b'{"sku":"tea","quantity":2}'


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the body it received and the proof's decision."""
    message = await receive()
    proof = proof_of(scope)
    body = json.dumps(
        {"body": message.get("body", b"").decode(), "decision": proof and proof.decision_id}
    ).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def call(app: Any, method: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
            return await client.request(method, path, content=body, headers=headers)

    return asyncio.run(run())


def signed(issuer: Issuer, method: str, path: str, body: bytes, **options: Any) -> dict[str, str]:
    action = bind_request(issuer.action(amount_minor=900), method, path, body)
    return proof_headers(issuer.proof(action, **options), action)


def test_a_bound_proof_lets_the_request_through_with_its_body() -> None:
    issuer = Issuer()
    app = ProofMiddleware(echo, issuer.verifier(), action_type="purchase")
    response = call(app, "POST", "/orders?x=1", BODY, signed(issuer, "POST", "/orders?x=1", BODY))
    assert response.status_code == 200, response.text
    assert response.json() == {"body": BODY.decode(), "decision": "d-1"}


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("POST", "/orders", b'{"sku":"car","quantity":2}', "PROOF_REQUEST_MISMATCH"),
        ("POST", "/refunds", BODY, "PROOF_REQUEST_MISMATCH"),
        ("PUT", "/orders", BODY, "PROOF_REQUEST_MISMATCH"),
    ],
)
def test_a_proof_bound_to_another_request_is_refused(
    method: str, path: str, body: bytes, code: str
) -> None:
    issuer = Issuer()
    app = ProofMiddleware(echo, issuer.verifier(), action_type="purchase")
    response = call(app, method, path, body, signed(issuer, "POST", "/orders", BODY))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == code


def test_no_proof_is_401_with_the_envelope() -> None:
    app = ProofMiddleware(echo, Issuer().verifier(), action_type="purchase")
    response = call(app, "POST", "/orders", BODY, {})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "PROOF_REQUIRED"
    assert response.headers["www-authenticate"].startswith("OpenLeash-Proof")


def test_a_replayed_proof_is_refused() -> None:
    issuer = Issuer()
    app = ProofMiddleware(echo, issuer.verifier(), action_type="purchase")
    headers = signed(issuer, "POST", "/orders", BODY)
    assert call(app, "POST", "/orders", BODY, headers).status_code == 200
    again = call(app, "POST", "/orders", BODY, headers)
    assert again.status_code == 403
    assert again.json()["error"]["code"] == "PROOF_REPLAYED"


def test_wrong_action_type_and_bad_action_header() -> None:
    issuer = Issuer()
    app = ProofMiddleware(echo, issuer.verifier(), action_type="refund")
    response = call(app, "POST", "/orders", BODY, signed(issuer, "POST", "/orders", BODY))
    assert response.json()["error"]["code"] == "PROOF_ACTION_MISMATCH"
    headers = {**signed(issuer, "POST", "/orders", BODY), "X-OpenLeash-Action": "%%%"}
    assert call(app, "POST", "/orders", BODY, headers).status_code == 403


def test_unprotected_paths_pass_and_big_bodies_are_refused() -> None:
    issuer = Issuer()
    app = ProofMiddleware(
        echo,
        issuer.verifier(),
        action_type="purchase",
        protect=lambda scope: scope["path"].startswith("/orders"),
        max_body=10,
    )
    assert call(app, "GET", "/health", b"", {}).json() == {"body": "", "decision": None}
    response = call(app, "POST", "/orders", BODY, signed(issuer, "POST", "/orders", BODY))
    assert response.status_code == 413


def test_without_binding_only_the_proof_is_checked() -> None:
    issuer = Issuer()
    app = ProofMiddleware(echo, issuer.verifier(), action_type="purchase", bind=False)
    response = call(app, "POST", "/x", b"anything", proof_headers(issuer.proof()))
    assert response.status_code == 200


# -- FastAPI ---------------------------------------------------------------------------------


def shop(verifier: ProofVerifier, *, middleware: bool = False) -> FastAPI:
    app = FastAPI()
    install(app, verifier)

    @app.post("/orders")
    async def order(
        request: Request, proof: Annotated[VerifiedProof, Depends(require_proof("purchase"))]
    ) -> dict[str, Any]:
        return {
            "decision": proof.decision_id,
            "amount": proof.payload["amount_minor"],
            "body": (await request.body()).decode(),
        }

    @app.post("/refunds")
    async def refund(
        proof: Annotated[VerifiedProof, Depends(require_proof("refund"))],
    ) -> dict[str, Any]:
        return {"decision": proof.decision_id}

    @app.post("/state")
    async def state(request: Request) -> dict[str, Any]:
        return {"decision": request.state.openleash_proof.decision_id}

    if middleware:
        app.add_middleware(ProofMiddleware, verifier=verifier, action_type="purchase")
    return app


def test_require_proof_verifies_and_returns_the_proof() -> None:
    issuer = Issuer()
    app = shop(issuer.verifier())
    response = call(app, "POST", "/orders", BODY, signed(issuer, "POST", "/orders", BODY))
    assert response.status_code == 200, response.text
    assert response.json() == {"decision": "d-1", "amount": 900, "body": BODY.decode()}
    again = call(app, "POST", "/orders", BODY, signed(issuer, "POST", "/orders", BODY))
    assert again.status_code == 403
    assert again.json() == {
        "error": {"code": "PROOF_REPLAYED", "message": "this proof has already been used"}
    }


def test_require_proof_refuses_with_the_envelope() -> None:
    issuer = Issuer()
    app = shop(issuer.verifier())
    missing = call(app, "POST", "/orders", BODY, {})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "PROOF_REQUIRED"
    wrong_type = call(app, "POST", "/refunds", BODY, signed(issuer, "POST", "/refunds", BODY))
    assert wrong_type.status_code == 403
    assert wrong_type.json()["error"]["code"] == "PROOF_ACTION_MISMATCH"


def test_behind_the_middleware_the_dependency_reuses_its_verdict() -> None:
    issuer = Issuer()
    app = shop(issuer.verifier(), middleware=True)
    response = call(app, "POST", "/orders", BODY, signed(issuer, "POST", "/orders", BODY))
    assert response.status_code == 200, response.text  # verified once: not a replay
    state = call(
        app, "POST", "/state", b"", signed(issuer, "POST", "/state", b"", decision_id="d-3")
    )
    assert state.json() == {"decision": "d-3"}
    refused = call(
        app, "POST", "/refunds", BODY, signed(issuer, "POST", "/refunds", BODY, decision_id="d-2")
    )
    assert refused.json()["error"]["code"] == "PROOF_ACTION_MISMATCH"


def test_require_proof_without_install_is_a_programming_error() -> None:
    app = FastAPI()

    @app.get("/x")
    async def x(proof: Annotated[VerifiedProof, Depends(require_proof("purchase"))]) -> None:
        pass

    with pytest.raises(RuntimeError, match="install"):
        call(app, "GET", "/x", b"", {})


# -- what a proof authorizes: its action type and its counterparty --------------------------


def test_a_middleware_expecting_one_action_type_refuses_a_proof_for_another() -> None:
    issuer = Issuer()
    app = ProofMiddleware(echo, issuer.verifier(), action_type="refund")
    action = bind_request(issuer.action("purchase", amount_minor=9), "POST", "/refunds", BODY)
    response = call(app, "POST", "/refunds", BODY, proof_headers(issuer.proof(action), action))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PROOF_ACTION_MISMATCH"


def test_an_action_type_chosen_per_request_fails_closed_when_there_is_none() -> None:
    issuer = Issuer()
    types = {"/orders": "purchase"}
    app = ProofMiddleware(echo, issuer.verifier(), action_type=lambda s: types.get(s["path"]))
    ok = call(app, "POST", "/orders", BODY, signed(issuer, "POST", "/orders", BODY))
    assert ok.status_code == 200, ok.text
    other = signed(issuer, "POST", "/other", BODY, decision_id="d-2")
    refused = call(app, "POST", "/other", BODY, other)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "PROOF_ACTION_MISMATCH"


@pytest.mark.parametrize("missing", [None, ""])
def test_the_middleware_and_the_dependency_need_an_action_type(missing: object) -> None:
    verifier = Issuer().verifier()
    with pytest.raises(TypeError):
        ProofMiddleware(echo, verifier)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="action_type"):
        ProofMiddleware(echo, verifier, action_type=missing)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        require_proof()  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="action_type"):
        require_proof(missing)  # type: ignore[arg-type]
    app = FastAPI()
    app.add_middleware(ProofMiddleware, verifier=verifier, action_type=missing)
    with pytest.raises(ValueError, match="action_type"):
        app.build_middleware_stack()


def counterparty_request(issuer: Issuer, counterparty: str) -> dict[str, str]:
    action = issuer.action(counterparty=counterparty, amount_minor=900)
    action = bind_request(action, "POST", "/orders", BODY)
    return proof_headers(issuer.proof(action), action)


@pytest.mark.parametrize("middleware", [True, False])
def test_a_proof_for_another_counterparty_is_refused_by_the_shop(middleware: bool) -> None:
    issuer = Issuer()
    app: ASGIApp = shop(issuer.verifier(audience="shop.example"), middleware=middleware)
    response = call(app, "POST", "/orders", BODY, counterparty_request(issuer, "bank.example"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PROOF_COUNTERPARTY_MISMATCH"
    accepted = call(app, "POST", "/orders", BODY, counterparty_request(issuer, "shop.example"))
    assert accepted.status_code == 200, accepted.text


def test_the_dependency_checks_the_counterparty_behind_another_verifiers_middleware() -> None:
    issuer = Issuer()
    app = shop(issuer.verifier(audience="bank.example"))
    app.add_middleware(
        ProofMiddleware, verifier=issuer.verifier(audience="bank.example"), action_type="purchase"
    )
    install(app, issuer.verifier(audience="shop.example"))
    response = call(app, "POST", "/orders", BODY, counterparty_request(issuer, "bank.example"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PROOF_COUNTERPARTY_MISMATCH"
