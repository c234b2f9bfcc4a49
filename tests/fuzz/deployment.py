"""The deployment each route is fuzzed against: the served application (``create_asgi``, with
the ``/v1/authorize`` fast path) over a real SQLite file, its lifespan running, with an owner
signed in, an enrolled agent, and one record of each kind a path can name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openleash.client import AgentAuth
from openleash.config import Settings
from openleash.domain.timefmt import iso_ms
from tests.api.conftest import Api, running_api
from tests.api.owners import Owner, owner_session
from tests.fuzz.asgi import DEADLINE_SECONDS, Request, Response, call

ADMIN_TOKEN = "fuzz-admin-token-0123456789"
PEP_TOKEN = "fuzz-pep-token-0123456789abcdef"


@dataclass
class Deployment:
    api: Api
    owner: Owner
    #: Real identifiers by the name of the path parameter that takes them.
    known: dict[str, list[str]] = field(default_factory=dict)

    @property
    def app(self) -> Any:
        return self.api.client.app

    def agent_headers(self, method: str, raw_path: bytes, body: bytes) -> dict[str, str]:
        agent = self.api.agent
        auth = AgentAuth(
            agent.agent_id, agent.private_key_b64, clock=lambda: iso_ms(self.api.clock())
        )
        return auth.sign_headers(method, raw_path.decode("latin-1"), body)

    def send(self, request: Request) -> Response:
        """``request`` answered on the application's own event loop, within the deadline; a
        blocked event loop is caught by the outer bound."""
        portal = self.api.client.portal
        assert portal is not None
        future = portal.start_task_soon(call, self.app, request)
        return future.result(timeout=DEADLINE_SECONDS * 3)


def _json(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _records(api: Api, owner: Owner) -> dict[str, list[str]]:
    """One real record of each kind, so that fuzzed paths also reach existing rows."""
    held = api.agent.action(amount_minor=50_000, currency="USD")
    decision = _json(api.signed("POST", "/v1/authorize", json.dumps(held).encode()))
    filed = {"decision_id": decision["decision_id"], "action": held}
    request = _json(api.signed("POST", "/v1/agent/approval-requests", json.dumps(filed).encode()))
    draft = {"policy_yaml": "version: 1\ndefault: deny\nrules: []\n", "name": "fuzz"}
    drafted = _json(api.signed("POST", "/v1/agent/policy-drafts", json.dumps(draft).encode()))
    agents = _json(owner.get("/v1/owner/agents"))["agents"]
    policies = _json(owner.get("/v1/owner/policies"))["policies"]
    keys = _json(api.client.get("/v1/public-keys"))["keys"]
    return {
        "approval_request_id": [request["approval_request_id"]],
        "policy_draft_id": [drafted["policy_draft_id"]],
        "agent_principal_id": [a["agent_principal_id"] for a in agents],
        "policy_id": [p["policy_id"] for p in policies],
        "user_id": [owner.owner_id],
        "kid": [k["kid"] for k in keys],
        "name": ["portal.css", "portal.js"],
    }


@contextmanager
def deployed(root: Path) -> Iterator[Deployment]:
    settings = Settings(
        data_dir=root / "data",
        admin_mode="token",
        admin_token=ADMIN_TOKEN,
        authzen_pep_tokens=(PEP_TOKEN,),
    )
    for api in running_api(settings):
        api.client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"  # admin set-up calls
        owner = owner_session(api)
        del api.client.headers["Authorization"]
        yield Deployment(api, owner, _records(api, owner))
