"""``POST /v1/authorize`` in the OpenAPI document: its models describe what the hand-written
fast path really reads and answers (the official vectors, real decisions, real refusals)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from openleash.api.errors import STATUS_BY_CODE
from openleash.api.wire import authorize as wire
from openleash.client import AgentAuth
from openleash.config import Settings
from openleash.domain.action import parse_action
from openleash.domain.errors import OpenLeashError
from openleash.domain.timefmt import iso_ms
from openleash.service.agent_auth import SIGNING_HEADERS
from tests.api.conftest import BASE_URL, Api, running_api, upsert
from tests.api.owners import owner_session
from tests.support.vectors import official_vectors

JSON = "application/json"
PLAYGROUND = Path(__file__).resolve().parents[2] / "src" / "openleash" / "playground"

POLICY = """\
version: 1
default: deny
rules:
  - id: small
    effect: allow
    action: purchase
    constraints: { amount_max: 20000 }
    proof: { required: true }
    limits:
      - { spend: 60000, window: 30d, by: [currency] }
      - { count: 10, window: 1h }
  - id: large
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
  - id: gov
    effect: allow
    action: government.submit
    requirements: { min_assurance_level: SUBSTANTIAL }
  - id: no_mail
    effect: deny
    action: communication.send
"""


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path / "data", admin_token="s3cret-admin-token")
    for running in running_api(settings):
        for p in running.client.get("/v1/admin/policies").json()["policies"]:
            running.run(running.services.policies.delete(p["policy_id"]))
        running.run(upsert(running.services, running.agent.owner_id, POLICY))
        yield running


def _document(api: Api) -> dict[str, Any]:
    response = api.client.get("/reference/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of ``schema`` whose references resolve in ``document``."""
    return Draft202012Validator({**schema, "components": document["components"]})


def _operation(document: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"]["/v1/authorize"]["post"]
    return operation


def _request_validator(document: dict[str, Any]) -> Draft202012Validator:
    body = _operation(document)["requestBody"]["content"]["application/json"]["schema"]
    return _validator(document, body)


def _answer_validator(document: dict[str, Any], status: int) -> Draft202012Validator:
    answer = _operation(document)["responses"][str(status)]
    return _validator(document, answer["content"]["application/json"]["schema"])


def _authorize(api: Api, body: dict[str, Any]) -> httpx.Response:
    response: httpx.Response = api.signed("POST", "/v1/authorize", json.dumps(body).encode())
    return response


# ---- the document ---------------------------------------------------------------------------


def test_the_document_describes_the_path_its_security_and_every_status(api: Api) -> None:
    document = _document(api)
    operation = _operation(document)
    assert list(document["paths"]["/v1/authorize"]) == ["post"]
    assert operation["security"] == [{"agentSignature": []}]
    scheme = document["components"]["securitySchemes"]["agentSignature"]
    assert scheme["type"] == "apiKey"
    assert scheme["in"] == "header"
    headers = [p for p in operation["parameters"] if p["in"] == "header"]
    assert [p["name"].lower() for p in headers] == list(SIGNING_HEADERS)
    assert all(p["required"] and p["description"] and p["example"] for p in headers)
    assert operation["requestBody"]["required"] is True
    assert set(operation["responses"]) == {
        "200",
        "400",
        "401",
        "403",
        "404",
        "413",
        "429",
        "431",
        "500",
        "503",
    }
    for status, answer in operation["responses"].items():
        if status == "200":
            continue
        assert answer["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorEnvelope"
        }
        listed = [code for code in wire.ERRORS if f"`{code}`" in answer["description"]]
        assert listed, status
        assert {STATUS_BY_CODE[code] for code in listed} == {int(status)}
    assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_every_field_of_the_models_is_described(api: Api) -> None:
    schemas = _document(api)["components"]["schemas"]
    for name in ("AuthorizeRequest", "ActionRelyingParty", "AuthorizeResponse", "DecisionLimit"):
        for field, schema in schemas[name]["properties"].items():
            assert schema.get("description"), f"{name}.{field}"


def test_the_examples_of_the_signing_headers_are_the_official_vector() -> None:
    vectors = json.loads(official_vectors().read_text(encoding="utf-8"))
    examples = {p["name"]: p["example"] for p in wire.operation()["parameters"]}
    assert examples["X-Agent-Id"] == vectors["action"]["principal"]["agent_id"]
    assert examples["X-Body-Sha256"] == vectors["body_sha256"]
    assert examples["X-Signature"] == vectors["signature_b64"]
    _, _, timestamp, nonce, _ = vectors["signing_input"].split("\n")
    assert (examples["X-Timestamp"], examples["X-Nonce"]) == (timestamp, nonce)


# ---- requests -------------------------------------------------------------------------------


def _vector_requests() -> list[dict[str, Any]]:
    vectors = json.loads(official_vectors().read_text(encoding="utf-8"))
    scenarios = [
        json.loads(path.read_text(encoding="utf-8")) for path in sorted(PLAYGROUND.glob("*.json"))
    ]
    return [vectors["action"], *scenarios]


def test_the_request_schema_accepts_every_official_vector_request(api: Api) -> None:
    validator = _request_validator(_document(api))
    requests = _vector_requests()
    assert len(requests) > 1
    for request in requests:
        parse_action(request)  # the hand decoder accepts it too
        assert not list(validator.iter_errors(request)), request
        with_token = {**request, "approval_token": "v4.public.x", "context": {"ignored": True}}
        assert not list(validator.iter_errors(with_token))


def _decoder_accepts(body: dict[str, Any]) -> bool:
    """What the fast path's hand decoding makes of a JSON object: accepted, or refused before
    any policy is read (the approval token, then the action)."""
    token = body.get("approval_token")
    if token is not None and token != "" and not isinstance(token, str):
        return False
    try:
        parse_action(body)
    except OpenLeashError:
        return False
    return True


_UUIDS = ["00000000-0000-0000-0000-000000000009", "0000000-0000-0000-0000-000000000009"]
_VALUES = st.sampled_from(
    [None, 0, 1.5, True, "", "x", "purchase", "LOW", "HIGH", "SOMETIMES", [], {}, {"a": 1}, *_UUIDS]
)
_PLACES = st.sampled_from(
    [
        ("action_id",),
        ("action_type",),
        ("requested_at",),
        ("principal",),
        ("principal", "agent_id"),
        ("subject",),
        ("subject", "principal_id"),
        ("relying_party",),
        ("relying_party", "rp_id"),
        ("relying_party", "domain"),
        ("relying_party", "trust_profile"),
        ("payload",),
        ("approval_token",),
        ("unknown",),
    ]
)


@st.composite
def _mutated(draw: st.DrawFn) -> dict[str, Any]:
    body = copy.deepcopy(draw(st.sampled_from(_vector_requests())))
    for _ in range(draw(st.integers(1, 3))):
        place = draw(_PLACES)
        parent = body
        for key in place[:-1]:
            if not isinstance(parent.get(key), dict):
                parent[key] = {}
            parent = parent[key]
        if draw(st.booleans()):
            parent.pop(place[-1], None)
        else:
            parent[place[-1]] = draw(_VALUES)
    return body


#: The request schema as the application documents it, without an application.
_OFFLINE_REQUEST = _request_validator(wire.add_to_openapi({"paths": {}, "components": {}}))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_mutated())
def test_the_request_schema_accepts_what_the_hand_decoder_accepts(body: dict[str, Any]) -> None:
    valid = not list(_OFFLINE_REQUEST.iter_errors(body))
    assert valid is _decoder_accepts(body), body


# ---- answers --------------------------------------------------------------------------------


def _decisions(api: Api) -> list[dict[str, Any]]:
    """One answer of each kind the server gives: allowed under limits with a proof, held for
    approval, held for a step-up, denied by a rule and by default, allowed by an approval."""
    agent = api.agent
    answers = [
        _authorize(api, agent.action(amount_minor=500, currency="USD")),
        _authorize(api, {**agent.action(form="x"), "action_type": "government.submit"}),
        _authorize(api, {**agent.action(to="x"), "action_type": "communication.send"}),
        _authorize(api, {**agent.action(), "action_type": "unknown.thing"}),
    ]
    action = agent.action(amount_minor=50_000, currency="EUR")
    held = _authorize(api, action).json()
    assert held["result"] == "REQUIRE_APPROVAL"
    filed = api.signed(
        "POST",
        "/v1/agent/approval-requests",
        json.dumps({"decision_id": held["decision_id"], "action": action}).encode(),
    ).json()
    owner = owner_session(api)
    approved = owner.post(f"/v1/owner/approval-requests/{filed['approval_request_id']}/approve")
    answers.append(_authorize(api, {**action, "approval_token": approved.json()["approval_token"]}))
    assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
    return [held, *(answer.json() for answer in answers)]


def test_real_decisions_validate_against_the_documented_answer(api: Api) -> None:
    validator = _answer_validator(_document(api), 200)
    decisions = _decisions(api)
    results = {(d["result"], "limits" in d, "approval" in d) for d in decisions}
    assert results == {
        ("ALLOW", True, False),
        ("REQUIRE_APPROVAL", False, False),
        ("REQUIRE_STEP_UP", False, False),
        ("DENY", False, False),
        ("ALLOW", False, True),
    }
    for decision in decisions:
        assert not list(validator.iter_errors(decision)), decision


def test_an_undocumented_field_in_a_decision_would_fail_validation(api: Api) -> None:
    validator = _answer_validator(_document(api), 200)
    decision = _authorize(api, api.agent.action(amount_minor=500, currency="USD")).json()
    assert not list(validator.iter_errors(decision))
    assert list(validator.iter_errors({**decision, "surprise": 1}))
    assert list(validator.iter_errors({k: v for k, v in decision.items() if k != "reason"}))


def _refusals(api: Api) -> list[httpx.Response]:
    action = api.agent.action(amount_minor=1, currency="USD")
    body = json.dumps(action).encode()
    signed = api.signed("POST", "/v1/authorize", body)
    assert signed.status_code == 200
    other = {**action, "principal": {"agent_id": "someone-else"}}
    return [
        api.client.post("/v1/authorize", content=body),  # MISSING_HEADERS
        api.signed("POST", "/v1/authorize", b"{not json"),  # INVALID_JSON
        _authorize(api, {"action_id": 5}),  # INVALID_ACTION_REQUEST
        _authorize(api, {**action, "approval_token": 5}),  # INVALID_APPROVAL_TOKEN
        _authorize(api, other),  # AGENT_MISMATCH
        api.client.post("/v1/authorize", content=b"x" * 1_048_577),  # PAYLOAD_TOO_LARGE
        api.client.post("/v1/authorize", content=body, headers=signed.request.headers),  # replay
    ]


def test_real_refusals_are_documented_with_their_code(api: Api) -> None:
    document = _document(api)
    responses = _operation(document)["responses"]
    codes = []
    for refusal in _refusals(api):
        envelope = refusal.json()
        code = envelope["error"]["code"]
        codes.append(code)
        assert str(refusal.status_code) in responses, code
        assert f"`{code}`" in responses[str(refusal.status_code)]["description"]
        assert not list(_answer_validator(document, refusal.status_code).iter_errors(envelope))
    assert codes == [
        "MISSING_HEADERS",
        "INVALID_JSON",
        "INVALID_ACTION_REQUEST",
        "INVALID_APPROVAL_TOKEN",
        "AGENT_MISMATCH",
        "PAYLOAD_TOO_LARGE",
        "NONCE_REPLAY",
    ]


def test_every_documented_code_has_a_status_in_the_table() -> None:
    assert set(wire.ERRORS) <= set(STATUS_BY_CODE)


# ---- one handler ----------------------------------------------------------------------------


def test_the_application_without_the_fast_path_serves_the_path_with_the_same_handler(
    api: Api,
) -> None:
    inner = api.client.app.app  # create_asgi's application, behind the fast path
    body = json.dumps(api.agent.action(amount_minor=500, currency="USD")).encode()
    auth = AgentAuth(
        api.agent.agent_id, api.agent.private_key_b64, clock=lambda: iso_ms(api.clock())
    )
    headers = {**auth.sign_headers("POST", "/v1/authorize", body), "Content-Type": JSON}

    async def send() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=inner, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            posted = await client.post("/v1/authorize", content=body, headers=headers)
            return posted, await client.get("/v1/authorize")

    posted, read = api.run(send())
    assert posted.status_code == 200, posted.text
    assert posted.json()["result"] == "ALLOW"
    assert read.status_code == 405
    assert read.headers["allow"] == "POST"
    assert read.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
