"""What every documented operation shares: the error envelope, the security schemes, and
:func:`operation`, which turns a route's request model, response model, error statuses and
security into the arguments FastAPI's route decorators take.

Request bodies are not FastAPI parameters: FastAPI would read them itself, past the one body
reader that bounds size, depth and encoding. A route reads its body with :func:`decode`, and
:func:`operation` only documents it (``openapi_extra``); :func:`install_openapi` puts every
model such a document refers to into ``components.schemas``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Final, NotRequired, TypedDict, TypeVar

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.routing import BaseRoute

from openleash.api.errors import status_for_code
from openleash.api.guard import SAFE_METHODS, Origins, check_api
from openleash.api.http import json_body, optional_json
from openleash.api.throttle import anonymous
from openleash.api.wire.fields import AnyJsonObject
from openleash.domain.errors import InvalidInputError, OpenLeashError
from openleash.domain.jsonvalue import JsonObject, JsonValue

Model = TypeVar("Model", bound=BaseModel)

_REF = "#/components/schemas/{model}"


class WireModel(BaseModel):
    """Base of request models: unknown fields are kept (older and newer clients send more
    than a server knows) and values are not coerced (``"5"`` is not the number 5)."""

    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)

    #: Whether an owner route taking this body checks a second factor, behind the per-owner
    #: lock of wrong second factors (429 ``SECOND_FACTOR_LOCKED``).
    second_factor_lock: ClassVar[bool] = False


class ErrorBody(BaseModel):
    code: str = Field(
        description="Stable, machine-readable reason; clients branch on it.",
        examples=["INVALID_REQUEST"],
    )
    message: str = Field(
        description="What went wrong and what to fix, for people.",
        examples=["agent_id must be a string"],
    )
    details: AnyJsonObject | None = Field(
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
    431: "The request head (request line and headers) is larger than the server takes; "
    "answered before any route, and the connection is closed.",
    500: "A fault of the server.",
    503: "The store or policy work is unavailable; retry later.",
}

#: Statuses any operation can return, whatever it does: a request head past the server's
#: limit (431, answered by the HTTP protocol, api/protocol.py, before any route), a fault (500)
#: and the store or the policy work (503; :func:`operation` leaves it out for a route that
#: reads no store). The statuses of what wraps only some routes (the browser guard, the
#: per-address throttles, authentication) are added to exactly those operations when the
#: document is built (:func:`install_openapi`).
COMMON_STATUSES: Final[tuple[int, ...]] = (431, 500, 503)

#: Security schemes, by the name operations refer to them (``components.securitySchemes``).
SECURITY_SCHEMES: Final[JsonObject] = {
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


class ResponseDoc(TypedDict):
    """One status of a route's ``responses``, as FastAPI's route decorators take it: the
    response model, or the content by media type spelt out."""

    description: str
    model: NotRequired[type[BaseModel]]
    content: NotRequired[JsonObject]


def as_object(value: JsonValue) -> JsonObject:
    """``value`` when it is an object, else a new empty one: a part of an OpenAPI document
    that is absent reads as empty (and is not added)."""
    return value if isinstance(value, dict) else {}


def object_at(parent: JsonObject, key: str) -> JsonObject:
    """``parent[key]``, an object of an OpenAPI document, added empty when absent."""
    value = parent.setdefault(key, {})
    if not isinstance(value, dict):
        raise TypeError(f"{key!r} of the OpenAPI document is not an object")
    return value


def _ref(model: type[BaseModel]) -> JsonObject:
    _documented[model.__name__] = model
    return {"$ref": _REF.format(model=model.__name__)}


def schema_ref(model: type[BaseModel]) -> JsonObject:
    """A reference to ``model``'s schema, for documents built by hand (see ``ok_content`` of
    :func:`operation`); :func:`install_openapi` puts the schema into ``components.schemas``."""
    return _ref(model)


def _error_responses(statuses: list[int], json_success: bool) -> dict[int | str, ResponseDoc]:
    """The error envelope for each status; spelt out as JSON when the success is not JSON."""
    return {status: _error_response(status, json_success) for status in statuses}


def _error_response(status: int, json_success: bool) -> ResponseDoc:
    if json_success:
        return {"model": ErrorEnvelope, "description": STATUS_MEANING[status]}
    return {
        "content": {"application/json": {"schema": _ref(ErrorEnvelope)}},
        "description": STATUS_MEANING[status],
    }


def operation(
    *,
    ok: type[BaseModel] | None,
    errors: Iterable[int] = (),
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    security: Security = ANONYMOUS,
    ok_status: int = 200,
    ok_description: str = "Success",
    ok_content: JsonObject | None = None,
    uses_store: bool = True,
) -> dict[str, Any]:
    """Keyword arguments for ``@router.get/post/...``: the response model of ``ok_status``,
    the error envelope for each of ``errors`` (and :data:`COMMON_STATUSES`), the request body
    ``body`` and who may call (``security``; empty means anyone).

    ``ok_content`` documents a success that is not JSON (with ``ok=None``): its content by media
    type, e.g. ``{"text/event-stream": {"schema": ...}}``. The route then also names a
    ``response_class`` of that media type (else FastAPI adds an ``application/json`` success),
    and the errors, still JSON, are documented with their media type spelt out.

    ``uses_store=False`` is for a route that reads no store and does no policy work (a static
    document): it never answers 503."""
    common = set(COMMON_STATUSES) if uses_store else set(COMMON_STATUSES) - {503}
    responses = _error_responses(sorted({*errors, *common} - {ok_status}), ok_content is None)
    ok_response: ResponseDoc = {"description": ok_description}
    if ok is not None:
        ok_response["model"] = ok
        _answered[ok.__name__] = ok
    if ok_content is not None:
        ok_response["content"] = ok_content
    responses[ok_status] = ok_response
    extra: JsonObject = {
        "security": [
            {scheme: list(scopes) for scheme, scopes in requirement.items()}
            for requirement in security
        ]
    }
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


class _Issue(TypedDict):
    path: str
    message: str


def _issues(error: ValidationError) -> list[_Issue]:
    found: list[_Issue] = [
        {"path": ".".join(str(part) for part in issue["loc"]), "message": issue["msg"]}
        for issue in error.errors(include_url=False, include_input=False)
    ]
    return found[:20]


def validate(model: type[Model], value: JsonValue, code: str = "INVALID_REQUEST") -> Model:
    """``value`` (parsed JSON) as ``model``; refused with ``code`` naming the first bad field."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        issues = _issues(exc)
        first: _Issue = issues[0] if issues else {"path": "", "message": "invalid"}
        where = first["path"] or "body"
        details: JsonObject = {
            "issues": [{"path": i["path"], "message": i["message"]} for i in issues]
        }
        raise InvalidInputError(code, f"{where}: {first['message']}", details) from None


async def decode(
    request: Request, model: type[Model], *, optional: bool = False, code: str = "INVALID_REQUEST"
) -> Model:
    """The request's JSON body as ``model``, read by the one body reader. With ``optional``, a
    missing body reads as ``{}``."""
    if optional:
        return validate(model, await optional_json(request), code)
    _, parsed = await json_body(request)
    return validate(model, parsed, code)


def _drop_framework_validation(document: JsonObject) -> None:
    """FastAPI documents a 422 for any declared parameter; this API never answers 422 (bad
    input is a 400 with the error envelope)."""
    for path in as_object(document.get("paths")).values():
        for op in as_object(path).values():
            as_object(as_object(op).get("responses")).pop("422", None)
    schemas = as_object(as_object(document.get("components")).get("schemas"))
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _restore_examples(schemas: JsonObject) -> None:
    """FastAPI renders the document without ``null`` values (``exclude_none``), examples
    included: an example whose nullable field is ``null`` loses that required property and no
    longer matches its own schema. Put the response models' examples back as they are."""
    for model in _answered.values():
        schema = model.model_json_schema(ref_template=_REF, mode="serialization")
        for name, definition in {**schema.pop("$defs", {}), model.__name__: schema}.items():
            target = schemas.get(name)
            if not isinstance(target, dict):
                continue
            if "examples" in definition:
                target["examples"] = definition["examples"]
            properties = as_object(target.get("properties"))
            for field, spec in definition.get("properties", {}).items():
                if "examples" in spec and field in properties:
                    as_object(properties[field])["examples"] = spec["examples"]


def _documented_routes(routes: Sequence[BaseRoute]) -> list[RouteContext]:
    """The routes of the document, as FastAPI sees them through included routers (with the
    router's prefix, tags and dependencies)."""
    return [
        context
        for context in iter_route_contexts(routes)
        if isinstance(context.original_route, APIRoute) and context.include_in_schema
    ]


def operation_ids(routes: Sequence[BaseRoute]) -> dict[tuple[str, str], str]:
    """The ``operationId`` of each documented route's methods, by (method, path): the route
    function's name (``login``, ``approve``), prefixed with the route's tag where two routes
    share a name (``admin_list_agents``, ``owner_list_agents``), unless the name starts with
    the tag already (``agent_usage`` of the agent routes). Ids do not depend on paths or on
    the order of the routes, so a path can move without renaming a generated client's method."""
    documented = _documented_routes(routes)
    names = Counter(route.name for route in documented)
    ids: dict[tuple[str, str], str] = {}
    for route in documented:
        name = str(route.name)
        tag = str(route.tags[0]) if route.tags else ""
        if names[name] > 1 and tag and not name.startswith(f"{tag}_"):
            name = f"{tag}_{name}"
        for method in sorted(route.methods or ()):
            ids[(method.lower(), str(route.path))] = name
    return ids


def check_unique_operation_ids(document: JsonObject) -> None:
    """Raise when two operations of ``document`` share an ``operationId``: a generated client
    would have two methods of one name."""
    seen: dict[str, str] = {}
    for path, item in as_object(document.get("paths")).items():
        for method, op in as_object(item).items():
            given = as_object(op).get("operationId")
            if not isinstance(given, str):
                continue  # no id, no name to clash
            if given in seen:
                raise RuntimeError(
                    f"operationId {given!r} of {method.upper()} {path} is also the id of "
                    f"{seen[given]}: rename a route function"
                )
            seen[given] = f"{method.upper()} {path}"


#: Where :func:`_guard_codes` asks the browser guard from: a loopback name on its port.
_PROBE_ORIGINS: Final = Origins(("http", "127.0.0.1", 8787), 8787)


def _guard_codes(method: str, path: str) -> set[str]:
    """The codes the browser guard (api/guard.py) can refuse ``method path`` with, found by
    asking it: a foreign Host (421), and with the right Host a foreign Origin (403) and a body
    an HTML form sends (415). A request with no session header stands for a cookie session."""
    codes: set[str] = set()
    probes = (
        [(b"host", b"rebound.example")],
        [(b"host", b"127.0.0.1:8787"), (b"origin", b"https://page.example")],
        [(b"host", b"127.0.0.1:8787"), (b"content-type", b"text/plain")],
    )
    for headers in probes:
        scope = {"type": "http", "method": method, "path": path, "headers": headers}
        try:
            check_api(scope, _PROBE_ORIGINS)
        except OpenLeashError as refused:
            codes.add(refused.code)
    return codes


def _second_factor_body(op: JsonObject) -> bool:
    content = as_object(as_object(op.get("requestBody")).get("content"))
    ref = as_object(content.get("application/json"))
    name = str(as_object(ref.get("schema")).get("$ref", "")).rpartition("/")[2]
    model = _documented.get(name)
    return model is not None and issubclass(model, WireModel) and model.second_factor_lock


def _wrapper_codes(route: RouteContext, method: str, op: JsonObject) -> set[str]:
    """The codes of what wraps the route rather than what it does: the browser guard, the
    per-address throttles, and what every caller of its security can be refused for."""
    codes = _guard_codes(method.upper(), str(route.path))
    if any(dep.call is anonymous for dep in route.dependant.dependencies):
        codes.add("RATE_LIMITED")  # the anonymous budget of the address
    security = op.get("security")
    requirements = security if isinstance(security, list) else []
    schemes = {name for requirement in requirements for name in as_object(requirement)}
    if schemes & {"agentSignature", "pepToken"}:
        # Failed authentications spend the address's budget (api/throttle.py), and a signed
        # agent may be pending its owner's activation.
        codes |= {"RATE_LIMITED", "AGENT_PENDING"}
    if "ownerSession" in schemes and method.upper() not in SAFE_METHODS:
        codes.add("CSRF_FAILED")  # a cookie session without its CSRF token
        if _second_factor_body(op):
            codes.add("SECOND_FACTOR_LOCKED")
    return codes


def _add_wrapper_statuses(document: JsonObject, routes: Sequence[BaseRoute]) -> None:
    """Each operation's responses, with the statuses of :func:`_wrapper_codes`."""
    paths = as_object(document.get("paths"))
    for route in _documented_routes(routes):
        for method in route.methods or ():
            op = as_object(paths.get(str(route.path))).get(method.lower())
            if not isinstance(op, dict):
                continue
            responses = object_at(op, "responses")
            for status in sorted({status_for_code(c) for c in _wrapper_codes(route, method, op)}):
                responses.setdefault(
                    str(status),
                    {
                        "description": STATUS_MEANING[status],
                        "content": {"application/json": {"schema": _ref(ErrorEnvelope)}},
                    },
                )
            op["responses"] = dict(sorted(responses.items()))


def _name_operations(document: JsonObject, routes: Sequence[BaseRoute]) -> None:
    paths = as_object(document.get("paths"))
    for (method, path), name in operation_ids(routes).items():
        op = as_object(paths.get(path)).get(method)
        if isinstance(op, dict):
            op["operationId"] = name


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` a 3.1 document with the security schemes and every model that
    operations refer to by reference."""

    def build() -> JsonObject:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document: JsonObject = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            description=app.description,
            routes=app.routes,
        )
        _drop_framework_validation(document)
        _name_operations(document, app.routes)
        _add_wrapper_statuses(document, app.routes)
        components = object_at(document, "components")
        schemas = object_at(components, "schemas")
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
