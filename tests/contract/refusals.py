"""What a single-use port raises when the single use is lost: the kind and the wire code."""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import contextmanager

import pytest

from openleash.domain.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    OpenLeashError,
)

#: The kind of error each code of the single-use ports comes as.
KINDS: dict[str, type[OpenLeashError]] = {
    "NONCE_REPLAY": AuthenticationError,
    "INVITE_USED": InvalidInputError,
    "INVITE_NOT_FOUND": NotFoundError,
    "APPROVAL_TOKEN_CONSUMED": InvalidInputError,
    "REQUEST_EXPIRED": InvalidInputError,
    "INVALID_STATUS": InvalidInputError,
}


@contextmanager
def refused(code: str) -> Iterator[None]:
    """The block raises the error of ``code``, of its kind."""
    with pytest.raises(KINDS[code]) as caught:
        yield
    assert caught.value.code == code


async def outcome(use: Awaitable[None]) -> str:
    """``"ok"`` when ``use`` returns, else the wire code of what it raised (for races)."""
    try:
        await use
    except OpenLeashError as exc:
        return exc.code
    return "ok"
