"""docs/security.md names, for each defence, the tests that prove it: every test file and test
it names must exist, so the page cannot point at a test that was renamed or removed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "security.md"


def _code_spans() -> list[str]:
    return re.findall(r"`([^`]+)`", PAGE.read_text(encoding="utf-8"))


def _defined_tests() -> set[str]:
    names: set[str] = set()
    for source in (ROOT / "tests").rglob("test_*.py"):
        names.update(re.findall(r"^(?:async )?def (test_\w+)", source.read_text(), re.M))
    return names


def test_every_test_file_the_page_names_exists() -> None:
    paths = {span.split("::")[0] for span in _code_spans() if span.startswith("tests/")}
    assert paths, "the page names no test file"
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"docs/security.md names test files that do not exist: {missing}"


def test_every_test_the_page_names_exists() -> None:
    named = {
        re.sub(r"\[.*\]$", "", part.lstrip(":"))
        for span in _code_spans()
        for part in re.split(r"\s*,\s*|::", span)
        if part.lstrip(":").startswith("test_")
    }
    assert len(named) > 20, "the page names too few tests"
    missing = sorted(named - _defined_tests())
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"
