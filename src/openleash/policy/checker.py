"""Located validation: the small toolkit every part of the policy parser builds with.

A :class:`Checker` walks plain data and collects *every* problem with its place and source
line, for example ``rules[2].constraints: unknown key `amount_mx` (line 14)``. Builders are
functions ``(checker, data, path) -> value | None`` that return ``None`` after reporting.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TypeVar

from openleash.domain.errors import PolicyIssue
from openleash.domain.jsonvalue import JsonObject, JsonValue, js_number
from openleash.policy.paths import is_js_number
from openleash.policy.syntax import Path

T = TypeVar("T")
#: Builds one part from the plain data at a place (its shape is the writer's to choose).
Builder = Callable[["Checker", JsonValue, Path], T | None]


def format_issue(issue: PolicyIssue) -> str:
    where = f" (line {issue['line']})" if issue.get("line") is not None else ""
    return f"{issue['path']}: {issue['message']}{where}"


def format_path(path: Path) -> str:
    """``("rules", 2, "constraints")`` as ``rules[2].constraints``; the root is ``policy``."""
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        else:
            text += f".{segment}" if text else segment
    return text or "policy"


def no_line(path: Path) -> int | None:
    return None


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if is_js_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def shown(data: object) -> str:
    """A value as an error message quotes it: scalars verbatim, anything else by type."""
    return f"`{data}`" if is_js_number(data) or isinstance(data, str) else type_name(data)


class Checker:
    """Collects located issues while the builders walk the data."""

    def __init__(self, line_of: Callable[[Path], int | None]) -> None:
        self.issues: list[PolicyIssue] = []
        self.warnings: list[PolicyIssue] = []
        self._line_of = line_of

    def fail(self, path: Path, message: str, *, at: Path | None = None) -> None:
        self.issues.append(self._issue(path, message, at))

    def warn(self, path: Path, message: str) -> None:
        self.warnings.append(self._issue(path, message, None))

    def _issue(self, path: Path, message: str, at: Path | None) -> PolicyIssue:
        line = self._line_of(path if at is None else at)
        return {"path": format_path(path), "message": message, "line": line}

    def count(self) -> int:
        return len(self.issues)

    def line(self, path: Path) -> int | None:
        """The source line of ``path`` (or of its nearest ancestor), when known."""
        return self._line_of(path)

    def mapping(
        self,
        data: JsonValue,
        path: Path,
        *,
        keys: Collection[str] | None,
        required: Collection[str],
    ) -> JsonObject | None:
        if not isinstance(data, dict):
            self.fail(path, f"must be an object, not {type_name(data)}")
            return None
        for key in required:
            if key not in data:
                self.fail(path, f"missing required key `{key}`")
        if keys is not None:
            for key in data:
                if key not in keys:
                    self.fail(path, f"unknown key `{key}`", at=(*path, key))
        return data

    def items(self, data: JsonValue, path: Path) -> list[JsonValue] | None:
        if not isinstance(data, list):
            self.fail(path, f"must be a list, not {type_name(data)}")
            return None
        return data

    def string(self, data: JsonValue, path: Path) -> str | None:
        if not isinstance(data, str):
            self.fail(path, f"must be a string, not {type_name(data)}")
            return None
        return data

    def number(self, data: JsonValue, path: Path) -> int | float | None:
        if not is_js_number(data):
            self.fail(path, f"must be a number, not {type_name(data)}")
            return None
        return js_number(data) if isinstance(data, int) else float(data)

    def boolean(self, data: JsonValue, path: Path) -> bool | None:
        if not isinstance(data, bool):
            self.fail(path, f"must be true or false, not {type_name(data)}")
            return None
        return data

    def choice(self, data: JsonValue, path: Path, allowed: Collection[str]) -> str | None:
        if not isinstance(data, str) or data not in allowed:
            self.fail(path, f"must be one of {', '.join(allowed)}, not {shown(data)}")
            return None
        return data

    def strings(self, data: JsonValue, path: Path) -> tuple[str, ...] | None:
        items = self.items(data, path)
        if items is None:
            return None
        checked = [self.string(item, (*path, i)) for i, item in enumerate(items)]
        return tuple(s for s in checked if s is not None) if None not in checked else None

    def each(self, data: JsonValue, path: Path, build: Builder[T]) -> tuple[T, ...] | None:
        """A list built item by item; ``None`` if it is not a list or any item failed."""
        items = self.items(data, path)
        if items is None:
            return None
        built = [build(self, item, (*path, i)) for i, item in enumerate(items)]
        return tuple(b for b in built if b is not None) if None not in built else None

    def unique_choices(
        self, data: JsonValue, path: Path, allowed: Collection[str], *, what: str
    ) -> tuple[str, ...] | None:
        """A list of distinct names from ``allowed``."""
        before = self.count()
        items = self.items(data, path)
        if items is None:
            return None
        chosen: list[str] = []
        for i, item in enumerate(items):
            if not isinstance(item, str) or item not in allowed:
                self.fail((*path, i), f"unknown {what} {shown(item)}; use {', '.join(allowed)}")
            elif item in chosen:
                self.fail((*path, i), f"duplicate {what} `{item}`")
            else:
                chosen.append(item)
        return tuple(chosen) if self.count() == before else None


def optional(c: Checker, data: JsonObject, path: Path, key: str, build: Builder[T]) -> T | None:
    return build(c, data[key], (*path, key)) if key in data else None
