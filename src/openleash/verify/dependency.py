"""FastAPI: ``Depends(require_proof(action_type="purchase"))`` on the routes agents call.

``install(app, verifier)`` once: it stores the verifier on the application and renders a
refused proof as the OpenLeash error envelope (401/403). Behind :class:`ProofMiddleware` the
dependency reuses the proof the middleware verified, checking again its action type (and its
counterparty, against the dependency's verifier when it has one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from openleash.client.actions import ACTION_HEADER, PROOF_HEADER
from openleash.verify.asgi import presented_action, proof_of, rejection_response, request_of
from openleash.verify.errors import PROOF_ACTION_MISMATCH, PROOF_REQUIRED, ProofRejected
from openleash.verify.verifier import ProofVerifier, VerifiedProof, expected_action_type

__all__ = ["install", "require_proof"]

STATE_KEY = "openleash_verifier"


async def _rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProofRejected)  # noqa: S101 - registered for this class only
    status, headers, _ = rejection_response(exc)
    extra = {k.decode(): v.decode() for k, v in headers if k == b"www-authenticate"}
    return JSONResponse(exc.to_wire(), status_code=status, headers=extra)


def install(app: FastAPI, verifier: ProofVerifier | None = None) -> None:
    """Answer :class:`ProofRejected` with the error envelope, and make ``verifier`` the one
    :func:`require_proof` uses when it is given none."""
    if verifier is not None:
        setattr(app.state, STATE_KEY, verifier)
    app.add_exception_handler(ProofRejected, _rejected)


def require_proof(
    action_type: str,
    *,
    verifier: ProofVerifier | None = None,
    bind: bool = True,
    header: str = PROOF_HEADER,
    action_header: str = ACTION_HEADER,
) -> Callable[[Request], Awaitable[VerifiedProof]]:
    """A dependency that verifies the request's proof (for ``action_type``, required, bound to
    this request unless ``bind=False``) and returns the :class:`VerifiedProof`."""
    action_type = expected_action_type(action_type)

    async def dependency(request: Request) -> VerifiedProof:
        if ProofRejected not in request.app.exception_handlers:
            raise RuntimeError("call openleash.verify.install(app) before using require_proof")
        chosen = verifier or getattr(request.app.state, STATE_KEY, None)
        done = proof_of(request.scope)
        if done is not None:
            if isinstance(chosen, ProofVerifier):
                chosen.check_scope(done.claims, action_type)
            elif done.action_type != action_type:
                raise ProofRejected(
                    PROOF_ACTION_MISMATCH,
                    f"the proof is for {done.action_type!r}, not {action_type!r}",
                )
            return done
        if not isinstance(chosen, ProofVerifier):
            raise RuntimeError("no ProofVerifier: pass one, or to openleash.verify.install(app)")
        token = request.headers.get(header)
        if not token:
            raise ProofRejected(PROOF_REQUIRED, f"this request needs an OpenLeash proof ({header})")
        body = await request.body() if bind else b""
        return await chosen.averify(
            token.strip(),
            action=presented_action(request.headers.get(action_header)),
            action_type=action_type,
            request=request_of(request.scope, body) if bind else None,
        )

    return dependency
