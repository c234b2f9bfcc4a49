"""The served OpenAPI document, read by a schema-driven fuzzer (schemathesis): every operation,
given requests the document describes (and requests it says are wrong), answers only statuses
the document lists, and JSON answers valid against the documented schema of their status.

Each operation gets a fresh deployment (tests/fuzz/deployment.py: the served application over
a real SQLite file, an owner signed in, an enrolled agent, one record of each kind) and
``OPENLEASH_OPENAPI_EXAMPLES`` cases (default :data:`DEFAULT_EXAMPLES`), drawn reproducibly.
Most carry the operation's credentials (an agent's signature over the final bytes, the owner's
session, the admin token, a PEP token) and, for path parameters, an id that exists, so that the
cases reach the handlers; the others carry what the fuzzer made up.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from openleash.api.app import create_app
from openleash.config import Settings
from tests.fuzz.asgi import Request, Response
from tests.fuzz.deployment import ADMIN_TOKEN, PEP_TOKEN, Deployment, deployed

DEFAULT_EXAMPLES = 8
EXAMPLES = int(os.environ.get("OPENLEASH_OPENAPI_EXAMPLES", DEFAULT_EXAMPLES))
BASE_URL = "http://127.0.0.1:8787"

DOCUMENT: dict[str, Any] = create_app(Settings(data_dir=Path("/nonexistent-conformance"))).openapi()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = sorted(
    (method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item
)
CHECKS = [status_code_conformance, response_schema_conformance]


def _schemes(method: str, path: str) -> set[str]:
    op = DOCUMENT["paths"][path][method.lower()]
    return {name for requirement in op.get("security", []) for name in requirement}


def _credentials(
    method: str, path: str, d: Deployment, request: httpx.Request, body: bytes
) -> dict[str, str]:
    schemes = _schemes(method, path)
    if "agentSignature" in schemes and (not schemes - {"agentSignature"} or len(body) % 2):
        return d.agent_headers(method, request.url.raw_path.split(b"?")[0], body)
    if "adminToken" in schemes:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    if "pepToken" in schemes:
        return {"Authorization": f"Bearer {PEP_TOKEN}"}
    if "ownerSession" in schemes and path != "/v1/owner/logout":  # the others need the session
        return {"Authorization": f"Bearer {d.owner.token}"}
    return {}


def _request(case: Any, d: Deployment, authenticate: bool) -> Request:
    """The case as raw bytes for the application, with credentials when ``authenticate``."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    headers = dict(kwargs.get("headers") or {})
    headers.pop("X-Schemathesis-TestCaseId", None)
    cookies = kwargs.get("cookies") or {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    built = httpx.Request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=headers,
        json=kwargs.get("json"),
        content=kwargs.get("data"),
    )
    body = built.read()
    if authenticate:
        method, path = case.operation.method.upper(), case.operation.path
        for name, value in _credentials(method, path, d, built, body).items():
            built.headers[name] = value
    raw_path, _, query = built.url.raw_path.partition(b"?")
    headers_raw = tuple((name.lower(), value) for name, value in built.headers.raw)
    return Request(built.method, raw_path, query, headers_raw, body)


def _as_httpx(request: Request, response: Response) -> httpx.Response:
    target = request.raw_path.decode("latin-1")
    if request.query:
        target += "?" + request.query.decode("latin-1")
    answer = httpx.Response(
        response.status,
        headers=response.headers,
        content=response.body,
        request=httpx.Request(request.method, BASE_URL + target),
    )
    answer.elapsed = timedelta(seconds=response.seconds)
    return answer


@st.composite
def cases(draw: st.DrawFn, method: str, path: str, d: Deployment) -> tuple[Any, Request]:
    operation = SCHEMA[path][method]
    mode = draw(st.sampled_from((GenerationMode.POSITIVE,) * 3 + (GenerationMode.NEGATIVE,)))
    case = draw(operation.as_strategy(generation_mode=mode), label="case")
    for name in list(case.path_parameters or {}):
        known = d.known.get(name)
        if known and draw(st.booleans(), label=f"known {name}"):
            case.path_parameters[name] = draw(st.sampled_from(known))
    authenticate = draw(st.sampled_from((True,) * 5 + (False,)), label="authenticate")
    return case, _request(case, d, authenticate)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[" ".join(op) for op in OPERATIONS])
def test_every_answer_is_documented(method: str, path: str, tmp_path: Path) -> None:
    with deployed(tmp_path) as d:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(st.data())
        def conforms(data: st.DataObject) -> None:
            case, request = data.draw(cases(method, path, d), label="request")
            response = d.send(request)
            assert response.status < 500, f"{request.show()} -> {response.status} {response.body!r}"
            case.validate_response(_as_httpx(request, response), checks=CHECKS)

        conforms()
