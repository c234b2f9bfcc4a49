"""Where the official cross-language test vectors are: ``$OPENLEASH_TESTVECTORS``, else
``shared/vectors`` (or ``vectors``) in the repository or any folder above it (CI keeps them in
``../shared``). Without them the checks that use them skip and say so, unless
``OPENLEASH_REQUIRE_VECTORS`` is set (``.ci/run`` sets it): then they fail, so CI cannot pass
without the one check that proves compatibility."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

VECTORS_NAME = "openleash-testvectors.json"


def official_vectors() -> Path:
    if os.environ.get("OPENLEASH_TESTVECTORS"):
        return Path(os.environ["OPENLEASH_TESTVECTORS"])
    for folder in Path(__file__).resolve().parents:
        for candidate in (
            folder / "shared" / "vectors" / VECTORS_NAME,
            folder / "vectors" / VECTORS_NAME,
        ):
            if candidate.is_file():
                return candidate
    message = (
        f"the official {VECTORS_NAME} was not found: put it in ../shared/vectors/ beside the "
        "repository, or set OPENLEASH_TESTVECTORS to its path"
    )
    if os.environ.get("OPENLEASH_REQUIRE_VECTORS"):
        pytest.fail(message)
    pytest.skip(message)
