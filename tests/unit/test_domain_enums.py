"""The domain's enums stand in for the wire strings, and assurance has one order."""

import orjson
import pytest

from openleash.crypto import canonicalize
from openleash.domain.models import (
    ApprovalStatus,
    AssuranceLevel,
    DraftStatus,
    Result,
    Status,
    assurance_rank,
    strongest_assurance,
)
from openleash.policy.model import ASSURANCE_LEVELS


@pytest.mark.parametrize("enum", [Status, ApprovalStatus, DraftStatus, Result, AssuranceLevel])
def test_members_are_their_wire_strings(enum: type) -> None:
    for member in enum:
        assert member == member.value
        assert orjson.dumps({"s": member}) == orjson.dumps({"s": member.value})
        assert canonicalize({"s": member}) == canonicalize({"s": member.value})


def test_assurance_ranks_in_increasing_strength() -> None:
    ranks = [assurance_rank(level) for level in ("LOW", "SUBSTANTIAL", "HIGH")]
    assert ranks == [0, 1, 2]
    assert ASSURANCE_LEVELS == ("LOW", "SUBSTANTIAL", "HIGH")


def test_absent_or_unknown_assurance_ranks_as_low() -> None:
    assert assurance_rank(None) == assurance_rank("") == assurance_rank("low") == 0
    assert assurance_rank("MEDIUM") == 0


def test_strongest_assurance_ignores_what_is_not_a_level() -> None:
    assert strongest_assurance(["SUBSTANTIAL", None, "HIGH", "LOW"]) is AssuranceLevel.HIGH
    assert strongest_assurance(["LOW", 3, "MEDIUM"]) is AssuranceLevel.LOW
    assert strongest_assurance([None, "high"]) is None
    assert strongest_assurance([]) is None
