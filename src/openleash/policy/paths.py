"""The JSONPath subset of policy expressions, and JavaScript's way of comparing values.

Policies written for the TypeScript server rely on JavaScript semantics, so we reproduce them:

* a path is tokenized by one regular expression and characters it does not match are skipped
  (``$.payload.merchant-domain`` reads keys ``merchant`` then ``domain``);
* a missing value is :data:`UNDEFINED`, which is not ``None`` (JSON ``null``);
* ``===`` never equates a boolean with a number, nor two objects or arrays;
* regular expressions are ECMAScript ones, unanchored and without flags (see :mod:`.regex`).

Deliberate deviation: JavaScript also finds inherited properties such as ``constructor`` or
``__proto__`` on any object. Those are never data an agent sent, so here they are undefined;
only ``length`` of an array is emulated, because policies use it to count items.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeGuard


class Undefined(enum.Enum):
    """JavaScript's ``undefined``: the value of a path that leads nowhere."""

    UNDEFINED = "undefined"

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = Undefined.UNDEFINED

_TOKEN = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)|\[([0-9]+)\]|\.")
_NUMBER_TYPES = (int, float)


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A path compiled once: its text and its key (``str``) and index (``int``) segments."""

    text: str
    segments: tuple[str | int, ...]


def compile_path(text: str) -> JsonPath:
    """Tokenize a path that starts with ``$.``; raise ``ValueError`` otherwise."""
    if not text.startswith("$."):
        raise ValueError(f"path must start with `$.`: `{text}`")
    segments: list[str | int] = []
    for found in _TOKEN.finditer(text, 2):
        key, index = found.group(1), found.group(2)
        if key is not None:
            segments.append(key)
        elif index is not None:
            segments.append(int(index))
    return JsonPath(text, tuple(segments))


def resolve_path(path: JsonPath, root: object) -> object:
    """The value at ``path`` inside ``root``, or :data:`UNDEFINED`."""
    return resolve_segments(path.segments, root)


def resolve_segments(segments: Sequence[str | int], root: object) -> object:
    current = root
    for segment in segments:
        if current is None or current is UNDEFINED:
            return UNDEFINED
        current = _index(current, segment) if type(segment) is int else _key(current, str(segment))
    return current


def _index(current: object, index: int) -> object:
    if isinstance(current, list) and index < len(current):
        return current[index]
    return UNDEFINED


def _key(current: object, key: str) -> object:
    if isinstance(current, dict):
        return current.get(key, UNDEFINED)
    if isinstance(current, list) and key == "length":
        return len(current)
    return UNDEFINED


def is_js_number(value: object) -> TypeGuard[int | float]:
    """``typeof value === 'number'``: a bool is not a number here."""
    return type(value) in _NUMBER_TYPES


def js_strict_equal(a: object, b: object) -> bool:
    """JavaScript ``a === b`` for JSON values (objects and arrays compare by identity)."""
    if a is b:
        return bool(a == a)  # only NaN is not equal to itself
    type_a, type_b = type(a), type(b)
    if type_a in _NUMBER_TYPES and type_b in _NUMBER_TYPES:
        return bool(a == b)
    if type_a is str and type_b is str:
        return bool(a == b)
    # bool, None and UNDEFINED are singletons, handled by identity above; containers differ.
    return False


def js_same_value_zero(a: object, b: object) -> bool:
    """SameValueZero, as ``Array.prototype.includes`` compares: like ``===`` but NaN equals NaN."""
    if type(a) is float and type(b) is float and a != a and b != b:
        return True
    return js_strict_equal(a, b)


def js_includes(items: Sequence[object], value: object) -> bool:
    """``items.includes(value)``."""
    return any(js_same_value_zero(item, value) for item in items)
