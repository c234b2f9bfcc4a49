"""The status table: how each wire error becomes an HTTP status.

The domain raises kinds of failure (:mod:`openleash.domain.errors`) carrying a wire code; only
the API decides what HTTP says about them. A code in :data:`STATUS_BY_CODE` keeps the status the
TypeScript OpenLeash gives it (some codes are older than the kinds: a missing challenge is a
400 there); any other code gets its kind's status, so a new code never becomes a 500 by accident.
"""

from __future__ import annotations

from typing import Final

from openleash.domain.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InternalError,
    InvalidInputError,
    NotFoundError,
    OpenLeashError,
    TooManyRequestsError,
    UnavailableError,
)

#: wire code -> HTTP status. Codes and statuses follow the TypeScript OpenLeash where it has one.
STATUS_BY_CODE: Final[dict[str, int]] = {
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

#: The status of a code the table does not name, by kind (most specific kind first).
STATUS_BY_KIND: Final[tuple[tuple[type[OpenLeashError], int], ...]] = (
    (InvalidInputError, 400),
    (AuthenticationError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (TooManyRequestsError, 429),
    (UnavailableError, 503),
    (InternalError, 500),
)


def status_for_code(code: str) -> int:
    """The status of a wire code alone (an error already rendered, as in AuthZEN batches)."""
    return STATUS_BY_CODE.get(code, 500)


def status_of(error: OpenLeashError) -> int:
    """The HTTP status of ``error``: its code's, else its kind's, else 500."""
    status = STATUS_BY_CODE.get(error.code)
    if status is not None:
        return status
    for kind, kind_status in STATUS_BY_KIND:
        if isinstance(error, kind):
            return kind_status
    return 500
