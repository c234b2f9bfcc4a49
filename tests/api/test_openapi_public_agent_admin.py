"""The OpenAPI document of the public, agent, admin, AuthZEN and metrics routes.

Every operation of those routes documents its body, its answer, its refusals and who may call
it; the running application's real answers (successes and refusals) are valid against the
served document, read strictly (an answer may carry no property the document does not name);
every model's example is valid too; and the whole document is valid OpenAPI 3.1.
"""

from __future__ import annotations

import base64
import copy
import importlib
import json
import pkgutil
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator
from pydantic import BaseModel

import openleash.api.wire
from openleash.api import admin, agent, authzen, metrics, public
from openleash.api.app import create_app
from openleash.api.wire import agent as agent_wire
from openleash.api.wire import authzen as authzen_wire
from openleash.config import Settings
from openleash.crypto import sign
from openleash.domain.action import TRUST_PROFILES
from openleash.domain.errors import StoreUnavailableError
from openleash.policy.model import RISK_LEVELS
from openleash.service.authzen import SEMANTICS
from tests.api.conftest import Agent, Api, from_address, new_agent_keys, running_api, upsert
from tests.api.owners import owner_session

PEP_TOKEN = "pep-token-for-the-openapi-tests"
ADMIN_TOKEN = "s3cret-admin-token"
#: A caller that is not on this machine: admin routes want the token from it.
REMOTE = "203.0.113.9"
POLICY = """\
version: 1
default: deny
rules:
  - id: small_purchases
    effect: allow
    action: purchase
    constraints: { amount_max: 10000 }
    limits:
      - spend: 15000
        window: 24h
        by: [currency]
    proof: { required: true, ttl_seconds: 60 }
  - id: large_purchases
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""

#: The routes this document covers: every route of these modules but POST /v1/authorize (it is
#: documented with the authorize route's own models).
ROUTERS = (public.router, agent.router, admin.router, metrics.router, authzen.router)
NOT_HERE = {("POST", "/v1/authorize")}
WIRE_MODULES = ("public", "agent", "admin", "authzen")

_STATIC_APP = create_app(Settings(data_dir=Path("/nonexistent-openapi-document")))
DOCUMENT: dict[str, Any] = _STATIC_APP.openapi()


def _operations() -> list[tuple[str, str]]:
    found = {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        for method in getattr(route, "methods", ())
    }
    return sorted(found - NOT_HERE)


OPERATIONS = _operations()
#: Operations that take a JSON body.
WITH_BODY = {
    ("POST", "/v1/verify-proof"),
    ("POST", "/v1/playground/run"),
    ("POST", "/v1/agents/registration-challenge"),
    ("POST", "/v1/agents/register"),
    ("POST", "/v1/agents/register-with-invite"),
    ("POST", "/v1/agent/approval-requests"),
    ("POST", "/v1/agent/policy-drafts"),
    ("POST", "/v1/admin/users"),
    ("POST", "/access/v1/evaluation"),
    ("POST", "/access/v1/evaluations"),
}
#: Query parameters each operation must document.
QUERIES = {
    ("GET", "/v1/agents/register-with-invite"): {"invite_id", "invite_token"},
    ("POST", "/v1/agents/register-with-invite"): {"invite_id", "invite_token"},
    ("GET", "/v1/agent/policy-drafts"): {"status"},
    ("GET", "/v1/admin/agents"): {"owner_id"},
    ("GET", "/v1/admin/policies"): {"owner_id"},
    ("GET", "/v1/admin/audit"): {
        "limit",
        "cursor",
        "owner_id",
        "agent_principal_id",
        "event_type",
        "principal_id",
        "action_type",
        "result",
        "since",
        "until",
    },
}


def _op(method: str, path: str, document: dict[str, Any] = DOCUMENT) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method.lower()]
    return operation


def _security(path: str) -> list[dict[str, list[str]]]:
    if path.startswith("/v1/agent/"):
        return [{"agentSignature": []}]
    if path.startswith("/v1/admin/") or path == "/metrics":
        return [{"adminToken": []}]
    if path.startswith("/access/v1/"):
        return [{"pepToken": []}, {"agentSignature": []}]
    return []


# -- every operation says what it takes, what it answers, and who may call ------------------


def test_the_routes_here_are_the_ones_expected() -> None:
    assert not NOT_HERE & set(OPERATIONS)
    assert {("GET", "/metrics"), ("GET", "/v1/admin/audit"), ("GET", "/v1/health")} <= set(
        OPERATIONS
    )
    assert set(OPERATIONS) >= WITH_BODY
    assert set(OPERATIONS) >= set(QUERIES)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[" ".join(op) for op in OPERATIONS])
def test_each_operation_documents_body_answers_errors_and_security(method: str, path: str) -> None:
    op = _op(method, path)
    assert op.get("summary"), "a summary"
    assert op["security"] == _security(path)
    if (method, path) in WITH_BODY:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert schema["$ref"].startswith("#/components/schemas/")
        assert op["requestBody"]["required"] is True
    else:
        assert "requestBody" not in op
    responses = op["responses"]
    ok = responses["200"]["content"]
    if path == "/metrics":
        assert ok == {"text/plain": {"schema": {"type": "string"}}}
    else:
        assert set(ok) == {"application/json"}
        assert ok["application/json"]["schema"]["$ref"].startswith("#/components/schemas/")
    errors = {status: r for status, r in responses.items() if int(status) >= 400}
    assert any(400 <= int(status) < 500 for status in errors)
    assert "422" not in responses, "the framework's validation error is never answered"
    for status, response in errors.items():
        if (method, path, status) == ("GET", "/v1/health", "503"):
            continue  # not ready: the health body itself
        assert response["content"] == {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}
        }, status
    if path.startswith(("/v1/agent/", "/access/v1/")):
        assert {"400", "401", "403"} <= set(errors)
    if path.startswith("/v1/admin/") or path == "/metrics":
        assert "401" in errors
    if method in ("POST", "DELETE") and path.startswith("/v1/admin/"):
        assert "415" in errors, "a change that is not JSON is refused by the browser guard"
    if "{" in path:
        assert "404" in errors


@pytest.mark.parametrize(
    ("method", "path"), sorted(QUERIES), ids=[" ".join(op) for op in sorted(QUERIES)]
)
def test_query_parameters_are_documented_and_optional(method: str, path: str) -> None:
    params = [p for p in _op(method, path).get("parameters", []) if p["in"] == "query"]
    assert {p["name"] for p in params} == QUERIES[(method, path)]
    for param in params:
        assert param["required"] is False
        assert param.get("description"), param["name"]


def test_the_audit_limit_is_documented_as_the_number_it_is() -> None:
    [limit] = [p for p in _op("GET", "/v1/admin/audit")["parameters"] if p["name"] == "limit"]
    assert limit["schema"]["type"] == "integer"
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 500)


def _wire_models() -> dict[str, type[BaseModel]]:
    """Every model of the wire package, by name, that the modules here define."""
    found: dict[str, type[BaseModel]] = {}
    for info in pkgutil.iter_modules(openleash.api.wire.__path__):
        module = importlib.import_module(f"openleash.api.wire.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
                and not value.__name__.startswith("_")
                and "[" not in value.__name__  # a parametrized generic (RootModel[...])
            ):
                assert found.get(value.__name__, value) is value, (
                    f"two wire models are named {value.__name__}: their schemas would collide "
                    "in components.schemas"
                )
                found[value.__name__] = value
    return found


def _mine() -> dict[str, type[BaseModel]]:
    modules = {f"openleash.api.wire.{name}" for name in WIRE_MODULES}
    return {name: m for name, m in _wire_models().items() if m.__module__ in modules}


def test_wire_model_names_are_unique_and_every_model_here_is_in_the_document() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    missing = sorted(set(_mine()) - set(schemas))
    assert not missing, f"models no operation refers to: {missing}"


def _has_example(schema: dict[str, Any]) -> bool:
    if schema.get("examples"):
        return True
    return any(prop.get("examples") for prop in schema.get("properties", {}).values())


def _fields_described(schema: dict[str, Any]) -> list[str]:
    return [
        name for name, prop in schema.get("properties", {}).items() if not prop.get("description")
    ]


@pytest.mark.parametrize("name", sorted(_mine()))
def test_each_model_has_described_fields_and_an_example_that_is_valid(name: str) -> None:
    schema = DOCUMENT["components"]["schemas"][name]
    assert not _fields_described(schema), f"fields without a description in {name}"
    if "anyOf" not in schema:
        assert _has_example(schema), f"{name} has no example"
    for example in schema.get("examples", []):
        _validate(example, {"$ref": f"#/components/schemas/{name}"}, DOCUMENT)


def test_the_literals_spell_what_the_engine_defines() -> None:
    assert typing.get_args(agent_wire.RiskLevel) == RISK_LEVELS
    assert typing.get_args(agent_wire.TrustProfile) == TRUST_PROFILES
    assert typing.get_args(authzen_wire.EvaluationsSemantic) == SEMANTICS


# -- the document is OpenAPI 3.1 ----------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1")
    OpenAPIV31SpecValidator(DOCUMENT).validate()


# -- the real answers are what the document says ------------------------------------------------


def _strict(node: Any) -> Any:
    """``node`` with every object schema that names properties closed to other properties."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    closed = {k: (v if k == "examples" else _strict(v)) for k, v in node.items()}
    if "properties" in closed and "additionalProperties" not in closed:
        closed["additionalProperties"] = False
    return closed


def _validate(instance: Any, schema: dict[str, Any], document: dict[str, Any]) -> None:
    root = {**schema, "components": _strict(copy.deepcopy(document["components"]))}
    jsonschema.Draft202012Validator(root).validate(instance)


class Answers:
    """Checks real answers against the served document and counts what was checked."""

    def __init__(self, api: Api) -> None:
        self.api = api
        served = api.client.get("/reference/openapi.json")
        assert served.status_code == 200
        self.document: dict[str, Any] = served.json()
        self.seen: dict[tuple[str, str], set[int]] = {}

    def check(self, method: str, path: str, response: Any, expected: int) -> Any:
        """Validate ``response`` (of the operation ``method path``) and return its JSON."""
        assert response.status_code == expected, response.text
        documented = _op(method, path, self.document)["responses"]
        status = str(response.status_code)
        assert status in documented, f"{method} {path} answered {status}, undocumented"
        self.seen.setdefault((method, path), set()).add(response.status_code)
        content = documented[status]["content"]
        media = response.headers["content-type"].split(";", 1)[0].strip()
        assert media in content, f"{method} {path} {status}: {media} is not documented"
        if media != "application/json":
            return response.text
        body = response.json()
        _validate(body, content[media]["schema"], self.document)
        return body

    def assert_covered(self, operations: list[tuple[str, str]]) -> None:
        for operation in operations:
            statuses = self.seen.get(operation, set())
            assert any(s < 300 for s in statuses), f"no success checked for {operation}"
            assert any(s >= 400 for s in statuses), f"no refusal checked for {operation}"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN, authzen_pep_tokens=(PEP_TOKEN,)
    )
    for running in running_api(settings):
        for p in running.client.get("/v1/admin/policies").json()["policies"]:
            running.run(running.services.policies.delete(p["policy_id"]))
        running.run(upsert(running.services, running.agent.owner_id, POLICY))
        yield running


@pytest.fixture
def answers(api: Api) -> Answers:
    return Answers(api)


def _signed(api: Api, method: str, path: str, body: Any = None, who: Agent | None = None) -> Any:
    raw = json.dumps(body).encode() if body is not None else b""
    return api.signed(method, path, raw, agent=who)


def _code(body: Any) -> str:
    return str(body["error"]["code"])


async def _stalled(*args: Any, **kwargs: Any) -> Any:
    """A stand-in that fails the way a stalled store does."""
    raise StoreUnavailableError("STORE_UNAVAILABLE", "The store did not answer in time")


def _fault(*args: Any, **kwargs: Any) -> Any:
    """A stand-in for a function that fails unexpectedly (a fault of the server)."""
    raise RuntimeError("a fault injected by the test")


#: What each test below exercises: each of these operations answers a success and a refusal.
BASICS = [
    ("GET", "/v1/health"),
    ("GET", "/v1/public-keys"),
    ("GET", "/v1/agents/policy-schema"),
    ("GET", "/.well-known/authzen-configuration"),
]
PROOFS_AND_PLAYGROUND = [("POST", "/v1/verify-proof"), ("POST", "/v1/playground/run")]
ENROLMENT = [
    ("POST", "/v1/agents/registration-challenge"),
    ("POST", "/v1/agents/register"),
    ("GET", "/v1/agents/register-with-invite"),
    ("POST", "/v1/agents/register-with-invite"),
]
AGENT = [op for op in OPERATIONS if op[1].startswith("/v1/agent/")]
ADMIN_PEOPLE = [
    op for op in OPERATIONS if op[1].startswith(("/v1/admin/users", "/v1/admin/agents"))
] + [("GET", "/metrics")]
ADMIN_STATE = [
    op for op in OPERATIONS if op[1].startswith(("/v1/admin/policies", "/v1/admin/keys"))
] + [("GET", "/v1/admin/audit")]
AUTHZEN = [("POST", "/access/v1/evaluation"), ("POST", "/access/v1/evaluations")]


def test_the_tests_below_answer_every_operation() -> None:
    groups = [BASICS, PROOFS_AND_PLAYGROUND, ENROLMENT, AGENT, ADMIN_PEOPLE, ADMIN_STATE, AUTHZEN]
    every = [op for group in groups for op in group]
    assert sorted(every) == OPERATIONS


def test_health_keys_and_the_static_documents(
    api: Api, answers: Answers, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = api.client
    assert answers.check("GET", "/v1/health", c.get("/v1/health"), 200)["status"] == "ok"
    assert answers.check("GET", "/v1/public-keys", c.get("/v1/public-keys"), 200)["keys"]
    for path in ("/v1/agents/policy-schema", "/.well-known/authzen-configuration"):
        answers.check("GET", path, c.get(path), 200)

    async def failing() -> str:
        return "failing"

    with monkeypatch.context() as patch:
        patch.setattr(api.services.store, "readiness", failing)
        down = answers.check("GET", "/v1/health", c.get("/v1/health"), 503)
        assert (down["status"], down["store"]) == ("unavailable", "failing")
    with monkeypatch.context() as patch:
        patch.setattr(api.services.runtime, "snapshot", _stalled)
        stalled = answers.check("GET", "/v1/public-keys", c.get("/v1/public-keys"), 503)
        assert _code(stalled) == "STORE_UNAVAILABLE"
    with monkeypatch.context() as patch:
        patch.setattr(public, "policy_schema_document", _fault)
        patch.setattr(authzen.authzen, "configuration", _fault)
        for path in ("/v1/agents/policy-schema", "/.well-known/authzen-configuration"):
            # Not through the test client, which would raise the fault instead of answering.
            fault = from_address(api, "127.0.0.1", "GET", path)
            assert _code(answers.check("GET", path, fault, 500)) == "INTERNAL_ERROR"
    answers.assert_covered(BASICS)


def test_proof_verification_and_the_playground(api: Api, answers: Answers) -> None:
    c, path = api.client, "/v1/verify-proof"
    allowed = api.agent.action(amount_minor=100, currency="EUR")
    token = _signed(api, "POST", "/v1/authorize", allowed).json()["proof_token"]
    assert answers.check("POST", path, c.post(path, json={"token": token}), 200)["valid"]
    mismatch = c.post(path, json={"token": token, "expected_agent_id": "someone-else"})
    verdict = answers.check("POST", path, mismatch, 200)
    assert verdict == {"valid": False, "reason": "agent_id mismatch", "claims": verdict["claims"]}
    assert answers.check("POST", path, c.post(path, json={}), 200) == {
        "valid": False,
        "reason": "Missing token",
    }
    not_json = c.post(path, content=b"token", headers={"Content-Type": "text/plain"})
    assert _code(answers.check("POST", path, not_json, 415)) == "UNSUPPORTED_MEDIA_TYPE"
    broken = c.post(path, content=b"{", headers={"Content-Type": "application/json"})
    assert _code(answers.check("POST", path, broken, 400)) == "INVALID_JSON"

    path = "/v1/playground/run"
    run = {"policy_yaml": POLICY, "action": api.agent.action(amount_minor=100, currency="EUR")}
    ran = answers.check("POST", path, c.post(path, json=run), 200)
    # The playground knows no usage: the limited rule does not hold, the next one asks.
    assert ran["decision"]["obligations"][0]["type"] == "HUMAN_APPROVAL"
    assert ran["decision"]["explanation"]
    assert ran["debug"]["trace"][0]["limits"][0]["used"] is None
    allowing = {**run, "policy_yaml": "version: 1\ndefault: allow\nrules: []\n"}
    ran = answers.check("POST", path, c.post(path, json=allowing), 200)
    assert ran["decision"]["result"] == "ALLOW"
    assert ran["decision"]["proof_token"] is None
    bad = c.post(path, json={**run, "policy_yaml": "version: 7\n"})
    assert _code(answers.check("POST", path, bad, 400)) == "INVALID_POLICY"
    no_action = c.post(path, json={**run, "action": {"action_type": "x"}})
    assert _code(answers.check("POST", path, no_action, 400)) == "INVALID_ACTION_REQUEST"
    answers.assert_covered(PROOFS_AND_PLAYGROUND)


def test_enrolment_by_challenge_and_by_invite(api: Api, answers: Answers) -> None:
    c, owner_id = api.client, api.agent.owner_id
    public_key, private_key = new_agent_keys()
    path = "/v1/agents/registration-challenge"
    ask = {"agent_id": "fresh-agent", "agent_pubkey_b64": public_key, "owner_type": "user"}
    nobody = {**ask, "owner_id": "00000000-0000-0000-0000-000000000000"}
    assert _code(answers.check("POST", path, c.post(path, json=nobody), 404)) == ("OWNER_NOT_FOUND")
    assert answers.check("POST", path, c.post(path, json={}), 400)["error"]["details"] == {
        "missing": ["agent_id", "agent_pubkey_b64"]
    }
    ask = {**ask, "owner_id": owner_id}
    challenge = answers.check("POST", path, c.post(path, json=ask), 200)

    path = "/v1/agents/register"
    signature = sign(private_key, base64.b64decode(challenge["challenge_b64"]))
    register = {**ask, "challenge_id": challenge["challenge_id"], "signature_b64": signature}
    unknown = {**register, "challenge_id": "no-such-challenge"}
    assert _code(answers.check("POST", path, c.post(path, json=unknown), 400)) == (
        "CHALLENGE_NOT_FOUND"
    )
    assert answers.check("POST", path, c.post(path, json=register), 200)["status"] == "PENDING"

    invite = c.post(f"/v1/admin/users/{owner_id}/agent-invite").json()
    path = "/v1/agents/register-with-invite"
    query = {"invite_id": invite["invite_id"], "invite_token": invite["invite_token"]}
    assert answers.check("GET", path, c.get(path, params=query), 200)["registration"]["url"]
    answers.check("GET", path, c.get(path, params={"invite_id": invite["invite_id"]}), 400)
    enrol = {"agent_id": "invited-agent", "agent_pubkey_b64": new_agent_keys()[0]}
    missing = c.post(path, json={**enrol, **query, "invite_id": "no-such-invite"})
    assert _code(answers.check("POST", path, missing, 404)) == "INVITE_NOT_FOUND"
    # The invite from the query, as the invite URL carries it.
    enrolled = answers.check("POST", path, c.post(path, params=query, json=enrol), 200)
    assert enrolled["status"] == "ACTIVE"
    assert enrolled["auth"]["headers"]["X-Agent-Id"] == "invited-agent"
    answers.assert_covered(ENROLMENT)


def _held_decision(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    action = api.agent.action(amount_minor=50_000, currency="EUR")
    decision = _signed(api, "POST", "/v1/authorize", action).json()
    assert decision["result"] == "REQUIRE_APPROVAL", decision
    return action, decision


def _pending_agent(api: Api) -> Agent:
    public_key, private_key = new_agent_keys()
    ask = {
        "agent_id": "pending-agent",
        "agent_pubkey_b64": public_key,
        "owner_type": "user",
        "owner_id": api.agent.owner_id,
    }
    challenge = api.client.post("/v1/agents/registration-challenge", json=ask).json()
    signature = sign(private_key, base64.b64decode(challenge["challenge_b64"]))
    body = {**ask, "challenge_id": challenge["challenge_id"], "signature_b64": signature}
    assert api.client.post("/v1/agents/register", json=body).status_code == 200
    return Agent("pending-agent", api.agent.owner_id, private_key, public_key)


def test_the_agent_routes(api: Api, answers: Answers) -> None:
    for path in ("/v1/agent/self", "/v1/agent/usage", "/v1/agent/policy-drafts"):
        assert _code(answers.check("GET", path, api.client.get(path), 401)) == "MISSING_HEADERS"
    assert answers.check("GET", "/v1/agent/self", _signed(api, "GET", "/v1/agent/self"), 200)
    _signed(api, "POST", "/v1/authorize", api.agent.action(amount_minor=1200, currency="EUR"))
    used = answers.check("GET", "/v1/agent/usage", _signed(api, "GET", "/v1/agent/usage"), 200)
    assert used["limits"][0]["usage"] == [
        {"by": {"currency": "EUR"}, "used": 1200, "count": 1, "remaining": 13800}
    ]
    pending = _pending_agent(api)
    refused = _signed(api, "GET", "/v1/agent/usage", who=pending)
    assert _code(answers.check("GET", "/v1/agent/usage", refused, 403)) == "AGENT_PENDING"

    path = "/v1/agent/approval-requests"
    action, decision = _held_decision(api)
    filing = {"decision_id": decision["decision_id"], "action": action, "justification": "why"}
    unknown = _signed(api, "POST", path, {**filing, "decision_id": "no-such-decision"})
    assert _code(answers.check("POST", path, unknown, 400)) == "DECISION_NOT_FOUND"
    filed = answers.check("POST", path, _signed(api, "POST", path, filing), 200)
    item = "/v1/agent/approval-requests/{approval_request_id}"
    own = f"{path}/{filed['approval_request_id']}"
    assert answers.check("GET", item, _signed(api, "GET", own), 200)["status"] == "PENDING"
    answers.check("GET", item, _signed(api, "GET", f"{path}/no-such-request"), 404)
    owner = owner_session(api)
    approved = owner.post(f"/v1/owner/approval-requests/{filed['approval_request_id']}/approve")
    assert approved.status_code == 200, approved.text
    view = answers.check("GET", item, _signed(api, "GET", own), 200)
    assert view["status"] == "APPROVED"
    assert view["approval_token"]

    path = "/v1/agent/policy-drafts"
    draft = {"policy_yaml": "version: 1\ndefault: deny\nrules: []\n", "name": "Nothing"}
    invalid = _signed(api, "POST", path, {**draft, "policy_yaml": "rules: 7\n"})
    assert _code(answers.check("POST", path, invalid, 400)) == "INVALID_POLICY"
    created = answers.check("POST", path, _signed(api, "POST", path, draft), 200)
    listed = answers.check("GET", path, _signed(api, "GET", f"{path}?status=PENDING"), 200)
    assert [d["policy_draft_id"] for d in listed["policy_drafts"]] == [created["policy_draft_id"]]
    answers.check("GET", path, _signed(api, "GET", f"{path}?status=MAYBE"), 400)
    item = "/v1/agent/policy-drafts/{policy_draft_id}"
    one = _signed(api, "GET", f"{path}/{created['policy_draft_id']}")
    assert answers.check("GET", item, one, 200)["policy_yaml"] == draft["policy_yaml"]
    answers.check("GET", item, _signed(api, "GET", f"{path}/no-such-draft"), 404)
    answers.assert_covered(AGENT)


ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NOT_JSON = {"content": b"x", "headers": {"Content-Type": "text/plain"}}


def _refused_remotely(api: Api, answers: Answers, operations: list[tuple[str, str]]) -> None:
    """Without the token, from another machine, every route without parameters is 401."""
    for method, path in operations:
        if "{" not in path:
            refused = from_address(api, REMOTE, method, path)
            assert _code(answers.check(method, path, refused, 401)) == "ADMIN_UNAUTHORIZED"


def test_the_admin_owner_agent_and_metrics_routes(api: Api, answers: Answers) -> None:
    c, owner_id = api.client, api.agent.owner_id
    _refused_remotely(api, answers, ADMIN_PEOPLE)
    metrics_text = from_address(api, REMOTE, "GET", "/metrics", headers=ADMIN_HEADERS)
    assert "openleash_proof_verifications" in answers.check("GET", "/metrics", metrics_text, 200)

    path = "/v1/admin/users"
    created = answers.check("POST", path, c.post(path, json={"display_name": " Grace "}), 200)
    assert created["display_name"] == "Grace"
    blank = c.post(path, json={"display_name": " "})
    assert _code(answers.check("POST", path, blank, 400)) == "VALIDATION_ERROR"
    users = answers.check("GET", path, c.get(path), 200)["users"]
    assert {u["user_principal_id"] for u in users} == {owner_id, created["user_principal_id"]}
    for kind in ("setup-invite", "agent-invite"):
        path = f"/v1/admin/users/{{user_id}}/{kind}"
        answers.check("POST", path, c.post(f"/v1/admin/users/{owner_id}/{kind}"), 200)
        missing = c.post(f"/v1/admin/users/no-such-user/{kind}")
        assert _code(answers.check("POST", path, missing, 404)) == "USER_NOT_FOUND"

    path = "/v1/admin/agents"
    agents = answers.check("GET", path, c.get(path, params={"owner_id": owner_id}), 200)["agents"]
    assert [a["agent_id"] for a in agents] == ["agent-1"]
    usage = "/v1/admin/agents/{agent_principal_id}/usage"
    answers.check("GET", usage, c.get(f"{path}/{agents[0]['agent_principal_id']}/usage"), 200)
    answers.check("GET", usage, c.get(f"{path}/no-such-agent/usage"), 404)
    victim = _pending_agent(api)
    [record] = [a for a in c.get(path).json()["agents"] if a["agent_id"] == victim.agent_id]
    item, own = "/v1/admin/agents/{agent_principal_id}", f"{path}/{record['agent_principal_id']}"
    assert _code(answers.check("DELETE", item, c.request("DELETE", own, **NOT_JSON), 415)) == (
        "UNSUPPORTED_MEDIA_TYPE"
    )
    assert answers.check("DELETE", item, c.delete(own), 200)["status"] == "REVOKED"
    answers.check("DELETE", item, c.delete(f"{path}/no-such-agent"), 404)
    answers.assert_covered(ADMIN_PEOPLE)


def test_the_admin_policy_key_and_audit_routes(api: Api, answers: Answers) -> None:
    c, owner_id = api.client, api.agent.owner_id
    _refused_remotely(api, answers, ADMIN_STATE)
    path = "/v1/admin/policies"
    listed = answers.check("GET", path, c.get(path, params={"owner_id": owner_id}), 200)
    [policy] = listed["policies"]
    item = "/v1/admin/policies/{policy_id}"
    answers.check("GET", item, c.get(f"{path}/{policy['policy_id']}"), 200)
    assert _code(answers.check("GET", item, c.get(f"{path}/no-such-policy"), 404)) == (
        "POLICY_NOT_FOUND"
    )

    path, rotate = "/v1/admin/keys", "/v1/admin/keys/rotate"
    [first] = answers.check("GET", path, c.get(path), 200)["keys"]
    assert answers.check("POST", rotate, c.post(rotate), 200)["active"] is True
    answers.check("POST", rotate, c.post(rotate, **NOT_JSON), 415)
    revoke = "/v1/admin/keys/{kid}/revoke"
    assert answers.check("POST", revoke, c.post(f"{path}/{first['kid']}/revoke"), 200)["revoked"]
    active = next(k for k in c.get(path).json()["keys"] if k["active"])
    assert _code(answers.check("POST", revoke, c.post(f"{path}/{active['kid']}/revoke"), 409)) == (
        "KEY_ACTIVE"
    )
    answers.check("POST", revoke, c.post(f"{path}/no-such-key/revoke"), 404)

    path = "/v1/admin/audit"
    page = answers.check("GET", path, c.get(path, params={"limit": "2"}), 200)
    assert len(page["items"]) == 2
    assert page["next_cursor"] is not None
    later = {"event_type": "KEY_ROTATED", "cursor": page["next_cursor"], "since": "2000-01-01"}
    answers.check("GET", path, c.get(path, params=later), 200)
    too_many = answers.check("GET", path, c.get(path, params={"limit": "501"}), 400)
    assert too_many["error"]["message"] == "limit must be a whole number from 1 to 500"
    answers.check("GET", path, c.get(path, params={"cursor": "-1"}), 400)
    answers.assert_covered(ADMIN_STATE)


def test_the_authzen_routes(api: Api, answers: Answers) -> None:
    c, pep = api.client, {"Authorization": f"Bearer {PEP_TOKEN}"}
    request = {
        "subject": {"type": "agent", "id": api.agent.agent_id},
        "action": {"name": "purchase"},
        "resource": {"type": "order", "id": "o-1", "properties": {"amount_minor": 700}},
        "context": {"currency": "EUR"},
    }
    path = "/access/v1/evaluation"
    answer = answers.check("POST", path, c.post(path, json=request, headers=pep), 200)
    assert answer["decision"] is True
    assert answer["context"]["limits"], "an allow under limits says what it used"
    large = {"type": "order", "id": "o-2", "properties": {"amount_minor": 50_000}}
    answer = answers.check(
        "POST", path, _signed(api, "POST", path, {**request, "resource": large}), 200
    )
    assert answer["context"]["result"] == "REQUIRE_APPROVAL"
    assert answer["context"]["explanation"]
    assert _code(answers.check("POST", path, c.post(path, json=request), 401)) == "MISSING_TOKEN"
    answers.check("POST", path, c.post(path, json={"subject": {}}, headers=pep), 400)

    path = "/access/v1/evaluations"
    batch = {
        **request,
        "evaluations": [{}, {"resource": {"type": "order"}}],
        "options": {"evaluations_semantic": "execute_all"},
    }
    answer = answers.check("POST", path, c.post(path, json=batch, headers=pep), 200)
    assert [e["decision"] for e in answer["evaluations"]] == [True, False]
    assert answer["evaluations"][1]["context"]["error"]["status"] == 400
    single = answers.check("POST", path, c.post(path, json=request, headers=pep), 200)
    assert single["decision"] is True
    wrong = c.post(path, json=batch, headers={"Authorization": "Bearer not-a-pep-token"})
    assert _code(answers.check("POST", path, wrong, 401)) == "INVALID_CREDENTIALS"
    answers.assert_covered(AUTHZEN)
