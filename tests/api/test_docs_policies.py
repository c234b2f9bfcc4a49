"""The examples of docs/policies.md, run: each policy is validated and its decisions replayed."""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from openleash.policy import parse_policy
from tests.api.conftest import Api
from tests.api.test_limits import body, only_policy

DOC = Path(__file__).resolve().parents[2] / "docs" / "policies.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)
LINE = re.compile(r"^(\S+)\s+(\S+)\s+(\{.*\})\s+=>\s+(\w+)(?:\s+(\S+))?\s*$")


def examples() -> list[tuple[str, str]]:
    """(policy YAML, decisions text) pairs, in document order."""
    blocks = [(m.group(1), m.group(2).strip(), m.group(3)) for m in FENCE.finditer(DOC.read_text())]
    pairs = []
    for (lang, _, text), (next_lang, next_info, next_text) in itertools.pairwise(blocks):
        if lang == "yaml" and next_lang == "text" and next_info == "decisions":
            pairs.append((text, next_text))
    return pairs


def test_every_policy_block_in_the_doc_is_valid() -> None:
    yaml_blocks = [m.group(3) for m in FENCE.finditer(DOC.read_text()) if m.group(1) == "yaml"]
    assert len(yaml_blocks) >= 8
    for text in yaml_blocks:
        parse_policy(text)


def test_every_policy_block_has_decisions() -> None:
    yaml_blocks = [m for m in FENCE.finditer(DOC.read_text()) if m.group(1) == "yaml"]
    assert len(examples()) == len(yaml_blocks)


@pytest.mark.parametrize(("policy", "decisions"), examples())
def test_doc_example_decides_as_written(api: Api, policy: str, decisions: str) -> None:
    only_policy(api, policy)
    for line in decisions.strip().splitlines():
        match = LINE.match(line)
        assert match, f"unreadable decision line: {line!r}"
        moment, action_type, payload, result, rule = match.groups()
        api.clock.set(datetime.fromisoformat(moment))
        act: dict[str, Any] = api.agent.action(**json.loads(payload))
        act["action_type"] = action_type
        decision = api.signed("POST", "/v1/authorize", body(act)).json()
        assert decision.get("result") == result, (line, decision)
        if rule is not None:
            assert decision["matched_rule_id"] == rule, (line, decision)
