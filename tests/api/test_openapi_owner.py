"""The OpenAPI document of the owner routes (``/v1/owner/...``) is one a client can be generated
from: every operation declares its body, its success, its errors, its parameters and its
security; and what the routes really answer, success and refusal, is what the document says
(validated with the document's own schemas, closed: a field the schema does not name fails)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import BaseModel

from openleash.api.app import create_app
from openleash.api.wire import owner as wire_owner
from openleash.api.wire import owner_agents as wire_agents
from openleash.api.wire import owner_approvals as wire_approvals
from openleash.api.wire import owner_policies as wire_policies
from openleash.client import AgentAuth
from openleash.config import Settings
from openleash.domain.timefmt import iso_ms
from tests.api.conftest import Api, running_api, upsert
from tests.api.owners import PASSPHRASE, Owner, login, set_passphrase
from tests.api.test_agent_enrolment import challenge_register
from tests.fuzz.routes import routes_of

OWNER_PREFIX = "/v1/owner/"
SIGN_IN = {("POST", "/v1/owner/login"), ("POST", "/v1/owner/setup")}
STREAM = ("GET", "/v1/owner/events/stream")
#: The operations that read a JSON body.
BODIES = {
    ("POST", "/v1/owner/setup"),
    ("POST", "/v1/owner/login"),
    ("POST", "/v1/owner/totp/setup"),
    ("POST", "/v1/owner/totp/confirm"),
    ("POST", "/v1/owner/totp/disable"),
    ("PUT", "/v1/owner/agents/{agent_principal_id}"),
    ("POST", "/v1/owner/policies"),
    ("PUT", "/v1/owner/policies/order"),
    ("PUT", "/v1/owner/policies/{policy_id}"),
    ("DELETE", "/v1/owner/policies/{policy_id}"),
    ("POST", "/v1/owner/approval-requests/{approval_request_id}/approve"),
    ("POST", "/v1/owner/approval-requests/{approval_request_id}/deny"),
    ("POST", "/v1/owner/policy-drafts/{policy_draft_id}/approve"),
    ("POST", "/v1/owner/policy-drafts/{policy_draft_id}/deny"),
}
#: Bodies with a second factor, behind the owner's lock of wrong ones (429).
SECOND_FACTOR = BODIES - SIGN_IN - {("POST", "/v1/owner/totp/confirm")}
QUERIES = {
    ("GET", "/v1/owner/approval-requests"): {"status", "agent_principal_id", "limit"},
    ("GET", "/v1/owner/policy-drafts"): {"status"},
    ("GET", "/v1/owner/audit"): {"limit", "cursor", "agent_principal_id", "since", "event_type"},
}
OWNER_SECURITY = [{"ownerSession": []}, {"ownerCookie": []}]
ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}

_APP = create_app(Settings(data_dir=Path("/nonexistent-openapi-owner")))
DOCUMENT: dict[str, Any] = _APP.openapi()

POLICY = """\
version: 1
default: deny
rules:
  - id: small
    effect: allow
    action: purchase
    constraints: { amount_max: 20000 }
    limits:
      - { spend: 60000, window: 30d, by: [currency] }
  - id: large
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""
OTHER_POLICY = "version: 1\ndefault: deny\nrules: []\n"


def owner_operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in document["paths"].items()
        if path.startswith(OWNER_PREFIX)
        for method, op in item.items()
    }


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema["$ref"]
    assert ref.startswith("#/components/schemas/"), ref
    found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


# -- the document ---------------------------------------------------------------------------------


def test_every_owner_route_is_in_the_document() -> None:
    served = {(m, p) for m, p in routes_of(_APP) if p.startswith(OWNER_PREFIX)}
    assert served == set(owner_operations(DOCUMENT))
    assert len(served) == 27


@pytest.mark.parametrize("key", sorted(owner_operations(DOCUMENT)), ids=" ".join)
def test_an_owner_operation_declares_body_success_errors_and_security(
    key: tuple[str, str],
) -> None:
    op = owner_operations(DOCUMENT)[key]
    responses = op["responses"]
    # security: a session (bearer or cookie), except to get one
    assert op["security"] == ([] if key in SIGN_IN else OWNER_SECURITY)
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert {"ownerSession", "ownerCookie"} <= set(schemes)
    # the body, by reference to a model with described fields
    if key in BODIES:
        body = resolve(DOCUMENT, op["requestBody"]["content"]["application/json"]["schema"])
        assert body["properties"]
        assert all(field.get("description") for field in body["properties"].values())
        assert body.get("examples")
    else:
        assert "requestBody" not in op
    # one success, with a schema
    [ok] = [status for status in responses if status.startswith("2")]
    content = responses[ok]["content"]
    if key == STREAM:
        assert set(content) == {"text/event-stream"}
        resolve(DOCUMENT, content["text/event-stream"]["x-data-schema"])
    else:
        assert set(content) == {"application/json"}
        model = resolve(DOCUMENT, content["application/json"]["schema"])
        assert model.get("examples"), key
    # the errors: the envelope, as JSON; never FastAPI's 422
    errors = {status for status in responses if not status.startswith("2")}
    assert "422" not in errors
    assert {"431", "500", "503"} <= errors
    # what guards a change (api/guard.py): a foreign Host (421) or Origin (403), a form (415);
    # a read with a session is not guarded, and only the audit filter is refused with 403
    changes = key[0] != "GET"
    assert {"403", "415", "421"} <= errors if changes else not {"415", "421"} & errors
    if not changes:
        assert ("403" in errors) is (key == ("GET", "/v1/owner/audit"))
    # the address's anonymous budget, the login lock and the second-factor lock
    assert ("429" in errors) is (key in SIGN_IN | SECOND_FACTOR)
    if key not in SIGN_IN:
        assert {"401", "404"} <= errors
    if key in BODIES:
        assert {"400", "413", "415"} <= errors
    for status in errors:
        assert responses[status]["content"] == {"application/json": {"schema": ENVELOPE}}
    # parameters: described; the query ones FastAPI never refuses; CSRF on every change
    params = {(p["in"], p["name"]): p for p in op.get("parameters", [])}
    assert all(p.get("description") for p in params.values())
    assert {name for where, name in params if where == "query"} == QUERIES.get(key, set())
    csrf = changes and key not in SIGN_IN
    assert (("header", "X-CSRF-Token") in params) is csrf
    for (where, _), p in params.items():
        if where != "path":
            assert p["required"] is False
            assert {"type": "null"} not in p["schema"].get("anyOf", [])


def _reachable(document: dict[str, Any]) -> set[str]:
    """The component schemas the owner operations refer to, directly or not."""
    names: set[str] = set()
    todo = [json.dumps(op) for op in owner_operations(document).values()]
    while todo:
        for ref in _refs(todo.pop()):
            if ref not in names:
                names.add(ref)
                todo.append(json.dumps(document["components"]["schemas"][ref]))
    return names


def _refs(text: str) -> list[str]:
    marker = '"#/components/schemas/'
    return [part.split('"', 1)[0] for part in text.split(marker)[1:]]


def _owner_models() -> set[str]:
    return {
        name
        for module in (wire_owner, wire_agents, wire_approvals, wire_policies)
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == module.__name__
        and name.isidentifier()  # pydantic files parametrized RootModels here too
        and value is not wire_owner.SecondFactor
    }


def test_every_owner_model_is_used_described_and_has_valid_examples() -> None:
    """The models of the owner modules; the shared ones the owner routes also answer with
    (agent list, usage, invite, audit page) are checked with the admin and agent routes."""
    mine = _owner_models()
    assert mine <= _reachable(DOCUMENT), "a wire model no owner operation uses"
    closed = _closed(DOCUMENT["components"]["schemas"])
    for name in sorted(mine):
        schema = DOCUMENT["components"]["schemas"][name]
        assert schema.get("examples"), f"{name} has no example"
        for field, definition in schema.get("properties", {}).items():
            assert definition.get("description"), f"{name}.{field} is not described"
        for example in schema["examples"]:
            validate(example, {"$ref": f"#/components/schemas/{name}"}, closed, name)


# -- what the routes answer -----------------------------------------------------------------------

FORMATS = FormatChecker()


@FORMATS.checks("date-time")
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _closed(node: Any) -> Any:
    """The schemas with every object closed (``additionalProperties: false``) unless it says
    otherwise: a response carrying a field its model does not name fails validation."""
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: v if k in ("examples", "example") else _closed(v) for k, v in node.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def validate(value: Any, schema: dict[str, Any], components: dict[str, Any], where: str) -> None:
    root = {**schema, "components": {"schemas": components}}
    validator = Draft202012Validator(root, format_checker=FORMATS)
    problems = [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(value)
    ]
    assert not problems, f"{where} is not as documented:\n" + "\n".join(problems)


class Conformance:
    """Checks answers against the served document and remembers what it has seen."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.closed = _closed(document["components"]["schemas"])
        self.seen: set[tuple[str, str, str]] = set()

    def check(self, response: httpx.Response, method: str, path: str, status: int) -> Any:
        assert response.status_code == status, response.text
        responses = self.document["paths"][path][method.lower()]["responses"]
        assert str(status) in responses, f"{method} {path} answered {status}, undocumented"
        assert response.headers["content-type"] == "application/json"
        schema = responses[str(status)]["content"]["application/json"]["schema"]
        body = response.json()
        validate(body, schema, self.closed, f"{method} {path} {status}")
        self.seen.add((method, path, "ok" if status < 400 else "error"))
        return body

    def stream_data(self, message: dict[str, Any]) -> None:
        content = self.document["paths"][STREAM[1]]["get"]["responses"]["200"]["content"]
        schema = content["text/event-stream"]["x-data-schema"]
        validate(message, schema, self.closed, f"{STREAM[0]} {STREAM[1]} data")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path / "data", admin_token="s3cret-admin-token")
    for running in running_api(settings):
        for p in running.client.get("/v1/admin/policies").json()["policies"]:
            running.run(running.services.policies.delete(p["policy_id"]))
        running.run(upsert(running.services, running.agent.owner_id, POLICY))
        yield running


def test_every_owner_route_answers_as_the_document_says(api: Api) -> None:
    c = Conformance(api.client.get("/reference/openapi.json").json())
    owner = _sign_in(c, api)
    _sessions_and_totp(c, api, owner)
    _agents(c, api, owner)
    _policies(c, owner)
    _approvals(c, api, owner)
    _drafts(c, api, owner)
    _audit(c, api, owner)
    _events(c, api, owner)
    _logout(c, api, owner)
    expected = {
        (method, path, outcome)
        for method, path in owner_operations(c.document)
        for outcome in ("ok", "error")
    }
    assert expected - c.seen == set()


def _sign_in(c: Conformance, api: Api) -> Owner:
    owner_id = api.agent.owner_id
    setup = "/v1/owner/setup"
    c.check(api.client.post(setup, json={}), "POST", setup, 400)
    unknown = {"invite_id": "nope", "invite_token": "x", "passphrase": PASSPHRASE}
    c.check(api.client.post(setup, json=unknown), "POST", setup, 404)
    done = c.check(set_passphrase(api, owner_id), "POST", setup, 200)
    assert done == {"status": "setup_complete", "user_principal_id": owner_id}
    c.check(login(api, owner_id, "not the passphrase"), "POST", "/v1/owner/login", 401)
    c.check(api.client.post("/v1/owner/login", json={}), "POST", "/v1/owner/login", 400)
    session = c.check(login(api, owner_id), "POST", "/v1/owner/login", 200)
    api.client.cookies.clear()
    return Owner(api, owner_id, session["token"], session["csrf_token"])


def _sessions_and_totp(c: Conformance, api: Api, owner: Owner) -> None:
    client = api.client
    profile = c.check(owner.get("/v1/owner/profile"), "GET", "/v1/owner/profile", 200)
    assert profile["totp_enabled"] is False
    garbage = {"Authorization": "Bearer garbage"}
    c.check(client.get("/v1/owner/profile", headers=garbage), "GET", "/v1/owner/profile", 401)
    # a cookie session: a change needs the CSRF token, and a form-like body is refused first
    setup, confirm, disable = (f"/v1/owner/totp/{step}" for step in ("setup", "confirm", "disable"))
    cookie = {"Cookie": f"openleash_session={owner.token}"}
    c.check(client.post(setup, json={}, headers=cookie), "POST", setup, 403)
    form = {**cookie, "Content-Type": "text/plain"}
    c.check(client.post(setup, content=b"x", headers=form), "POST", setup, 415)
    c.check(owner.post(confirm, {"code": "123456"}), "POST", confirm, 400)  # TOTP_NOT_SETUP
    c.check(owner.post(disable, {"code": "123456"}), "POST", disable, 400)  # TOTP_NOT_ENABLED
    enrolment = c.check(owner.post(setup), "POST", setup, 200)
    owner.totp_secret = enrolment["secret"]
    c.check(owner.post(confirm, {"code": "not a code"}), "POST", confirm, 400)
    enabled = c.check(owner.post(confirm, {"code": owner.code()}), "POST", confirm, 200)
    assert len(enabled["backup_codes"]) == 8
    c.check(owner.post(setup), "POST", setup, 403)  # TOTP_REQUIRED
    c.check(owner.post(setup, {"code": 5}), "POST", setup, 400)  # not a string
    c.check(owner.post(setup, {"code": owner.code()}), "POST", setup, 200)
    c.check(owner.post(disable, {"code": owner.code()}), "POST", disable, 200)
    owner.totp_secret = None


def _agents(c: Conformance, api: Api, owner: Owner) -> None:
    path = "/v1/owner/agents/{agent_principal_id}"
    listed = c.check(owner.get("/v1/owner/agents"), "GET", "/v1/owner/agents", 200)
    [agent] = listed["agents"]
    c.check(api.client.get("/v1/owner/agents"), "GET", "/v1/owner/agents", 401)
    registered, _ = challenge_register(api, "helper", owner.owner_id)
    pending = registered.json()["agent_principal_id"]
    c.check(owner.put(f"/v1/owner/agents/{pending}", {"status": "PAUSED"}), "PUT", path, 400)
    c.check(owner.put("/v1/owner/agents/nope", {"status": "ACTIVE"}), "PUT", path, 404)
    done = c.check(owner.put(f"/v1/owner/agents/{pending}", {"status": "ACTIVE"}), "PUT", path, 200)
    assert done["status"] == "ACTIVE"
    # usage: spend one small purchase first, so the limit has an entry
    decided = api.signed(
        "POST", "/v1/authorize", _json(api.agent.action(amount_minor=500, currency="EUR"))
    )
    assert decided.json()["result"] == "ALLOW", decided.text
    usage_path = "/v1/owner/agents/{agent_principal_id}/usage"
    used = c.check(
        owner.get(f"/v1/owner/agents/{agent['agent_principal_id']}/usage"), "GET", usage_path, 200
    )
    [limit] = used["limits"]
    assert limit["usage"] == [
        {"by": {"currency": "EUR"}, "used": 500, "count": 1, "remaining": 59500}
    ]
    c.check(owner.get("/v1/owner/agents/nope/usage"), "GET", usage_path, 404)
    invites = "/v1/owner/agent-invites"
    invite = c.check(owner.post(invites), "POST", invites, 200)
    assert invite["invite_url"].endswith(invite["invite_token"])
    c.check(api.client.post(invites), "POST", invites, 401)


def _policies(c: Conformance, owner: Owner) -> None:
    one = "/v1/owner/policies/{policy_id}"
    listed = c.check(owner.get("/v1/owner/policies"), "GET", "/v1/owner/policies", 200)
    c.check(owner.api.client.get("/v1/owner/policies"), "GET", "/v1/owner/policies", 401)
    bad = {"policy_yaml": "version: 2"}
    c.check(owner.post("/v1/owner/policies", bad), "POST", "/v1/owner/policies", 400)
    created = c.check(
        owner.post("/v1/owner/policies", {"policy_yaml": OTHER_POLICY, "mode": "observe"}),
        "POST",
        "/v1/owner/policies",
        200,
    )
    policy_id = created["policy_id"]
    shown = c.check(owner.get(f"/v1/owner/policies/{policy_id}"), "GET", one, 200)
    assert shown["tier"] == "owner_wide"
    assert shown["mode"] == "observe"
    c.check(owner.get("/v1/owner/policies/nope"), "GET", one, 404)
    change = {"name": "Nothing", "description": None}
    c.check(owner.put(f"/v1/owner/policies/{policy_id}", change), "PUT", one, 200)
    c.check(owner.put("/v1/owner/policies/nope", change), "PUT", one, 404)
    order = "/v1/owner/policies/order"
    tier = [p["policy_id"] for p in listed["policies"] if p["tier"] == "owner_wide"]
    body = {"tier": "owner_wide", "ordered_policy_ids": [policy_id, *tier]}
    assert c.check(owner.put(order, body), "PUT", order, 200) == {"reordered": len(tier) + 1}
    c.check(owner.put(order, {"tier": "group", "ordered_policy_ids": []}), "PUT", order, 400)
    c.check(owner.delete(f"/v1/owner/policies/{policy_id}"), "DELETE", one, 200)
    c.check(owner.delete(f"/v1/owner/policies/{policy_id}"), "DELETE", one, 404)


def _held_request(api: Api) -> str:
    action = api.agent.action(amount_minor=50_000, currency="EUR")
    decision = api.signed("POST", "/v1/authorize", _json(action)).json()
    assert decision["result"] == "REQUIRE_APPROVAL", decision
    body = {"decision_id": decision["decision_id"], "action": action, "justification": "toner"}
    filed = api.signed("POST", "/v1/agent/approval-requests", _json(body))
    assert filed.status_code == 200, filed.text
    return str(filed.json()["approval_request_id"])


def _approvals(c: Conformance, api: Api, owner: Owner) -> None:
    listing = "/v1/owner/approval-requests"
    one = f"{listing}/{{approval_request_id}}"
    first, second = _held_request(api), _held_request(api)
    listed = c.check(owner.get(f"{listing}?status=PENDING&limit=10"), "GET", listing, 200)
    assert {r["approval_request_id"] for r in listed["approval_requests"]} == {first, second}
    c.check(owner.get(f"{listing}?limit=0"), "GET", listing, 400)
    c.check(owner.get(f"{listing}?status=LOST"), "GET", listing, 400)
    shown = c.check(owner.get(f"{listing}/{first}"), "GET", one, 200)
    assert shown["kind"] == "approval"
    c.check(owner.get(f"{listing}/nope"), "GET", one, 404)
    deny, approve = f"{one}/deny", f"{one}/approve"
    c.check(owner.post(f"{listing}/{first}/deny", {"reason": 7}), "POST", deny, 400)
    c.check(owner.post(f"{listing}/{first}/deny", {"reason": "no"}), "POST", deny, 200)
    c.check(owner.post(f"{listing}/{first}/deny"), "POST", deny, 400)  # INVALID_STATUS
    c.check(owner.post(f"{listing}/nope/approve"), "POST", approve, 404)
    approved = c.check(owner.post(f"{listing}/{second}/approve"), "POST", approve, 200)
    assert approved["assurance_level"] == "LOW"
    c.check(owner.post(f"{listing}/{second}/approve"), "POST", approve, 400)
    resolved = c.check(owner.get(f"{listing}/{second}"), "GET", one, 200)
    assert resolved["status"] == "APPROVED"


def _drafts(c: Conformance, api: Api, owner: Owner) -> None:
    listing = "/v1/owner/policy-drafts"
    one = f"{listing}/{{policy_draft_id}}"
    proposed = [
        api.signed(
            "POST",
            "/v1/agent/policy-drafts",
            _json({"policy_yaml": OTHER_POLICY, "name": name, "justification": "tidy"}),
        ).json()["policy_draft_id"]
        for name in ("first", "second")
    ]
    listed = c.check(owner.get(f"{listing}?status=PENDING"), "GET", listing, 200)
    assert {d["policy_draft_id"] for d in listed["policy_drafts"]} == set(proposed)
    c.check(owner.get(f"{listing}?status=LOST"), "GET", listing, 400)
    c.check(owner.get(f"{listing}/{proposed[0]}"), "GET", one, 200)
    c.check(owner.get(f"{listing}/nope"), "GET", one, 404)
    approve, deny = f"{one}/approve", f"{one}/deny"
    approved = c.check(owner.post(f"{listing}/{proposed[0]}/approve"), "POST", approve, 200)
    assert approved["applies_to_agent_principal_id"] is not None
    c.check(owner.post(f"{listing}/{proposed[0]}/approve"), "POST", approve, 400)
    c.check(owner.post(f"{listing}/nope/approve"), "POST", approve, 404)
    c.check(owner.post(f"{listing}/{proposed[1]}/deny", {"reason": "no"}), "POST", deny, 200)
    c.check(owner.post(f"{listing}/{proposed[1]}/deny"), "POST", deny, 400)
    shown = c.check(owner.get(f"{listing}/{proposed[1]}"), "GET", one, 200)
    assert shown["denial_reason"] == "no"


def _audit(c: Conformance, api: Api, owner: Owner) -> None:
    path = "/v1/owner/audit"
    page = c.check(owner.get(f"{path}?limit=5"), "GET", path, 200)
    assert len(page["items"]) == 5
    assert page["next_cursor"] is not None
    c.check(owner.get(f"{path}?limit=5&cursor={page['next_cursor']}"), "GET", path, 200)
    since = iso_ms(api.clock())
    c.check(owner.get(f"{path}?since={since}&event_type=USER_LOGIN"), "GET", path, 200)
    c.check(owner.get(f"{path}?cursor=-1"), "GET", path, 400)
    c.check(owner.get(f"{path}?since=yesterday"), "GET", path, 400)
    c.check(owner.get(f"{path}?agent_principal_id=nope"), "GET", path, 404)
    other = api.client.post("/v1/admin/users", json={"display_name": "Bob"}).json()
    registered, _ = challenge_register(api, "bobs-agent", other["user_principal_id"])
    foreign = registered.json()["agent_principal_id"]
    c.check(owner.get(f"{path}?agent_principal_id={foreign}"), "GET", path, 403)


def _events(c: Conformance, api: Api, owner: Owner) -> None:
    path = STREAM[1]
    c.check(api.client.get(path), "GET", path, 401)
    action = api.agent.action(amount_minor=70_000, currency="EUR")
    decision = api.signed("POST", "/v1/authorize", _json(action)).json()

    async def file_request(app: Any) -> None:
        body = _json({"decision_id": decision["decision_id"], "action": action})
        auth = AgentAuth(
            api.agent.agent_id, api.agent.private_key_b64, clock=lambda: iso_ms(api.clock())
        )
        headers = {
            **auth.sign_headers("POST", "/v1/agent/approval-requests", body),
            "Content-Type": "application/json",
        }
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8787") as h:
            filed = await h.post("/v1/agent/approval-requests", content=body, headers=headers)
        assert filed.status_code == 200, filed.text

    start, text = api.run(
        _open_stream(api.client.app, owner.token, file_request, "approval_created")
    )
    assert start["status"] == 200
    headers = dict((k.decode(), v.decode()) for k, v in start["headers"])
    assert headers["content-type"].startswith("text/event-stream")
    documented = c.document["paths"][path]["get"]["responses"]["200"]["content"]
    assert set(documented) == {"text/event-stream"}
    assert text.startswith("retry: 3000\n: connected\n\n")
    messages = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert {m["type"] for m in messages} == {"audit", "approval_created"}
    for message in messages:
        c.stream_data(message)
    c.seen.add(("GET", path, "ok"))


async def _open_stream(
    app: Any, token: str, meanwhile: Callable[[Any], Awaitable[None]], until: str
) -> tuple[dict[str, Any], str]:
    """``GET /v1/owner/events/stream`` as a server would run it: the response's start and what
    the stream sent until a message of type ``until`` arrived (``meanwhile`` made it happen);
    then the client goes away."""
    gone = asyncio.Event()
    asked = False
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    path = STREAM[1]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8787"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8787),
    }
    served = asyncio.create_task(app(scope, receive, send))
    try:
        await _until(lambda: bool(chunks), served)
        await meanwhile(app)
        await _until(lambda: f'"type":"{until}"'.encode() in b"".join(chunks), served)
    finally:
        gone.set()
        await asyncio.wait_for(served, 10)
    return start, b"".join(chunks).decode()


async def _until(condition: Callable[[], bool], served: asyncio.Task[Any]) -> None:
    for _ in range(200):
        if condition():
            return
        assert not served.done(), "the stream ended"
        await asyncio.sleep(0.05)
    raise AssertionError("the stream sent nothing in time")


def _logout(c: Conformance, api: Api, owner: Owner) -> None:
    path = "/v1/owner/logout"
    assert c.check(owner.post(path), "POST", path, 200) == {"status": "logged_out"}
    c.check(owner.post(path), "POST", path, 401)
    c.check(owner.get("/v1/owner/profile"), "GET", "/v1/owner/profile", 401)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()
