"""`openleash testvectors` reproduces the official vectors file byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.vectors import official_vectors

from .conftest import Cli


def test_default_output_equals_the_official_file(run: Cli) -> None:
    expected = official_vectors().read_text(encoding="utf-8")

    result = run("testvectors", store=False)

    assert result.exit_code == 0
    assert json.loads(result.output) == json.loads(expected)
    assert result.output == expected.rstrip("\n") + "\n"


def test_the_official_file_as_input_regenerates_itself(run: Cli, tmp_path: Path) -> None:
    official = official_vectors()
    target = tmp_path / "out.json"

    result = run("testvectors", "--input", str(official), "--output", str(target), store=False)

    assert result.exit_code == 0, result.output
    assert target.read_bytes() == official.read_bytes()


def test_input_lacking_fields_is_refused(run: Cli, tmp_path: Path) -> None:
    partial = tmp_path / "in.json"
    partial.write_text('{"action": {}}')

    result = run("testvectors", "--input", str(partial), store=False)

    assert result.exit_code == 2
    assert "private_key_b64" in result.output
