"""Reading fields of request bodies the same way everywhere, with errors that say what to fix."""

from __future__ import annotations

from typing import Any

from openleash.domain.errors import InvalidInputError

#: The longest free text (justifications, reasons, descriptions) kept.
MAX_TEXT = 2000


def optional_text(body: Any, name: str, limit: int = MAX_TEXT) -> str | None:
    """``body[name]`` trimmed, None when absent or blank; refused when not a string or too long."""
    value = body.get(name) if isinstance(body, dict) else None
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError("INVALID_REQUEST", f"{name} must be a string")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInputError("INVALID_REQUEST", f"{name} is longer than {limit} characters")
    return value or None
