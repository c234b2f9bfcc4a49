"""Redaction of action fields before an action is written to the audit log.

Paths are JSONPaths into the action request (``$`` is the action), set by ``audit.redact`` in
config.yaml. The grammar is strict on purpose: a path that silently meant something else would
leak what it was written to hide. Segments: ``.key``, ``['key']`` or ``["key"]``, ``[0]`` (an
array index) and ``[*]`` or ``.*`` (every item of an array or value of an object).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

REDACTED = "[REDACTED]"

#: Matches one segment; the whole path must be made of them.
_SEGMENT = re.compile(
    r"""\.(?P<key>[^.\[\]*'"]+)"""
    r"""|\[(?P<index>[0-9]+)\]"""
    r"""|\[(?P<q>['"])(?P<quoted>(?:(?!(?P=q)).)+)(?P=q)\]"""
    r"""|(?P<all>\.\*|\[\*\])"""
)


class _All:
    """The ``*`` segment."""

    __slots__ = ()


ALL = _All()
Segment = str | int | _All


def compile_redaction(path: str) -> tuple[Segment, ...]:
    """The segments of one path; ``ValueError`` naming the path when it is not valid."""
    if not path.startswith("$") or path == "$":
        raise ValueError(f"redaction path must start with `$.` and name a field: {path!r}")
    segments: list[Segment] = []
    position = 1
    while position < len(path):
        found = _SEGMENT.match(path, position)
        if found is None:
            raise ValueError(f"redaction path {path!r} is not valid at character {position + 1}")
        if found.group("key") is not None:
            segments.append(found.group("key"))
        elif found.group("index") is not None:
            segments.append(int(found.group("index")))
        elif found.group("quoted") is not None:
            segments.append(found.group("quoted"))
        else:
            segments.append(ALL)
        position = found.end()
    return tuple(segments)


@lru_cache(maxsize=32)
def compile_redactions(paths: tuple[str, ...]) -> tuple[tuple[Segment, ...], ...]:
    return tuple(compile_redaction(p) for p in paths)


def check_redactions(paths: Iterable[str]) -> tuple[str, ...]:
    """The paths, validated (``ValueError`` on the first bad one)."""
    checked = tuple(paths)
    compile_redactions(checked)
    return checked


def redact(value: Any, paths: tuple[str, ...]) -> Any:
    """A copy of ``value`` with what each path names replaced by ``"[REDACTED]"``.

    Only the containers on a path are copied; ``value`` itself is never changed. A path that
    names nothing in this value is skipped."""
    for segments in compile_redactions(paths):
        value = _redact(value, segments)
    return value


def _redact(node: Any, segments: tuple[Segment, ...]) -> Any:
    if not segments:
        return REDACTED
    head, rest = segments[0], segments[1:]
    if isinstance(node, dict):
        if isinstance(head, _All):
            return {k: _redact(v, rest) for k, v in node.items()}
        if isinstance(head, str) and head in node:
            return {**node, head: _redact(node[head], rest)}
    elif isinstance(node, list):
        if isinstance(head, _All):
            return [_redact(item, rest) for item in node]
        if isinstance(head, int) and head < len(node):
            copy = list(node)
            copy[head] = _redact(node[head], rest)
            return copy
    return node
