"""The vector files: the official one (see :mod:`tests.support.vectors`) and our own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.vectors import official_vectors

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def official_text() -> str:
    return official_vectors().read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def official(official_text: str) -> dict[str, Any]:
    vectors: dict[str, Any] = json.loads(official_text)
    return vectors


@pytest.fixture(scope="session")
def extra() -> dict[str, Any]:
    vectors: dict[str, Any] = json.loads((HERE / "extra_vectors.json").read_text(encoding="utf-8"))
    return vectors
