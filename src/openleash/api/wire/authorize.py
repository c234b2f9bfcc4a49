"""Wire models of ``POST /v1/authorize``, and the path's place in the OpenAPI document.

The path is served by the ASGI handler of :mod:`openleash.api.fastpath`, which decodes requests
by hand (it is the hot path) and is no FastAPI route: these models describe what it reads and
writes, :func:`add_to_openapi` puts them in the generated document, and the tests check that the
official vectors' request and real answers of the server validate against their JSON schemas.

Request models keep unknown fields (the server strips them before hashing the action); answer
models forbid them, so a field the server starts to send cannot go undocumented.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from openleash.api.errors import status_for_code
from openleash.api.http import MAX_BODY
from openleash.api.wire.common import (
    AGENT,
    SECURITY_SCHEMES,
    STATUS_MEANING,
    ErrorEnvelope,
    WireModel,
    object_at,
)
from openleash.api.wire.fields import AnyJsonObject, Omitted, omittable
from openleash.domain.action import UUID_RE
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import Result
from openleash.service.agent_auth import MAX_HEADER_LENGTH

PATH: Final = "/v1/authorize"
_REF = "#/components/schemas/{model}"
_UUID = UUID_RE.pattern

# ---- the request ----------------------------------------------------------------------------


class ActionPrincipal(WireModel):
    agent_id: str = Field(
        min_length=1,
        description="The acting agent's id: must equal the X-Agent-Id that signs the request.",
        examples=["test-agent"],
    )


class ActionSubject(WireModel):
    principal_id: str = Field(
        pattern=_UUID,
        description="Whom the action is done for: an id in 8-4-4-4-12 hex UUID form.",
        examples=["00000000-0000-0000-0000-000000000002"],
    )


class ActionRelyingParty(WireModel):
    rp_id: Annotated[str, StringConstraints(pattern=_UUID)] | Omitted = omittable(
        "The relying party's id (a UUID)."
    )
    domain: str | Omitted = omittable(
        "The service the action deals with; policies may judge its trust.",
        examples=["example.com"],
    )
    trust_profile: Literal["LOW", "MEDIUM", "HIGH", "REGULATED"] | Omitted = omittable(
        "What the relying party asks for: HIGH and REGULATED always get a proof.",
        examples=["LOW"],
    )


class ActionRequest(WireModel):
    """An action an agent wants to take (an ActionRequest).

    Unknown fields are accepted and removed (at the top level and in ``principal``,
    ``subject`` and ``relying_party``) before the action hash is computed; ``payload`` is kept
    as sent."""

    action_id: str = Field(
        pattern=_UUID,
        description="The agent's id for this action (8-4-4-4-12 hex UUID form).",
        examples=["00000000-0000-0000-0000-000000000001"],
    )
    action_type: str = Field(
        min_length=1,
        description="What the agent wants to do; policy rules match it (`purchase`, `payment.*`).",
        examples=["purchase"],
    )
    requested_at: str = Field(
        description="When the agent asked, as it says (kept and hashed, not interpreted).",
        examples=["2024-01-15T10:30:00.000Z"],
    )
    principal: ActionPrincipal = Field(description="Who acts.")
    subject: ActionSubject = Field(description="For whom.")
    relying_party: ActionRelyingParty | Omitted = omittable(
        "The service the action is done at, if any."
    )
    payload: AnyJsonObject = Field(
        description="The action's details (any JSON object). Limits read `amount_minor` and "
        "`currency`; the counterparty is `merchant_domain` or `domain`.",
        examples=[{"amount_minor": 5000, "currency": "USD", "merchant_domain": "example.com"}],
    )


class AuthorizeRequest(ActionRequest):
    """An ActionRequest, with the approval token of an owner's approval when there is one."""

    approval_token: str | None = Field(
        default=None,
        description="The token of an approved approval request for this very action (the "
        "same action_id and requested_at): the owner's approval lets it through.",
    )


# ---- the decision ---------------------------------------------------------------------------


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionObligation(_Answer):
    obligation_id: str = Field(description="A new id for this obligation.")
    type: str = Field(
        description="What must happen first: HUMAN_APPROVAL, STEP_UP_AUTH, DEPOSIT, or "
        "COUNTERPARTY_ATTESTATION (listed with an ALLOW; it holds nothing back).",
        examples=["HUMAN_APPROVAL"],
    )
    status: Literal["PENDING"] = Field(description="Always PENDING in a decision.")
    details_json: AnyJsonObject = Field(
        description="The rule's parameters of the obligation; STEP_UP_AUTH has "
        "`min_assurance_level`.",
        examples=[{}, {"min_assurance_level": "SUBSTANTIAL"}],
    )


class DecisionLimit(_Answer):
    """What one limit of the allowing rule counted, this action included."""

    kind: Literal["spend", "count"] = Field(description="A budget or a rate limit.")
    max: float = Field(description="The limit: minor units for spend, actions for count.")
    used: float = Field(description="Used in the window before this action.")
    this: float = Field(description="What this action adds (1 for count).")
    remaining: float = Field(description="max - used - this.")
    window: str = Field(description="The window as the policy writes it.", examples=["24h"])
    per: Literal["agent", "owner"] = Field(description="Whose actions count.")
    by: dict[str, str] = Field(
        description="The values actions are counted separately by (currency, counterparty, "
        "action_type).",
        examples=[{"currency": "USD"}],
    )


class DecisionApproval(_Answer):
    """The owner's approval a decision used up (the approval-token path)."""

    approval_request_id: str
    approved_by: str | None = Field(description="The owner who approved.")
    approved_at: str | None = Field(description="When (ISO-8601, UTC).")
    assurance_level: str | None = Field(
        description="How surely the owner confirmed (a step-up's level), if stated."
    )


class AuthorizeResponse(_Answer):
    """The decision: HTTP 200 whatever the result. Fields in this order; the first nine are
    the OpenLeash wire format, the rest this server's extensions."""

    decision_id: str = Field(description="The id of this decision (in the audit log and proof).")
    action_id: str = Field(description="The request's action_id.")
    action_hash: str = Field(
        pattern="^[0-9a-f]{64}$",
        description="SHA-256 (hex) of the RFC 8785 canonical JSON of the action, unknown "
        "fields removed.",
        examples=["5fed50d1afcf598480f64ca09edb042a8a09c6b33c8712e3faeeea2aa1d4297d"],
    )
    result: Result = Field(description="The decision.")
    matched_rule_id: str | None = Field(
        description="The rule that decided; null when the default did (or an approval)."
    )
    reason: str = Field(
        description="Why, in fixed words.",
        examples=['Allowed by rule "small_purchases"', "No rule matched; default policy: deny"],
    )
    proof_token: str | None = Field(
        description="For an ALLOW that needs one: a PASETO v4.public proof the counterparty "
        "verifies (POST /v1/verify-proof, or offline with GET /v1/public-keys).",
    )
    proof_expires_at: str | None = Field(description="When the proof expires (ISO-8601, UTC).")
    obligations: list[DecisionObligation] = Field(description="What must happen before the action.")
    risk_level: Literal["low", "medium", "high", "critical"] | None = Field(
        description="The action's risk class under the policy; null only when evaluation "
        "failed (and denied)."
    )
    limits: list[DecisionLimit] | Omitted = omittable(
        "With an ALLOW under limits: what each limit counted."
    )
    explanation: str | Omitted = omittable(
        "With a result other than ALLOW: why, in the owner's terms.",
    )
    approval: DecisionApproval | Omitted = omittable(
        "With an ALLOW by an owner's approval: whose, and when."
    )


# ---- refusals -------------------------------------------------------------------------------

#: Every error code the path answers, and when. The status of each is the status table's
#: (:mod:`openleash.api.errors`), so the document cannot disagree with the server.
ERRORS: Final[dict[str, str]] = {
    "INVALID_REQUEST": "Content-Length is not a whole number, the body never arrived, or a "
    "signing header (or Content-Length) is sent twice.",
    "HEADER_TOO_LONG": "A signing header is longer than its limit.",
    "MISSING_BODY": "There is no body.",
    "INVALID_JSON": "The body is not a JSON object.",
    "INVALID_ACTION_REQUEST": "The body is no ActionRequest: `details.fieldErrors` says why.",
    "INVALID_POLICY": "A stored policy bound to the agent no longer parses.",
    "APPROVAL_REQUEST_NOT_FOUND": "The approval token names no approval request.",
    "INVALID_APPROVAL_STATUS": "The approval request is not APPROVED.",
    "APPROVAL_TOKEN_CONSUMED": "The approval was used already.",
    "ACTION_HASH_MISMATCH": "The action is not the approved one: send it identically.",
    "MISSING_HEADERS": "A signing header is missing or empty.",
    "TIMESTAMP_SKEW": "X-Timestamp is unreadable or too far from the server's clock.",
    "BODY_HASH_MISMATCH": "X-Body-Sha256 is not the SHA-256 of the body.",
    "AGENT_NOT_FOUND": "No agent has this X-Agent-Id.",
    "AGENT_INACTIVE": "The agent is revoked.",
    "INVALID_SIGNATURE": "X-Signature does not verify with the agent's key.",
    "NONCE_REPLAY": "X-Nonce was used already (within its lifetime).",
    "INVALID_APPROVAL_TOKEN": "approval_token is not a valid, unexpired approval token.",
    "AGENT_PENDING": "The agent awaits its owner's activation.",
    "AGENT_MISMATCH": "principal.agent_id is not the signing agent, or the approval was "
    "given to another agent.",
    "NO_POLICY": "No policy is bound to the agent or its owner.",
    "POLICY_NOT_FOUND": "A bound policy was deleted meanwhile.",
    "PAYLOAD_TOO_LARGE": f"The body exceeds {MAX_BODY} bytes.",
    "RATE_LIMITED": "Too many failed authentications from this address; see Retry-After.",
    "INTERNAL_ERROR": "A fault of the server.",
    "STORE_UNAVAILABLE": "The store did not answer in time; nothing was recorded.",
    # Answered by the HTTP protocol (api/protocol.py) before the handler, as for any route.
    "HEADERS_TOO_LARGE": "The request head is larger than the server's limit.",
}


def error_statuses() -> dict[int, list[str]]:
    """The documented error statuses, each with its codes."""
    found: dict[int, list[str]] = {}
    for code in ERRORS:
        found.setdefault(status_for_code(code), []).append(code)
    return dict(sorted(found.items()))


# ---- the document ---------------------------------------------------------------------------

_SIGNING_HEADERS: Final[tuple[tuple[str, str, str], ...]] = (
    ("X-Agent-Id", "The agent's id (not its agent_principal_id).", "test-agent"),
    (
        "X-Timestamp",
        "Now, as ISO-8601 UTC with milliseconds; within the server's clock skew.",
        "2024-01-15T10:30:00.000Z",
    ),
    (
        "X-Nonce",
        "A value the agent never sent before (a UUID): a second use is NONCE_REPLAY.",
        "00000000-0000-0000-0000-000000000099",
    ),
    (
        "X-Body-Sha256",
        "Lower-case hex SHA-256 of the exact body bytes.",
        "a97d394c6e93281642c4474a76cccf45f3420890cd59a22ee92c44c37baa8f3a",
    ),
    (
        "X-Signature",
        "Base64 Ed25519 signature, by the agent's key, of the UTF-8 signing input "
        "`POST\\n/v1/authorize\\n{X-Timestamp}\\n{X-Nonce}\\n{X-Body-Sha256}`.",
        "HNHsMIwklM+UNzN4oYot/alSixP2Mw9HXAunmdftUfPJ3BYX/PFZcMvjh8u/aqWtCel5IxvmVmp5oq+xqLaFBw==",
    ),
)

_DESCRIPTION = (
    "Decide one action of a signed agent under the policies bound to it (or its owner), record "
    "the decision in the audit log, and for an ALLOW that needs one issue a proof token. Every "
    "decision is HTTP 200 with its `result`; refusals of the request are errors."
)


def _ref(model: type[BaseModel]) -> JsonObject:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(schema: JsonObject) -> JsonObject:
    return {"application/json": {"schema": schema}}


def _refusal(status: int, codes: list[str]) -> JsonObject:
    lines = "\n".join(f"- `{code}`: {ERRORS[code]}" for code in codes)
    answer: JsonObject = {
        "description": f"{STATUS_MEANING[status]}\n\n{lines}",
        "content": _json(_ref(ErrorEnvelope)),
    }
    if status == 429:
        answer["headers"] = {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        }
    return answer


def operation() -> JsonObject:
    """The OpenAPI operation of ``POST /v1/authorize``."""
    responses: JsonObject = {
        "200": {"description": "The decision.", "content": _json(_ref(AuthorizeResponse))}
    }
    for status, codes in error_statuses().items():
        responses[str(status)] = _refusal(status, codes)
    return {
        "tags": ["agent"],
        "summary": "Ask whether an action may go ahead",
        "description": _DESCRIPTION,
        "operationId": "authorize",
        "security": [{scheme: list(scopes) for scheme, scopes in r.items()} for r in AGENT],
        "parameters": [
            {
                "name": name,
                "in": "header",
                "required": True,
                "description": description,
                "schema": {"type": "string", "maxLength": MAX_HEADER_LENGTH[name.lower()]},
                "example": example,
            }
            for name, description, example in _SIGNING_HEADERS
        ],
        "requestBody": {"required": True, "content": _json(_ref(AuthorizeRequest))},
        "responses": responses,
    }


def add_to_openapi(document: JsonObject) -> JsonObject:
    """``document`` with the path, the schemas of its models and the agents' security scheme
    (each added once: a document that has the path already is returned as it is)."""
    paths = object_at(document, "paths")
    if PATH in paths:
        return document
    paths[PATH] = {"post": operation()}
    components = object_at(document, "components")
    schemas = object_at(components, "schemas")
    for model in (AuthorizeRequest, AuthorizeResponse, ErrorEnvelope):
        schema = model.model_json_schema(ref_template=_REF)
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas.setdefault(model.__name__, schema)
    schemes = object_at(components, "securitySchemes")
    schemes.setdefault("agentSignature", SECURITY_SCHEMES["agentSignature"])
    return document
