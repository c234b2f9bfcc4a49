"""Counterparty verification: accept an agent's request only with a valid, unused proof.

:class:`ProofVerifier` checks a proof offline against the issuer's published keys (cached),
its action type, its counterparty (the service's ``audience``), action and agent, the HTTP
request it is bound to, and that its decision is used once (:class:`ReplayCache`).
:class:`ProofMiddleware` applies it to every request of an ASGI application;
:func:`require_proof` to FastAPI routes (after :func:`install`).
"""

from openleash.client.actions import (
    ACTION_HEADER,
    PROOF_HEADER,
    compute_action_hash,
    request_sha256,
    request_target,
)
from openleash.verify.asgi import SCOPE_KEY, ProofMiddleware, proof_of
from openleash.verify.dependency import install, require_proof
from openleash.verify.errors import (
    INVALID_PROOF,
    ISSUER_UNAVAILABLE,
    PROOF_ACTION_MISMATCH,
    PROOF_AGENT_MISMATCH,
    PROOF_COUNTERPARTY_MISMATCH,
    PROOF_REPLAYED,
    PROOF_REQUEST_MISMATCH,
    PROOF_REQUIRED,
    ProofRejected,
)
from openleash.verify.replay import InMemoryReplayCache, ReplayCache
from openleash.verify.sqlite_replay import SQLiteReplayCache
from openleash.verify.verifier import (
    COUNTERPARTY_CLAIM,
    HttpRequest,
    ProofVerifier,
    VerifiedProof,
)

__all__ = [
    "ACTION_HEADER",
    "COUNTERPARTY_CLAIM",
    "INVALID_PROOF",
    "ISSUER_UNAVAILABLE",
    "PROOF_ACTION_MISMATCH",
    "PROOF_AGENT_MISMATCH",
    "PROOF_COUNTERPARTY_MISMATCH",
    "PROOF_HEADER",
    "PROOF_REPLAYED",
    "PROOF_REQUEST_MISMATCH",
    "PROOF_REQUIRED",
    "SCOPE_KEY",
    "HttpRequest",
    "InMemoryReplayCache",
    "ProofMiddleware",
    "ProofRejected",
    "ProofVerifier",
    "ReplayCache",
    "SQLiteReplayCache",
    "VerifiedProof",
    "compute_action_hash",
    "install",
    "proof_of",
    "request_sha256",
    "request_target",
    "require_proof",
]
