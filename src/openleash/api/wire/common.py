"""What every documented operation shares: the error envelope, the security schemes, and
:func:`operation`, which turns a route's request model, response model, error statuses and
security into the arguments FastAPI's route decorators take.

Request bodies are not FastAPI parameters: FastAPI would read them itself, past the one body
reader that bounds size, depth and encoding. A route reads its body with :func:`decode`, and
:func:`operation` only documents it (``openapi_extra``); :func:`install_openapi` puts every
model such a document refers to into ``components.schemas``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, TypeVar

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from openleash.api.http import json_body, optional_json
from openleash.domain.errors import InvalidInputError

Model = TypeVar("Model", bound=BaseModel)

_REF = "#/components/schemas/{model}"


class WireModel(BaseModel):
    """Base of request models: unknown fields are kept (older and newer clients send more
    than a server knows) and values are not coerced (``"5"`` is not the number 5)."""

    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)


class ErrorBody(BaseModel):
    code: str = Field(
        description="Stable, machine-readable reason; clients branch on it.",
        examples=["INVALID_REQUEST"],
    )
    message: str = Field(
        description="What went wrong and what to fix, for people.",
        examples=["agent_id must be a string"],
    )
    details: dict[str, Any] | None = Field(
        default=None,
        description="Machine-readable specifics when there are any, e.g. "
        "`retry_after_seconds` with 429, or `issues` with INVALID_POLICY.",
    )


class ErrorEnvelope(BaseModel):
    """Every error the API returns, whatever the status."""

    error: ErrorBody


#: Why a status is returned, in the words the document gives every operation.
STATUS_MEANING: Final[dict[int, str]] = {
    400: "The request is malformed or a field is invalid; `error.message` says which.",
    401: "Authentication is missing, wrong, expired or replayed.",
    403: "Authenticated, but not allowed to do this.",
    404: "What the request names does not exist, or is not the caller's.",
    405: "The path exists, but not with this method (see the `Allow` header).",
    409: "The request conflicts with the current state.",
    413: "The body (or a part of it) is too large.",
    415: "The body is not `application/json`.",
    421: "The Host header does not name this server.",
    429: "Too many requests or failed attempts; `Retry-After` says when to retry.",
    500: "A fault of the server.",
    503: "The store or policy work is unavailable; retry later.",
}

#: Statuses any operation can return, whatever it does: the browser guard (421 for a foreign
#: Host, 403 for a foreign Origin), the per-address throttle (429), a fault (500) and the
#: store (503).
COMMON_STATUSES: Final[tuple[int, ...]] = (403, 421, 429, 500, 503)

#: Security schemes, by the name operations refer to them.
SECURITY_SCHEMES: Final[dict[str, dict[str, Any]]] = {
    "agentSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Signature",
        "description": "An agent's Ed25519 signature over the request: send X-Agent-Id, "
        "X-Timestamp, X-Nonce, X-Body-Sha256 and X-Signature (PROTOCOL.md §2).",
    },
    "ownerSession": {
        "type": "http",
        "scheme": "bearer",
        "description": "An owner session token from POST /v1/owner/login.",
    },
    "ownerCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "openleash_session",
        "description": "The owner session cookie set by login; a change also needs the "
        "X-CSRF-Token header.",
    },
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The operator's admin token (from the server's configuration).",
    },
    "pepToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A policy enforcement point's token (AuthZEN), from the configuration.",
    },
}

#: Security requirements, ready for :func:`operation`: any one of the schemes of a tuple will do.
Security = tuple[dict[str, list[str]], ...]
AGENT: Final[Security] = ({"agentSignature": []},)
OWNER: Final[Security] = ({"ownerSession": []}, {"ownerCookie": []})
ADMIN: Final[Security] = ({"adminToken": []},)
PEP_OR_AGENT: Final[Security] = ({"pepToken": []}, {"agentSignature": []})
ANONYMOUS: Final[Security] = ()

_documented: dict[str, type[BaseModel]] = {}
#: Response models, by name: their examples are restored after FastAPI renders the document.
_answered: dict[str, type[BaseModel]] = {}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    _documented[model.__name__] = model
    return {"$ref": _REF.format(model=model.__name__)}


def schema_ref(model: type[BaseModel]) -> dict[str, str]:
    """A reference to ``model``'s schema, for documents built by hand (see ``ok_content`` of
    :func:`operation`); :func:`install_openapi` puts the schema into ``components.schemas``."""
    return _ref(model)


def operation(
    *,
    ok: type[BaseModel] | None,
    errors: Iterable[int] = (),
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    security: Security = ANONYMOUS,
    ok_status: int = 200,
    ok_description: str = "Success",
    ok_content: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``@router.get/post/...``: the response model of ``ok_status``,
    the error envelope for each of ``errors`` (and :data:`COMMON_STATUSES`), the request body
    ``body`` and who may call (``security``; empty means anyone).

    ``ok_content`` documents a success that is not JSON (with ``ok=None``): its content by media
    type, e.g. ``{"text/event-stream": {"schema": ...}}``. The route then also names a
    ``response_class`` of that media type (else FastAPI adds an ``application/json`` success),
    and the errors, still JSON, are documented with their media type spelt out."""
    statuses = sorted({*errors, *COMMON_STATUSES} - {ok_status})
    responses: dict[int | str, dict[str, Any]] = {
        status: (
            {"model": ErrorEnvelope}
            if ok_content is None
            else {"content": {"application/json": {"schema": _ref(ErrorEnvelope)}}}
        )
        | {"description": STATUS_MEANING[status]}
        for status in statuses
    }
    ok_response: dict[str, Any] = {"description": ok_description}
    if ok is not None:
        ok_response["model"] = ok
        _answered[ok.__name__] = ok
    if ok_content is not None:
        ok_response["content"] = ok_content
    responses[ok_status] = ok_response
    extra: dict[str, Any] = {"security": list(security)}
    if body is not None:
        extra["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    return {
        "responses": responses,
        "status_code": ok_status,
        "response_model": None,
        "openapi_extra": extra,
    }


def _issues(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"path": ".".join(str(part) for part in issue["loc"]), "message": issue["msg"]}
        for issue in error.errors(include_url=False, include_input=False)
    ][:20]


def validate(model: type[Model], value: Any, code: str = "INVALID_REQUEST") -> Model:
    """``value`` (parsed JSON) as ``model``; refused with ``code`` naming the first bad field."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        issues = _issues(exc)
        first = issues[0] if issues else {"path": "", "message": "invalid"}
        where = first["path"] or "body"
        raise InvalidInputError(code, f"{where}: {first['message']}", {"issues": issues}) from None


async def decode(
    request: Request, model: type[Model], *, optional: bool = False, code: str = "INVALID_REQUEST"
) -> Model:
    """The request's JSON body as ``model``, read by the one body reader. With ``optional``, a
    missing body reads as ``{}``."""
    if optional:
        return validate(model, await optional_json(request), code)
    _, parsed = await json_body(request)
    return validate(model, parsed, code)


def _drop_framework_validation(document: dict[str, Any]) -> None:
    """FastAPI documents a 422 for any declared parameter; this API never answers 422 (bad
    input is a 400 with the error envelope)."""
    for path in document.get("paths", {}).values():
        for op in path.values():
            op.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _restore_examples(schemas: dict[str, Any]) -> None:
    """FastAPI renders the document without ``null`` values (``exclude_none``), examples
    included: an example whose nullable field is ``null`` loses that required property and no
    longer matches its own schema. Put the response models' examples back as they are."""
    for model in _answered.values():
        schema = model.model_json_schema(ref_template=_REF, mode="serialization")
        for name, definition in {**schema.pop("$defs", {}), model.__name__: schema}.items():
            target = schemas.get(name)
            if target is None:
                continue
            if "examples" in definition:
                target["examples"] = definition["examples"]
            properties = target.get("properties", {})
            for field, spec in definition.get("properties", {}).items():
                if "examples" in spec and field in properties:
                    properties[field]["examples"] = spec["examples"]


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` a 3.1 document with the security schemes and every model that
    operations refer to by reference."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            description=app.description,
            routes=app.routes,
        )
        _drop_framework_validation(document)
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        _restore_examples(schemas)
        for name, model in sorted(_documented.items()):
            schema = model.model_json_schema(ref_template=_REF)
            for inner, definition in schema.pop("$defs", {}).items():
                schemas.setdefault(inner, definition)
            schemas.setdefault(name, schema)
        components["securitySchemes"] = SECURITY_SCHEMES
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]
