"""What the agent SDK raises: one base class, the server's error envelope, and the guard's
outcomes (denied, approval required, approval not granted in time)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from openleash.domain.jsonvalue import JsonValue

if TYPE_CHECKING:
    from openleash.client.actions import ActionRequest
    from openleash.client.models import ApprovalRequest, Decision


class OpenLeashClientError(Exception):
    """Base of every error the SDK raises (``except OpenLeashClientError`` catches them all)."""


class ApiError(OpenLeashClientError):
    """The server answered with its error envelope ``{"error": {"code", "message", "details"}}``.

    ``code`` is the wire code (``NONCE_REPLAY``, ``AGENT_MISMATCH``, ...), ``status`` the HTTP
    status, ``details`` the envelope's details as the server sent them (their shape depends on
    the code; ``None`` without). A response that is not an envelope is reported with code
    ``HTTP_ERROR``.
    """

    def __init__(self, code: str, message: str, status: int, details: JsonValue = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, {self.status})"


class TransportError(OpenLeashClientError):
    """The server could not be reached or did not answer (connection refused, timeout, ...)."""


class ApprovalTimeout(OpenLeashClientError):  # noqa: N818 - reads as an outcome
    """:meth:`Client.wait_for_approval` gave up while the request was still pending."""

    def __init__(self, approval_request_id: str, waited_seconds: float) -> None:
        super().__init__(
            f"approval request {approval_request_id} still pending after {waited_seconds:.1f}s"
        )
        self.approval_request_id = approval_request_id
        self.waited_seconds = waited_seconds


class ActionDenied(OpenLeashClientError):  # noqa: N818 - reads as an outcome
    """The action may not go ahead: the policy said DENY (``decision`` tells which rule and
    why), or the owner refused it (see :class:`ApprovalDenied`)."""

    def __init__(self, message: str, decision: Decision | None, action: ActionRequest) -> None:
        super().__init__(message)
        self.decision = decision
        self.action = action

    @property
    def reason(self) -> str | None:
        return self.decision.reason if self.decision is not None else None

    @property
    def explanation(self) -> str | None:
        return self.decision.explanation if self.decision is not None else None


class ApprovalDenied(ActionDenied):
    """The owner denied the approval request, or it expired unanswered (``status`` says which)."""

    def __init__(
        self, request: ApprovalRequest, decision: Decision | None, action: ActionRequest
    ) -> None:
        detail = f": {request.denial_reason}" if request.denial_reason else ""
        super().__init__(
            f"approval request {request.approval_request_id} is {request.status}{detail}",
            decision,
            action,
        )
        self.request = request
        self.status = request.status


class ApprovalRequired(OpenLeashClientError):  # noqa: N818 - reads as an outcome
    """The policy wants the owner's approval and the guard was told not to wait
    (``on_approval="raise"``). The approval request has been filed: once the owner approves,
    ``client.wait_for_approval(approval_request_id)`` returns it with its approval token, and
    ``client.authorize(action, approval_token=...)`` with this exact ``action`` gets the proof.
    """

    def __init__(
        self, decision: Decision, action: ActionRequest, approval_request_id: str | None
    ) -> None:
        super().__init__(
            f"{decision.result}: {decision.reason or 'the owner must confirm this action'}"
            + (f" (approval request {approval_request_id})" if approval_request_id else "")
        )
        self.decision = decision
        self.action = action
        self.approval_request_id = approval_request_id


class StepUpRequired(ApprovalRequired):
    """Like :class:`ApprovalRequired`, for REQUIRE_STEP_UP: the owner must confirm with a
    second factor (TOTP) when approving."""
