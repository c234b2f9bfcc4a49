"""JSON as JavaScript sees it, and the one parser of request bodies.

Agents and the TypeScript server parse request bodies with ``JSON.parse``: every number is an
IEEE double, so integers beyond 2**53 lose precision before anything is compared or hashed. We
parse the same way so that decisions and action hashes agree byte for byte.

A body is UTF-8 JSON (RFC 8259 §8.1): no byte-order mark, no UTF-16 or UTF-32, no lone
surrogate escapes (they cannot be written back out as UTF-8), and at most :data:`MAX_DEPTH`
nested arrays and objects (deeper documents only serve to exhaust the stack of whatever walks
them). Anything else is ``INVALID_JSON`` (400) with a message that says what to change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import orjson

from openleash.domain.errors import InvalidInputError, OpenLeashError

#: A JSON value as a parser makes it. Use it where the sender chooses the shape (an action's
#: payload, a policy document, claims of a token from elsewhere): reading one needs
#: ``isinstance`` checks, which is the point. Where we choose the shape, use a TypedDict, a
#: dataclass or a wire model instead.
JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"
#: A JSON object as a parser makes it.
JsonObject: TypeAlias = "dict[str, JsonValue]"
#: JSON about to be written: any mix of mappings and sequences (read-only, so a ``list[str]``
#: is one without a copy). A TypedDict is not a ``Mapping[str, JsonOut]`` to mypy: renderers
#: that take TypedDicts accept ``Mapping[str, object]``.
JsonOut: TypeAlias = "str | int | float | bool | Sequence[JsonOut] | Mapping[str, JsonOut] | None"

_SAFE = 2**53
#: Arrays and objects may nest this deep; real actions and policies use a handful of levels.
MAX_DEPTH = 64
#: An integer of 16 digits or more may be beyond 2**53 (16 digits): only then is a walk needed.
_LONG_DIGITS = re.compile(rb"\d{16}")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def js_number(value: int) -> int | float:
    """An integer as JavaScript holds it: exact up to 2**53, a double beyond."""
    if -_SAFE <= value <= _SAFE:
        return value
    try:
        return float(value)
    except OverflowError:  # JavaScript: Infinity (serialized as null)
        return float("inf") if value > 0 else float("-inf")


def js_normalize(value: Any) -> Any:
    """Turn every integer of a parsed document into what ``JSON.parse`` would have made."""
    return _walk(value, 0, check_text=False)


def _invalid(message: str) -> OpenLeashError:
    return InvalidInputError("INVALID_JSON", message)


def _too_deep() -> OpenLeashError:
    return _invalid(f"Request body nests arrays and objects deeper than {MAX_DEPTH} levels")


def _text(value: str, check: bool) -> str:
    if check and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _invalid(
                "Request body has a lone UTF-16 surrogate escape (such as \\ud800): "
                "escape characters outside the BMP as a high and low surrogate pair"
            ) from None
    return value


def _walk(value: Any, depth: int, *, check_text: bool) -> Any:
    """``value`` with JavaScript numbers; refuses nesting past :data:`MAX_DEPTH` and, when
    ``check_text``, strings that are not Unicode text. Recursion is bounded by the depth."""
    if isinstance(value, str):
        return _text(value, check_text)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return js_number(value)
    if depth >= MAX_DEPTH:
        raise _too_deep()
    if isinstance(value, dict):
        return {
            _text(k, check_text): _walk(v, depth + 1, check_text=check_text)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_walk(v, depth + 1, check_text=check_text) for v in value]
    return value


def parse_json(body: bytes) -> Any:
    """Parse a request body; raise ``INVALID_JSON`` (400) on anything ``JSON.parse`` refuses,
    on text that is not UTF-8, on lone surrogates and on nesting past :data:`MAX_DEPTH`."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return _parse_fallback(body, str(exc))
    # orjson already refused bad UTF-8, BOMs and lone surrogates, and nests at most 1024 deep.
    # Counting brackets (string contents included) bounds the depth without a walk; so does the
    # absence of long digit runs for the integers: most bodies are returned as parsed.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH or _LONG_DIGITS.search(body):
        return _walk(value, 0, check_text=False)
    return value


def _parse_fallback(body: bytes, reason: str) -> Any:
    """What orjson refused that ``JSON.parse`` takes: numbers beyond the double range
    (``1e400`` is Infinity). Everything else is refused with the reason."""
    if body.startswith(_BOMS) or b"\x00" in body[:4]:
        raise _invalid(
            "Request body must be JSON encoded as UTF-8, without a byte-order mark "
            "(UTF-16 and UTF-32 are not accepted)"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("Request body is not valid UTF-8; send JSON encoded as UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int)
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        raise _invalid(f"Request body is not valid JSON: {reason}") from None
    return _walk(value, 0, check_text=True)


def _parse_int(text: str) -> int | float:
    if len(text) > 400:  # past any double: Infinity, without a quadratic int() of the text
        return float("-inf") if text.startswith("-") else float("inf")
    return js_number(int(text))


def dumps(value: Any) -> bytes:
    """Compact JSON bytes, key order preserved (as ``JSON.stringify``)."""
    return orjson.dumps(value)
