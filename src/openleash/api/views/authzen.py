"""The JSON of AuthZEN answers (documented by :mod:`openleash.api.wire.authzen`): the decision,
and in its ``context`` the ``/v1/authorize`` response with the ``requested_at`` that, with
``action_id``, names the identical action again."""

from __future__ import annotations

from collections.abc import Mapping

from openleash.api.errors import status_for_code
from openleash.api.views.authorize import decision_json
from openleash.service.authzen import AccessAnswers, AccessDecision, Undecided


def access_json(answer: AccessDecision) -> dict[str, object]:
    """``POST /access/v1/evaluation``."""
    authorized = answer.authorized
    context = {**decision_json(authorized), "requested_at": authorized.request.requested_at}
    return {"decision": answer.decision, "context": context}


def undecided_json(item: Undecided) -> dict[str, object]:
    """An item of a batch that could not be decided, with the HTTP status its error would have
    had as a request of its own."""
    error: Mapping[str, object] = {
        "status": status_for_code(item.code),
        "code": item.code,
        "message": item.message,
    }
    return {"decision": False, "context": {"error": error}}


def evaluations_json(answer: AccessDecision | AccessAnswers) -> dict[str, object]:
    """``POST /access/v1/evaluations``: one answer for a body that is one request."""
    if isinstance(answer, AccessDecision):
        return access_json(answer)
    return {
        "evaluations": [
            access_json(item) if isinstance(item, AccessDecision) else undecided_json(item)
            for item in answer.evaluations
        ]
    }
