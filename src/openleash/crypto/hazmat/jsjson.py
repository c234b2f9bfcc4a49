"""JSON text exactly as JavaScript's ``JSON.stringify`` writes it.

Action hashes, body hashes and token payloads are compared byte for byte with what the
TypeScript OpenLeash and its SDKs produce, so every detail of the JavaScript serializer matters:
numbers are IEEE doubles printed by ``Number.prototype.toString``, strings escape only what
``JSON.stringify`` escapes, and canonical key order is by UTF-16 code units.

This module is the general (and slower) path. :mod:`openleash.crypto.hazmat.canonical` puts a
fast path in front of it for the common case and must produce identical bytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

#: Characters ``JSON.stringify`` escapes: quote, backslash, C0 controls, and (since ES2019)
#: surrogate code units that are not part of a pair.
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\ud800-\udfff]')
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}

#: The largest magnitude at which every integer is exactly a double; beyond it JavaScript rounds.
_SAFE_INTEGER = 2**53


def number_to_string(value: float) -> str:
    """A double as ``JSON.stringify`` prints it (ECMAScript ``Number::toString``).

    ``repr`` already yields the shortest digit string that round-trips, which is also what
    ECMAScript requires; only the placement of the decimal point and exponent differs.
    """
    if math.isnan(value) or math.isinf(value):
        return "null"  # JSON.stringify(NaN) and JSON.stringify(Infinity)
    if value == 0:
        return "0"  # also for -0
    if value < 0:
        return "-" + number_to_string(-value)
    digits, point = _shortest_digits(value)
    return _place_point(digits, point)


def _shortest_digits(value: float) -> tuple[str, int]:
    """Digits ``d1..dk`` (no leading or trailing zeros) and ``n``: value = 0.d1..dk × 10^n."""
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    return significant.rstrip("0"), point


def _place_point(digits: str, n: int) -> str:
    """ECMAScript ``Number::toString`` steps 6 to 10, for k digits and decimal exponent n."""
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    exponent = n - 1
    sign = "+" if exponent >= 0 else "-"
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{sign}{abs(exponent)}"


def integer_to_string(value: int) -> str:
    """An integer as JavaScript prints it after ``JSON.parse`` made it a double."""
    if -_SAFE_INTEGER <= value <= _SAFE_INTEGER:
        return str(value)
    try:
        return number_to_string(float(value))
    except OverflowError:
        return "null"  # beyond the double range JSON.parse yields ±Infinity


def string_to_json(value: str) -> str:
    """A string literal as ``JSON.stringify`` writes it; non-ASCII stays raw."""
    if _SURROGATE.search(value):
        value = _pair_surrogates(value)
    return '"' + _NEEDS_ESCAPE.sub(_escape, value) + '"'


def _pair_surrogates(value: str) -> str:
    # A Python str may hold a high and a low surrogate as two code points; in JavaScript's
    # UTF-16 they are one character, so join them and leave only unpaired ones to escape.
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def utf16_key(key: str) -> bytes:
    """Sort key giving JavaScript's ``Array.prototype.sort`` order (UTF-16 code units)."""
    return key.encode("utf-16-be", "surrogatepass")


def to_json(value: Any, *, sort_keys: bool) -> str:
    """Serialize ``value``; ``sort_keys`` selects RFC 8785 key order, else insertion order."""
    parts: list[str] = []
    _write(value, parts.append, sort_keys)
    return "".join(parts)


def _write(value: Any, emit: Callable[[str], None], sort_keys: bool) -> None:
    # bool before int: bool is a subclass of int in Python, a distinct type in JSON.
    if value is None:
        emit("null")
    elif isinstance(value, bool):
        emit("true" if value else "false")
    elif isinstance(value, int):
        emit(integer_to_string(int(value)))
    elif isinstance(value, float):
        emit(number_to_string(float(value)))
    elif isinstance(value, str):
        emit(string_to_json(str.__str__(value)))
    elif isinstance(value, Mapping):
        _write_object(value, emit, sort_keys)
    elif isinstance(value, list | tuple):
        _write_array(value, emit, sort_keys)
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def _write_object(value: Mapping[Any, Any], emit: Callable[[str], None], sort_keys: bool) -> None:
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
    keys = sorted(value, key=utf16_key) if sort_keys else list(value)
    emit("{")
    for index, key in enumerate(keys):
        emit("," if index else "")
        emit(string_to_json(key))
        emit(":")
        _write(value[key], emit, sort_keys)
    emit("}")


def _write_array(
    value: list[Any] | tuple[Any, ...], emit: Callable[[str], None], sort_keys: bool
) -> None:
    emit("[")
    for index, item in enumerate(value):
        emit("," if index else "")
        _write(item, emit, sort_keys)
    emit("]")
