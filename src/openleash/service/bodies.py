"""Reading fields of request bodies the same way everywhere, with errors that say what to fix."""

from __future__ import annotations

from collections.abc import Mapping

from openleash.domain.errors import InvalidInputError

#: The longest free text (justifications, reasons, descriptions) kept.
MAX_TEXT = 2000

#: A request body as the commands' ``from_body`` read it: a parsed JSON object, or fields an
#: edge put together (a form). Whatever the sender put there: each field is narrowed with
#: ``isinstance`` before use.
Body = Mapping[str, object]


def optional_text(body: Body, name: str, limit: int = MAX_TEXT) -> str | None:
    """``body[name]`` trimmed, None when absent or blank; refused when not a string or too long."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError("INVALID_REQUEST", f"{name} must be a string")
    value = value.strip()
    if len(value) > limit:
        raise InvalidInputError("INVALID_REQUEST", f"{name} is longer than {limit} characters")
    return value or None


def action_agent_id(action: Mapping[str, object]) -> str | None:
    """``principal.agent_id`` of an action (a string in every action ``parse_action`` passed)."""
    principal = action.get("principal")
    agent_id = principal.get("agent_id") if isinstance(principal, dict) else None
    return agent_id if isinstance(agent_id, str) else None
