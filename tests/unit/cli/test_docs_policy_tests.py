"""The examples of docs/policy-tests.md, run: every named file is written to one folder, and
every ``console`` block is run there with its output compared line for line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from openleash.cli.main import cli

DOC = Path(__file__).resolve().parents[3] / "docs" / "policy-tests.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)
FILE_INFO = re.compile(r"file=(\S+)")


def blocks() -> list[tuple[str, str, str]]:
    return [(m.group(1), m.group(2).strip(), m.group(3)) for m in FENCE.finditer(DOC.read_text())]


def files() -> dict[str, str]:
    named = [(FILE_INFO.fullmatch(info), text) for lang, info, text in blocks() if lang == "yaml"]
    found = {m.group(1): text for m, text in named if m is not None}
    assert len(found) == len([m for m, _ in named if m is not None]), "file names repeat"
    return found


def sessions() -> list[tuple[list[str], str]]:
    """(command arguments after `openleash`, expected output) of each console block."""
    out = []
    for lang, _, text in blocks():
        if lang == "console":
            command, _, output = text.partition("\n")
            assert command.startswith("$ openleash "), command
            out.append((shlex.split(command)[2:], output))
    return out


def test_the_doc_has_examples_of_passing_failing_and_unreadable_files() -> None:
    outputs = [output for _, output in sessions()]
    assert len(files()) >= 4
    assert any("FAIL" in o for o in outputs)
    assert any("cannot run" in o for o in outputs)
    assert all(lang != "yaml" or FILE_INFO.fullmatch(info) for lang, info, _ in blocks())


@pytest.mark.parametrize(("args", "expected"), sessions())
def test_doc_session_prints_what_the_doc_shows(
    args: list[str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, text in files().items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(cli, args, catch_exceptions=False)

    assert result.output == expected
    failed = "FAIL" in expected or "cannot run" in expected
    assert result.exit_code == (1 if failed else 0)
