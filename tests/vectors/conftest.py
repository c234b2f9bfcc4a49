"""Where the vector files live: the official file in ``../shared`` beside the repository root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


def repo_root() -> Path:
    for folder in HERE.parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise RuntimeError("no pyproject.toml above the tests")


OFFICIAL = repo_root().parent / "shared" / "vectors" / "openleash-testvectors.json"


@pytest.fixture(scope="session")
def official_text() -> str:
    # A missing file fails loudly: skipping would hide the one check that proves compatibility.
    if not OFFICIAL.is_file():
        pytest.fail(f"official test vectors not found at {OFFICIAL}")
    return OFFICIAL.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def official(official_text: str) -> dict[str, Any]:
    vectors: dict[str, Any] = json.loads(official_text)
    return vectors


@pytest.fixture(scope="session")
def extra() -> dict[str, Any]:
    vectors: dict[str, Any] = json.loads((HERE / "extra_vectors.json").read_text(encoding="utf-8"))
    return vectors
