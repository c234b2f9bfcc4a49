"""JSON as JavaScript sees it.

Agents and the TypeScript server parse request bodies with ``JSON.parse``: every number is an
IEEE double, so integers beyond 2**53 lose precision before anything is compared or hashed. We
parse the same way so that decisions and action hashes agree byte for byte.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from openleash.domain.errors import OpenLeashError

_SAFE = 2**53


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
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return js_number(value)
    if isinstance(value, dict):
        return {k: js_normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [js_normalize(v) for v in value]
    return value


def parse_json(body: bytes) -> Any:
    """Parse a request body; raise ``INVALID_JSON`` (400) on anything ``JSON.parse`` refuses."""
    try:
        return js_normalize(orjson.loads(body))
    except orjson.JSONDecodeError:
        pass
    # orjson refuses integers beyond 64 bits; JavaScript takes them as doubles.
    try:
        value = json.loads(body, parse_constant=_reject_constant, parse_int=_parse_int)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise OpenLeashError("INVALID_JSON", f"Request body is not valid JSON: {exc}") from None
    return value


def _parse_int(text: str) -> int | float:
    return js_number(int(text))


def dumps(value: Any) -> bytes:
    """Compact JSON bytes, key order preserved (as ``JSON.stringify``)."""
    return orjson.dumps(value)
