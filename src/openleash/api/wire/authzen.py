"""Wire models of the OpenID AuthZEN Authorization API 1.0 routes.

The mapping of a request onto an OpenLeash action is described in
:mod:`openleash.service.authzen`; the service reads the bodies (its codes and messages are part
of the wire), so the request models document them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from openleash.api.wire.agent import EXAMPLE_DECISION
from openleash.api.wire.authorize import AuthorizeResponse
from openleash.api.wire.common import WireModel
from openleash.api.wire.fields import (
    EXAMPLE_TIME,
    EXAMPLE_UUID,
    AnyJsonObject,
    Omitted,
    omittable,
)
from openleash.api.wire.public import BASE
from openleash.domain.jsonvalue import JsonObject
from openleash.service.authzen import MAX_EVALUATIONS

EvaluationsSemantic = Literal["execute_all", "deny_on_first_deny", "permit_on_first_permit"]


class AuthZenConfiguration(BaseModel):
    """Where this policy decision point answers (AuthZEN metadata)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "policy_decision_point": BASE,
                    "access_evaluation_endpoint": f"{BASE}/access/v1/evaluation",
                    "access_evaluations_endpoint": f"{BASE}/access/v1/evaluations",
                }
            ]
        }
    )

    policy_decision_point: str = Field(description="The server's public URL.", examples=[BASE])
    access_evaluation_endpoint: str = Field(
        description="Where one request is decided.", examples=[f"{BASE}/access/v1/evaluation"]
    )
    access_evaluations_endpoint: str = Field(
        description="Where several are decided.", examples=[f"{BASE}/access/v1/evaluations"]
    )


# -- requests -----------------------------------------------------------------------------------


class AuthZenSubject(WireModel):
    type: str = Field(min_length=1, description="The subject's type.", examples=["agent"])
    id: str = Field(
        min_length=1,
        description="The agent's agent_id; a signed agent may name only itself.",
        examples=["shopping-agent"],
    )


class AuthZenAction(WireModel):
    name: str = Field(min_length=1, description="The action type.", examples=["purchase"])
    properties: AnyJsonObject | Omitted = omittable(
        "Copied into the action's payload.", examples=[{"quantity": 1}]
    )


class AuthZenResource(WireModel):
    type: str = Field(
        min_length=1, description="Becomes payload.resource.type.", examples=["order"]
    )
    id: str = Field(min_length=1, description="Becomes payload.resource.id.", examples=["o-1"])
    properties: AnyJsonObject | Omitted = omittable(
        "Copied into the payload; a `relying_party` object becomes the action's relying party.",
        examples=[{"amount_minor": 2500, "currency": "EUR"}],
    )


class AuthZenContext(WireModel):
    """Known keys below; any other key goes to payload.context."""

    action_id: str | Omitted = omittable(
        "The action's id (a UUID; a new one otherwise): with requested_at, it names the "
        "identical action again, as an approval token needs.",
        examples=[EXAMPLE_UUID],
    )
    requested_at: str | Omitted = omittable(
        "When the action was asked for (now otherwise).", examples=[EXAMPLE_TIME]
    )
    approval_token: str | Omitted = omittable("The owner's approval of this identical action.")
    amount_minor: float | Omitted = omittable(
        "The amount, in minor units, if the resource's properties do not give it.",
        examples=[2500],
    )
    currency: str | Omitted = omittable(
        "The currency, if the resource's properties do not give it.", examples=["EUR"]
    )


EXAMPLE_REQUEST: JsonObject = {
    "subject": {"type": "agent", "id": "shopping-agent"},
    "action": {"name": "purchase"},
    "resource": {"type": "order", "id": "o-1", "properties": {"amount_minor": 2500}},
    "context": {"currency": "EUR"},
}


class EvaluationRequest(WireModel):
    """May this subject do this action on this resource?"""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_REQUEST]})

    subject: AuthZenSubject = Field(description="Who acts: an agent.")
    action: AuthZenAction = Field(description="What it wants to do.")
    resource: AuthZenResource = Field(description="On what.")
    context: AuthZenContext | Omitted = omittable("Anything else the policy may judge.")


class EvaluationItem(WireModel):
    """One request of a batch: each part it gives replaces the batch's part whole."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"resource": {"type": "order", "id": "o-2"}}]}
    )

    subject: AuthZenSubject | Omitted = omittable("Who acts (else the batch's subject).")
    action: AuthZenAction | Omitted = omittable("What (else the batch's action).")
    resource: AuthZenResource | Omitted = omittable("On what (else the batch's resource).")
    context: AuthZenContext | Omitted = omittable("Context (else the batch's context).")


class EvaluationsOptions(WireModel):
    evaluations_semantic: EvaluationsSemantic | Omitted = omittable(
        "When to stop: after every item (default), at the first denial, or at the first permit.",
        examples=["deny_on_first_deny"],
    )


class EvaluationsRequest(EvaluationItem):
    """Several requests at once, decided in order. Without ``evaluations`` (or with an empty
    list) it is one evaluation, answered as ``/access/v1/evaluation`` answers."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": {"type": "agent", "id": "shopping-agent"},
                    "action": {"name": "purchase"},
                    "evaluations": [
                        {"resource": {"type": "order", "id": "o-1"}},
                        {"resource": {"type": "order", "id": "o-2"}},
                    ],
                    "options": {"evaluations_semantic": "execute_all"},
                }
            ]
        }
    )

    evaluations: list[EvaluationItem] | None = Field(
        default=None,
        max_length=MAX_EVALUATIONS,
        description=f"The requests (at most {MAX_EVALUATIONS}); the top-level parts are their "
        "defaults.",
    )
    options: EvaluationsOptions | None = Field(default=None, description="How to evaluate.")


# -- responses ----------------------------------------------------------------------------------


class EvaluationContext(AuthorizeResponse):
    """The OpenLeash decision (as /v1/authorize gives it) and the action's requested_at."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**EXAMPLE_DECISION, "requested_at": EXAMPLE_TIME}]}
    )

    requested_at: str = Field(
        description="The action's requested_at: with action_id, it names the identical "
        "action again (to use an approval).",
        examples=[EXAMPLE_TIME],
    )


EXAMPLE_EVALUATION: JsonObject = {
    "decision": True,
    "context": {**EXAMPLE_DECISION, "requested_at": EXAMPLE_TIME},
}


class EvaluationResponse(BaseModel):
    """The answer: ``decision`` is true only for ALLOW. A denial is an answer, not an error."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_EVALUATION]})

    decision: bool = Field(description="Whether the action may go ahead (result ALLOW).")
    context: EvaluationContext = Field(description="The decision and how to use it.")


class ItemError(BaseModel):
    status: int = Field(description="The HTTP status it would have had alone.", examples=[400])
    code: str = Field(description="The error code.", examples=["INVALID_REQUEST"])
    message: str = Field(
        description="What to fix.", examples=["resource.type must be a non-empty string"]
    )


EXAMPLE_ITEM_ERROR: JsonObject = {
    "error": {
        "status": 400,
        "code": "INVALID_REQUEST",
        "message": "resource.id must be a non-empty string",
    }
}


class ItemErrorContext(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_ITEM_ERROR]})

    error: ItemError = Field(description="Why the item could not be decided.")


class EvaluationResult(BaseModel):
    """One item's answer: a decision, or (decision false) the error that kept it undecided."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [EXAMPLE_EVALUATION, {"decision": False, "context": EXAMPLE_ITEM_ERROR}]
        }
    )

    decision: bool = Field(description="Whether that action may go ahead.")
    context: EvaluationContext | ItemErrorContext = Field(description="The decision, or the error.")


class EvaluationsResponse(BaseModel):
    """The items' answers in order (fewer when a semantic stopped early)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "evaluations": [
                        EXAMPLE_EVALUATION,
                        {"decision": False, "context": EXAMPLE_ITEM_ERROR},
                    ]
                }
            ]
        }
    )

    evaluations: list[EvaluationResult] = Field(description="The answers.")


class EvaluationsAnswer(RootModel[EvaluationsResponse | EvaluationResponse]):
    """The batch's answers, or, for a body without evaluations, the one evaluation's."""
