"""Field shapes the wire models share: a field that may be left out but is never null, a JSON
object whose shape its sender chooses, and identifiers and times as the API writes them."""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import Field, GetPydanticSchema, JsonValue
from pydantic.json_schema import SkipJsonSchema

from openleash.domain.action import UUID_RE
from openleash.domain.jsonvalue import JsonObject

#: ``X | Omitted`` with :func:`omittable`: the key may be absent, but when present it is an X,
#: never ``null`` (the document shows neither ``null`` nor a default).
Omitted = SkipJsonSchema[None]

#: A JSON object whose shape its sender chooses (an action's payload, an agent's attributes, a
#: token's claims): :data:`~openleash.domain.jsonvalue.JsonObject` to type checkers (pydantic
#: cannot resolve the domain's alias, a forward reference), and to pydantic any object, checked
#: and documented as before (``additionalProperties: true``, no schema for each value).
AnyJsonObject = Annotated[
    dict[str, JsonValue], GetPydanticSchema(lambda _type, handler: handler(dict[str, Any]))
]

#: Any 8-4-4-4-12 hex UUID (PROTOCOL §3.6: not only version 4).
UUID_PATTERN: Final[str] = UUID_RE.pattern

EXAMPLE_TIME: Final[str] = "2026-12-03T15:04:05.123Z"
EXAMPLE_UUID: Final[str] = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
EXAMPLE_OWNER_ID: Final[str] = "0d9f8e7c-6b5a-4d3c-9b2a-1f0e9d8c7b6a"
EXAMPLE_AGENT_PRINCIPAL_ID: Final[str] = "3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d"
EXAMPLE_HASH: Final[str] = "a97d394c8b4e35f9d3ec0b6b2b4cdcd0f6a0e8f3e4b1c1a9d2c7e5f60718f3a2"
EXAMPLE_PUBLIC_KEY: Final[str] = "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="


def _without_default(schema: JsonObject) -> None:
    schema.pop("default", None)


def omittable(description: str, **kwargs: Any) -> Any:
    """A field that may be left out (read as ``None``) but that is never ``null`` on the wire;
    annotate it ``X | Omitted``."""
    return Field(None, description=description, json_schema_extra=_without_default, **kwargs)


def uuid_field(description: str, **kwargs: Any) -> Any:
    """A UUID string field (any 8-4-4-4-12 hex form)."""
    kwargs.setdefault("examples", [EXAMPLE_UUID])
    return Field(description=description, pattern=UUID_PATTERN, **kwargs)


def time_field(description: str, **kwargs: Any) -> Any:
    """A time as the server writes it: ISO 8601 UTC with milliseconds and ``Z``."""
    kwargs.setdefault("examples", [EXAMPLE_TIME])
    return Field(description=description, **kwargs)
