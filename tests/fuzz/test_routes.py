"""Every route, hostile input: no 5xx, no hang, refusals in the error envelope.

Each route (:func:`tests.fuzz.routes.operations`, read from the application) gets a fresh
deployment and ``OPENLEASH_FUZZ_EXAMPLES`` requests (default :data:`DEFAULT_EXAMPLES`), drawn
reproducibly (``derandomize``): most carry valid credentials for the route (an agent's
signature, the owner's session, the admin token, an AuthZEN PEP token), so the input reaches
the handler; some carry none or garbage.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openleash.api.app import create_app
from openleash.config import Settings
from tests.fuzz import inputs
from tests.fuzz.asgi import Request, Response
from tests.fuzz.deployment import ADMIN_TOKEN, PEP_TOKEN, Deployment, deployed
from tests.fuzz.routes import EXCLUDED, Operation, operations, routes_of

DEFAULT_EXAMPLES = 20
EXAMPLES = int(os.environ.get("OPENLEASH_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")

_APP = create_app(Settings(data_dir=Path("/nonexistent-fuzz-route-listing")))
OPERATIONS = operations(_APP)


def test_every_route_is_fuzzed_or_excluded_with_a_reason() -> None:
    served = routes_of(_APP)
    fuzzed = {(op.method, op.path) for op in OPERATIONS}
    assert served == fuzzed | set(EXCLUDED), "a route is neither fuzzed nor excluded"
    assert all(reason.strip() for reason in EXCLUDED.values())
    documented = {
        (method.upper(), path) for path, item in _APP.openapi()["paths"].items() for method in item
    }
    assert documented <= fuzzed, "every operation of the OpenAPI document is fuzzed"


def _template(op: Operation, d: Deployment) -> dict[str, Any] | None:
    """A valid body for the routes whose handlers need one to go deep."""
    if op.path == "/v1/authorize":
        return d.api.agent.action(amount_minor=100, currency="USD")
    if op.path == "/v1/agent/approval-requests":
        return {"decision_id": "x", "action": d.api.agent.action(amount_minor=1)}
    if op.path in ("/access/v1/evaluation", "/access/v1/evaluations"):
        return {
            "subject": {"type": "agent", "id": d.api.agent.agent_id},
            "action": {"name": "purchase"},
            "resource": {"type": "order", "properties": {"amount_minor": 100}},
        }
    if "polic" in op.path and op.method in ("POST", "PUT"):
        return {"policy_yaml": "version: 1\ndefault: deny\nrules: []\n", "name": "n"}
    return None


@st.composite
def requests(draw: st.DrawFn, op: Operation, d: Deployment) -> Request:
    path = op.path.encode()
    for name in op.params:
        segment = draw(inputs.segments(d.known.get(name, [])))
        path = path.replace(b"{" + name.encode() + b"}", segment, 1)
    query = draw(inputs.queries(op.query))
    body = (
        b""
        if op.method in ("GET", "HEAD") and draw(st.booleans())
        else draw(inputs.bodies(_template(op, d)))
    )
    headers: list[tuple[bytes, bytes]] = []
    content_type = draw(inputs.content_types())
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))
    headers.append((b"content-length", str(len(body)).encode()))
    # Mostly valid credentials, so that the input gets past authentication to the handler.
    credentials = draw(st.sampled_from(("valid",) * 6 + ("none", "garbage")))
    headers += _credentials(op, d, credentials, path, body)
    taken = {name for name, _ in headers} if credentials == "valid" else set()
    headers += [h for h in draw(inputs.odd_headers()) if h[0] not in taken]
    return Request(op.method, path, query, tuple(headers), body)


def _credentials(
    op: Operation, d: Deployment, which: str, path: bytes, body: bytes
) -> list[tuple[bytes, bytes]]:
    if which == "none" or op.auth == "none":
        return []
    if which == "garbage":
        return [
            (b"authorization", b"Bearer v4.public.garbage"),
            (b"cookie", b"openleash_session=x"),
        ]
    if op.auth == "agent" or (op.auth == "pep" and len(body) % 2):
        signed = d.agent_headers(op.method, path, body)
        return [(k.lower().encode(), v.encode()) for k, v in signed.items()]
    if op.auth == "admin":
        return [(b"authorization", f"Bearer {ADMIN_TOKEN}".encode())]
    if op.auth == "pep":
        return [(b"authorization", f"Bearer {PEP_TOKEN}".encode())]
    if op.path == "/v1/owner/logout":
        return []  # keep the session: the other examples need it
    if op.auth == "owner":
        return [(b"authorization", f"Bearer {d.owner.token}".encode())]
    return [  # the portal: the session cookie, and its CSRF token as a header
        (b"cookie", f"openleash_session={d.owner.token}".encode()),
        (b"x-csrf-token", d.owner.csrf_token.encode()),
    ]


def check(op: Operation, request: Request, response: Response) -> None:
    shown = f"{op.id}: {request.show()} -> {response.status} {response.body[:500]!r}"
    assert response.status < 500, shown
    if response.status in (204, 304) or 300 <= response.status < 400 or op.method == "HEAD":
        return
    is_json = response.content_type == b"application/json"
    if op.json:
        assert is_json, f"not JSON ({response.content_type!r}): {shown}"
    if is_json:
        try:
            answer = json.loads(response.body)
        except ValueError:
            raise AssertionError(f"unparseable JSON: {shown}") from None
        if 400 <= response.status < 500:
            _check_envelope(answer, shown)


def _check_envelope(answer: Any, shown: str) -> None:
    error = answer.get("error") if isinstance(answer, dict) else None
    assert isinstance(error, dict), f"no error envelope: {shown}"
    assert isinstance(error.get("code"), str), shown
    assert CODE.fullmatch(error["code"]), shown
    assert isinstance(error.get("message"), str), shown
    assert "details" not in error or isinstance(error["details"], dict), shown


def _known_hostile(op: Operation, d: Deployment) -> list[Request]:
    """Every sample of :data:`inputs.SAMPLES`, validly signed, as JSON and (for the portal's
    forms) as a form: these are tried on every route, whatever the random draws."""
    path = op.path.encode()
    for name in op.params:
        known = d.known.get(name) or ["x"]
        path = path.replace(b"{" + name.encode() + b"}", known[0].encode(), 1)
    kind = b"application/x-www-form-urlencoded" if op.portal else b"application/json"
    found = []
    for body in inputs.SAMPLES:
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        headers += _credentials(op, d, "valid", path, body)
        found.append(Request(op.method, path, b"", tuple(headers), body))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.id)
def test_hostile_requests_get_no_5xx_no_hang_and_the_envelope(
    op: Operation, tmp_path: Path
) -> None:
    with deployed(tmp_path) as d:
        failures = []
        for request in _known_hostile(op, d):
            try:
                check(op, request, d.send(request))
            except (AssertionError, TimeoutError) as failed:
                failures.append(f"{type(failed).__name__}: {failed}"[:1500])

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(st.data())
        def survives(data: st.DataObject) -> None:
            request = data.draw(requests(op, d), label="request")
            check(op, request, d.send(request))

        try:
            survives()
        except Exception as failed:  # reported together with the samples' failures
            failures.append(f"random input: {type(failed).__name__}: {failed}"[:3000])
        assert not failures, "\n".join(failures)
