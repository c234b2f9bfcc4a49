"""The error tree: every failure the server reports is one of a few kinds, carrying a wire code.

The kind says what went wrong in terms any caller understands (bad input, who you are, what you
may do, not found, conflict, too many, unavailable, our fault); the code is the stable wire
string clients branch on (``AGENT_NOT_FOUND``, ``NONCE_REPLAY``...). Edges catch kinds, never
compare codes. How a kind or code becomes an HTTP status is the API's business
(:mod:`openleash.api.errors`): nothing here knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NotRequired, TypedDict


class PolicyIssue(TypedDict):
    """One problem of a policy: where (``rules[2].constraints``), what, and the source line."""

    path: str
    message: str
    line: int | None


class WireErrorBody(TypedDict):
    code: str
    message: str
    details: NotRequired[Mapping[str, object]]


class WireError(TypedDict):
    """The error envelope every API answers a failure with."""

    error: WireErrorBody


class OpenLeashError(Exception):
    """A failure with a stable wire ``code``, a ``message`` that says what to fix, and optional
    machine-readable ``details``. Raise one of the kinds below, not this base."""

    def __init__(
        self, code: str, message: str, details: Mapping[str, object] | None = None
    ) -> None:
        if type(self) is OpenLeashError:
            raise TypeError("raise a kind of OpenLeashError (InvalidInputError, ...), not the base")
        if not (code and code.isascii() and code.replace("_", "").isalnum() and code.isupper()):
            raise ValueError(f"wire codes are UPPER_SNAKE_CASE, got {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def to_wire(self) -> WireError:
        body: WireErrorBody = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class InvalidInputError(OpenLeashError):
    """The request itself is wrong: shape, size, media type, a field's value."""


class AuthenticationError(OpenLeashError):
    """The caller could not be told apart from anyone else: missing, bad or replayed credentials."""


class ForbiddenError(OpenLeashError):
    """The caller is known but may not do this (or may not do it from there)."""


class NotFoundError(OpenLeashError):
    """What the request names does not exist, or is not the caller's to see."""


class ConflictError(OpenLeashError):
    """The request clashes with the current state (a name taken, a key still active)."""


class TooManyRequestsError(OpenLeashError):
    """Too many attempts; ``details["retry_after_seconds"]`` says when to come back."""


class UnavailableError(OpenLeashError):
    """The server cannot answer now (store down, policy work saturated); retrying may help."""


class StoreUnavailableError(UnavailableError):
    """The store did not answer in time or refused the connection (``STORE_UNAVAILABLE``)."""


class InternalError(OpenLeashError):
    """A fault of the server, never of the caller."""


class TokenError(AuthenticationError):
    """A PASETO token that does not verify; ``reason`` is the wire-visible explanation."""

    def __init__(self, reason: str, code: str = "INVALID_APPROVAL_TOKEN") -> None:
        super().__init__(code, reason)
        self.reason = reason


class PolicyError(InvalidInputError):
    """A policy that cannot be parsed or does not validate. ``issues`` name place and line."""

    def __init__(self, message: str, issues: list[PolicyIssue] | None = None) -> None:
        details = {"issues": issues} if issues else None
        super().__init__("INVALID_POLICY", message, details)
        self.issues = issues or []


class PolicyTooLargeError(PolicyError):
    """A policy beyond the size bounds of the language (bytes, rules, nesting, strings)."""

    def __init__(self, message: str, issues: list[PolicyIssue]) -> None:
        super().__init__(message, issues)
        self.code = "PAYLOAD_TOO_LARGE"
