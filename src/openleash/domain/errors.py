"""The one error tree.

Every failure the server reports is an :class:`OpenLeashError` carrying a wire code. The HTTP
status of each code lives in :data:`STATUS`, the single table the API layer renders from.
"""

from __future__ import annotations

from typing import Any

#: wire code -> HTTP status. Codes and statuses follow the TypeScript OpenLeash where it has one.
STATUS: dict[str, int] = {
    # request shape
    "INVALID_REQUEST": 400,
    "INVALID_JSON": 400,
    "INVALID_BODY": 400,
    "VALIDATION_ERROR": 400,
    "INVALID_ACTION_REQUEST": 400,
    "INVALID_POLICY": 400,
    "INVALID_KEY": 400,
    "INVALID_WEBHOOK_URL": 400,
    "MISSING_BODY": 400,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "PAYLOAD_TOO_LARGE": 413,
    "HEADERS_TOO_LARGE": 431,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    # agent authentication
    "MISSING_HEADERS": 401,
    "HEADER_TOO_LONG": 400,
    "TIMESTAMP_SKEW": 401,
    "NONCE_REPLAY": 401,
    "BODY_HASH_MISMATCH": 401,
    "AGENT_NOT_FOUND": 401,
    "AGENT_INACTIVE": 401,
    "INVALID_SIGNATURE": 401,
    # Signed correctly, but enrolled without an invite: its owner has not activated it yet.
    "AGENT_PENDING": 403,
    "AGENT_MISMATCH": 403,
    # registration and invites
    "CHALLENGE_NOT_FOUND": 400,
    "CHALLENGE_EXPIRED": 400,
    "CHALLENGE_MISMATCH": 400,
    "OWNER_NOT_FOUND": 404,
    "AGENT_ID_TAKEN": 409,
    "WEBHOOK_URL_NOT_UNIQUE": 409,
    "ATTRIBUTES_TOO_LARGE": 413,
    "INVITE_NOT_FOUND": 404,
    "INVITE_USED": 400,
    "INVITE_EXPIRED": 400,
    "INVALID_INVITE_TOKEN": 401,
    # policies
    "NO_POLICY": 403,
    "POLICY_NOT_FOUND": 404,
    "POLICY_UNREADABLE": 500,
    # admin
    "ADMIN_UNAUTHORIZED": 401,
    "ADMIN_REQUIRED": 403,
    "USER_NOT_FOUND": 404,
    "KEY_NOT_FOUND": 404,
    "KEY_ACTIVE": 409,
    # approvals (the approval-token path)
    "MISSING_TOKEN": 401,
    "INVALID_SESSION": 401,
    "USER_INACTIVE": 401,
    "INVALID_CREDENTIALS": 401,
    "SETUP_REQUIRED": 401,
    "LOGIN_LOCKED": 429,
    "SECOND_FACTOR_LOCKED": 429,
    "CSRF_FAILED": 403,
    # requests from a browser page that is not this server's (DNS rebinding, cross-site forms)
    "FORBIDDEN_HOST": 421,
    "FORBIDDEN_ORIGIN": 403,
    "FORBIDDEN": 403,
    "TOTP_SETUP_REQUIRED": 403,
    "TOTP_REQUIRED": 403,
    "STEP_UP_REQUIRED": 403,
    "TOTP_NOT_SETUP": 400,
    "TOTP_NOT_ENABLED": 400,
    "TOTP_ALREADY_ENABLED": 409,
    "INVALID_TOTP_CODE": 400,
    "INVALID_STATUS": 400,
    "REQUEST_EXPIRED": 400,
    "INVALID_AGENT": 400,
    "DECISION_NOT_FOUND": 400,
    "DECISION_MISMATCH": 400,
    "APPROVAL_REQUEST_EXISTS": 409,
    "INVALID_APPROVAL_TOKEN": 401,
    "APPROVAL_REQUEST_NOT_FOUND": 400,
    "INVALID_APPROVAL_STATUS": 400,
    "APPROVAL_TOKEN_CONSUMED": 400,
    "ACTION_HASH_MISMATCH": 400,
    # abuse: too many requests from one client address
    "RATE_LIMITED": 429,
    "TOO_MANY_PENDING_AGENTS": 429,
    # server side
    "STORE_UNAVAILABLE": 503,
    "POLICY_TIMEOUT": 503,
    "POLICY_WORK_BUSY": 503,
    "INTERNAL_ERROR": 500,
}


class OpenLeashError(Exception):
    """A failure with a stable wire code; its HTTP status comes from :data:`STATUS`."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        if code not in STATUS:
            # INVARIANT: every code raised anywhere is in the table, so the API never guesses.
            raise KeyError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class TokenError(OpenLeashError):
    """A PASETO token that does not verify; ``reason`` is the wire-visible explanation."""

    def __init__(self, reason: str, code: str = "INVALID_APPROVAL_TOKEN") -> None:
        super().__init__(code, reason)
        self.reason = reason


class PolicyError(OpenLeashError):
    """A policy that cannot be parsed or does not validate. ``issues`` name place and line."""

    def __init__(self, message: str, issues: list[dict[str, Any]] | None = None) -> None:
        details = {"issues": issues} if issues else None
        super().__init__("INVALID_POLICY", message, details)
        self.issues = issues or []


class PolicyTooLargeError(PolicyError):
    """A policy beyond the size bounds of the language (bytes, rules, nesting, strings)."""

    def __init__(self, message: str, issues: list[dict[str, Any]]) -> None:
        super().__init__(message, issues)
        self.code = "PAYLOAD_TOO_LARGE"
