"""Anchored patterns match whole strings: Python's ``$`` also matches before a final newline,
so ``pattern.match("...\\n")`` would let a trailing newline through."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openleash.domain.action import parse_action
from openleash.domain.errors import InvalidInputError

SRC = Path(__file__).resolve().parents[2] / "src" / "openleash"
_ANCHORED = re.compile(r"^(_?[A-Z][A-Z0-9_]*)(?:: Final)? = re\.compile\(\s*r?\"\^[^\n]*\$\"", re.M)

ACTION = {
    "action_id": "00000000-0000-0000-0000-000000000001",
    "action_type": "purchase",
    "requested_at": "2026-01-01T00:00:00.000Z",
    "principal": {"agent_id": "a"},
    "subject": {"principal_id": "00000000-0000-0000-0000-000000000002"},
    "payload": {},
}


def test_anchored_patterns_are_only_used_to_match_whole_strings() -> None:
    checked = 0
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for name in _ANCHORED.findall(text):
            checked += 1
            partial = re.findall(rf"\b{name}\.(match|search)\(", text)
            assert partial == [], f"{path.name}: {name}.{partial[0]}() lets a final newline in"
    assert checked >= 3  # the scan sees the anchored patterns


@pytest.mark.parametrize("field", ["action_id", "subject"])
def test_a_uuid_with_a_trailing_newline_is_refused(field: str) -> None:
    action = dict(ACTION)
    if field == "subject":
        action["subject"] = {"principal_id": ACTION["subject"]["principal_id"] + "\n"}  # type: ignore[index]
    else:
        action["action_id"] = ACTION["action_id"] + "\n"
    with pytest.raises(InvalidInputError) as caught:
        parse_action(action)
    assert caught.value.code == "INVALID_ACTION_REQUEST"
    assert parse_action(ACTION)["action_id"] == ACTION["action_id"]
