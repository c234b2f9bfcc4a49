"""RFC 8785 (JCS) canonical JSON, the action hash, and ``JSON.stringify``-equal compact JSON.

Both serializers run on every request, so each has a fast path: when a value holds only
dicts, lists, strings, booleans, ``None`` and integers JavaScript represents exactly, orjson
writes the same bytes as ``JSON.stringify`` (it escapes exactly the same characters, and for
ASCII keys its key order is the UTF-16 order). Anything else (floats, large integers,
non-ASCII keys, lone surrogates, subclasses) takes the general path in
:mod:`openleash.crypto.hazmat.jsjson`. Property tests check that the two paths agree.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from openleash.crypto.hazmat import jsjson
from openleash.domain.errors import InvalidInputError

# INVARIANT: orjson must refuse (not round) integers beyond 53 bits; the general path then
# prints them as the doubles JavaScript would have made of them.
_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_IN_ORDER = orjson.OPT_STRICT_INTEGER


def canonicalize(value: Any) -> bytes:
    """RFC 8785 canonical UTF-8 bytes of a JSON value, as the TypeScript OpenLeash computes them."""
    return _serialize(value, sort_keys=True)


def stringify(value: Any) -> bytes:
    """Compact JSON in insertion order, byte-equal to JavaScript's ``JSON.stringify``."""
    return _serialize(value, sort_keys=False)


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256, the digest format of every hash on the wire."""
    return hashlib.sha256(data).hexdigest()


def action_hash(action: Any) -> str:
    """``sha256_hex(canonicalize(action))``: binds proofs and approvals to one exact action."""
    return sha256_hex(canonicalize(action))


def _serialize(value: Any, *, sort_keys: bool) -> bytes:
    try:
        if _is_plain(value, ascii_keys=sort_keys):
            try:
                return orjson.dumps(value, option=_SORTED if sort_keys else _IN_ORDER)
            except orjson.JSONEncodeError:
                pass  # a big integer, a lone surrogate or deep nesting: the general path decides
        return jsjson.to_json(value, sort_keys=sort_keys).encode("utf-8")
    except RecursionError:
        raise InvalidInputError("INVALID_JSON", "JSON value is nested too deeply") from None


def _is_plain(value: Any, *, ascii_keys: bool) -> bool:
    """True when orjson's output for ``value`` is guaranteed to equal JavaScript's.

    Exact type checks on purpose: subclasses (enums, bool-as-int) and floats go the general way.
    """
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (ascii_keys and not key.isascii()):
                return False
            if not _is_plain_leaf(item) and not _is_plain(item, ascii_keys=ascii_keys):
                return False
        return True
    if kind is list:
        return all(_is_plain_leaf(item) or _is_plain(item, ascii_keys=ascii_keys) for item in value)
    return _is_plain_leaf(value)


def _is_plain_leaf(value: Any) -> bool:
    kind = type(value)
    return kind is str or kind is int or kind is bool or value is None
