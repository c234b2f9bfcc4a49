"""The error tree: kinds carry wire codes, the API alone maps them to statuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openleash.api.errors import STATUS_BY_CODE, status_for_code, status_of
from openleash.domain import errors

SRC = Path(__file__).resolve().parents[2] / "src" / "openleash"
_RAISED = re.compile(r"\b([A-Z][A-Za-z]*Error)\(\s*\"([A-Z][A-Z0-9_]+)\"")

KINDS = [
    (errors.InvalidInputError, 400),
    (errors.AuthenticationError, 401),
    (errors.ForbiddenError, 403),
    (errors.NotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.TooManyRequestsError, 429),
    (errors.InternalError, 500),
    (errors.UnavailableError, 503),
    (errors.StoreUnavailableError, 503),
]


#: Packages with their own errors, outside the server's tree: the client SDK and the
#: counterparty verifier (they run in other people's processes).
_OWN_ERRORS = ("client", "verify")


def _raised_codes() -> dict[str, set[str]]:
    """Every wire code a kind of the tree is constructed with in the server's source."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        if path.relative_to(SRC).parts[0] in _OWN_ERRORS:
            continue
        for kind, code in _RAISED.findall(path.read_text(encoding="utf-8")):
            if hasattr(errors, kind):  # not purpose-marking subclasses (SecondFactorError)
                found.setdefault(code, set()).add(kind)
    return found


def test_every_code_raised_in_the_source_has_a_status() -> None:
    codes = _raised_codes()
    assert len(codes) > 50  # the scan sees the tree's raises
    missing = sorted(code for code in codes if code not in STATUS_BY_CODE)
    assert missing == []


def test_a_code_is_always_raised_as_the_same_kind() -> None:
    """Clients branch on codes, edges on kinds: one code must not be two kinds."""
    mixed = {code: kinds for code, kinds in _raised_codes().items() if len(kinds) > 1}
    assert mixed == {}


@pytest.mark.parametrize(("kind", "status"), KINDS)
def test_a_code_the_table_does_not_name_gets_its_kinds_status(
    kind: type[errors.OpenLeashError], status: int
) -> None:
    assert status_of(kind("SOMETHING_NEW", "new")) == status
    assert status_for_code("SOMETHING_NEW") == 500


def test_the_table_keeps_the_typescript_status_of_older_codes() -> None:
    # A missing challenge is a 400 in the TypeScript server, though it is a "not found" kind.
    assert status_of(errors.InvalidInputError("CHALLENGE_NOT_FOUND", "gone")) == 400
    assert status_of(errors.AuthenticationError("AGENT_NOT_FOUND", "who")) == 401


def test_the_base_cannot_be_raised_and_codes_are_upper_snake_case() -> None:
    with pytest.raises(TypeError):
        errors.OpenLeashError("NOT_FOUND", "which kind?")
    with pytest.raises(ValueError, match="UPPER_SNAKE_CASE"):
        errors.NotFoundError("not found", "a message where the code goes")


def test_the_envelope_carries_code_message_and_details() -> None:
    error = errors.TooManyRequestsError("RATE_LIMITED", "slow down", {"retry_after_seconds": 3})
    assert error.to_wire() == {
        "error": {
            "code": "RATE_LIMITED",
            "message": "slow down",
            "details": {"retry_after_seconds": 3},
        }
    }
