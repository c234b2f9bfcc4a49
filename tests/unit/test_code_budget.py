"""The size budget of functions: a function that needs more than 50 lines is doing two things.
(ruff holds complexity and statement counts: C901, PLR0912, PLR0915.)"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "openleash"
MAX_LINES = 50


def test_no_function_is_longer_than_the_budget() -> None:
    longer: list[str] = []
    seen = 0
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                seen += 1
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_LINES:
                    longer.append(f"{path.relative_to(SRC)}::{node.name} ({lines} lines)")
    assert seen > 1000  # the walk sees the whole source
    assert longer == []


#: Where ``dict[str, Any]`` may still be written: the keyword arguments of FastAPI's route
#: decorators (whose ``responses`` FastAPI types as ``dict[int | str, dict[str, Any]]``) and the
#: schema pydantic documents free JSON with. Everywhere else a TypedDict, a dataclass or the
#: JSON types of ``domain/jsonvalue.py`` say what a value holds.
UNTYPED_DICTS_ALLOWED = {
    "api/wire/common.py": 1,
    "api/wire/fields.py": 1,
    "api/public.py": 1,
    "api/authzen.py": 1,
    "api/metrics.py": 1,
}


def test_untyped_dicts_stay_at_the_framework_boundary() -> None:
    found: dict[str, int] = {}
    for path in sorted(SRC.rglob("*.py")):
        count = path.read_text(encoding="utf-8").count("dict[str, Any]")
        if count:
            found[str(path.relative_to(SRC))] = count
    assert found == UNTYPED_DICTS_ALLOWED
