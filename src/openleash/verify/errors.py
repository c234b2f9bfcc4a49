"""``ProofRejected``: why a counterparty refuses a request, with the HTTP answer it gets."""

from __future__ import annotations

from openleash.domain.errors import WireError

#: No proof accompanied the request.
PROOF_REQUIRED = "PROOF_REQUIRED"
#: Not a valid proof: bad signature, unknown or revoked key, expired, or another kind of token.
INVALID_PROOF = "INVALID_PROOF"
#: A valid proof, for another action (type or hash) than the one presented.
PROOF_ACTION_MISMATCH = "PROOF_ACTION_MISMATCH"
#: A valid proof for an action with another counterparty (or none) than this service.
PROOF_COUNTERPARTY_MISMATCH = "PROOF_COUNTERPARTY_MISMATCH"
#: A valid proof, issued to another agent than the one expected.
PROOF_AGENT_MISMATCH = "PROOF_AGENT_MISMATCH"
#: A valid proof whose action names another HTTP request (or none) than the one it came with.
PROOF_REQUEST_MISMATCH = "PROOF_REQUEST_MISMATCH"
#: A proof already accepted once: each decision is used once.
PROOF_REPLAYED = "PROOF_REPLAYED"
#: The issuer's keys could not be fetched, so nothing can be verified.
ISSUER_UNAVAILABLE = "ISSUER_UNAVAILABLE"

STATUS: dict[str, int] = {
    PROOF_REQUIRED: 401,
    INVALID_PROOF: 401,
    PROOF_ACTION_MISMATCH: 403,
    PROOF_COUNTERPARTY_MISMATCH: 403,
    PROOF_AGENT_MISMATCH: 403,
    PROOF_REQUEST_MISMATCH: 403,
    PROOF_REPLAYED: 403,
    ISSUER_UNAVAILABLE: 503,
}


class ProofRejected(Exception):  # noqa: N818 - a verdict, named as the docs speak of it
    """A proof that does not let this request through. ``code`` is one of the constants of
    this module; ``status`` the HTTP status to answer with (401: no valid proof, 403: a valid
    proof that does not cover this request, 503: the issuer's keys are out of reach)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = STATUS[code]

    def to_wire(self) -> WireError:
        """The OpenLeash error envelope."""
        return {"error": {"code": self.code, "message": self.message}}

    def __repr__(self) -> str:
        return f"ProofRejected({self.code!r}, {self.message!r})"
