"""Wire models of the routes anyone may call."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from openleash.api.wire.common import WireModel


class VerifyProofRequest(WireModel):
    token: str = Field(
        description="The proof token (PASETO v4.public) an agent presented.",
        examples=["v4.public.eyJ..."],
    )
    expected_action_hash: str | None = Field(
        default=None,
        description="If given, the proof must be for this action (SHA-256 hex of the "
        "canonical action).",
    )
    expected_agent_id: str | None = Field(
        default=None, description="If given, the proof must be of this agent."
    )


class VerifyProofResponse(BaseModel):
    valid: bool = Field(description="Whether the token is a valid, unexpired proof.")
    reason: str | None = Field(
        default=None,
        description="Why it is not valid (absent when valid).",
        examples=["Token expired", "action_hash mismatch"],
    )
    claims: dict[str, Any] | None = Field(
        default=None, description="The token's claims, when it could be read."
    )
