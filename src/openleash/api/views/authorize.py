"""The JSON of a decision: the AuthorizeResponse of ``POST /v1/authorize`` (documented by
:mod:`openleash.api.wire.authorize`), which AuthZEN answers carry too."""

from __future__ import annotations

from openleash.service.authorize import Authorized, DecisionBody, decision_body, provenance


def decision_json(authorized: Authorized) -> DecisionBody:
    """The wire fields in their order, then our extensions; ``approval`` (who approved) when
    the decision used up an owner's approval."""
    body = decision_body(
        authorized.request.action_id,
        authorized.digest,
        authorized.decision_id,
        authorized.evaluation,
        authorized.proof,
    )
    if authorized.approval is not None:
        body["approval"] = provenance(authorized.approval)
    return body
