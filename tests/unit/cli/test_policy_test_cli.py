"""`openleash policy test`: several files, JSON output and the exit status."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Cli

PASSING = """\
policy_yaml: |
  version: 1
  default: deny
  rules:
    - { id: books, effect: allow, action: purchase }
cases:
  - name: books are fine
    action: { action_type: purchase }
    expect: { result: ALLOW, rule: books }
"""

FAILING = PASSING.replace("result: ALLOW, rule: books", "result: DENY")


def write(root: Path, name: str, text: str) -> str:
    (root / name).write_text(text)
    return name


def test_every_file_runs_and_any_failure_exits_1(run: Cli) -> None:
    ok = write(run.root, "ok.yaml", PASSING)
    bad = write(run.root, "bad.yaml", FAILING)

    both = run("policy", "test", ok, bad, store=False)
    alone = run("policy", "test", ok, store=False)

    assert both.exit_code == 1
    assert both.output.splitlines()[-1] == "1 passed, 1 failed"
    assert "  FAIL  books are fine  (bad.yaml:7)" in both.output
    assert "          result:  expected DENY" in both.output
    assert "            books  holds  <- decided" in both.output
    assert alone.exit_code == 0
    assert alone.output.endswith("1 passed, 0 failed\n")


def test_json_output(run: Cli) -> None:
    bad = write(run.root, "bad.yaml", FAILING)

    result = run("policy", "test", bad, "missing.yaml", "--json", store=False)

    assert result.exit_code == 1
    first, second = json.loads(result.output)
    assert first["ok"] is False
    (case,) = first["cases"]
    assert case["mismatches"] == [{"field": "result", "expected": "DENY", "got": "ALLOW"}]
    assert case["got"]["rule"] == "books"
    assert second["problems"][0].startswith("missing.yaml: ")


def test_needs_a_file(run: Cli) -> None:
    result = run("policy", "test", store=False)
    assert result.exit_code == 2
    assert "Missing argument 'FILES...'" in result.output
