"""A client generated from the served OpenAPI document by a mainstream generator
(openapi-python-client) calls a real server on loopback: an owner sets a passphrase and logs in
and lists the agents; the agent asks to authorize an action that needs the owner's approval,
files the approval request, the owner approves it, and the agent's second authorize with the
approval token is allowed. Agents sign with openleash.client's signing helper: per call through
the documented signing headers (authorize), or in the generated client's httpx client (the
routes whose signature the document declares as a security scheme only)."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from openleash.client import AgentAuth
from tests.support.actions import action
from tests.support.live import Credentials, LiveServer, free_port, provision

pytestmark = pytest.mark.e2e

PACKAGE = "openleash_generated_client"
PASSPHRASE = "a passphrase for the generated client"
POLICY = """\
version: 1
default: deny
rules:
  - id: small_purchases
    effect: allow
    action: purchase
    constraints: { amount_max: 10000 }
  - id: large_purchases
    effect: allow
    action: purchase
    obligations: [{ type: HUMAN_APPROVAL }]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Credentials]]:
    root: Path = tmp_path_factory.mktemp("generated-client")
    live = LiveServer(root, free_port(), workers=1)
    creds = provision(live.data_dir, POLICY)
    live.start()
    yield live, creds
    live.stop()


def _generate(url: str, where: Path) -> ModuleType:
    """The client generated from the document the server serves, imported."""
    if importlib.util.find_spec("openapi_python_client") is None:
        pytest.skip(
            "openapi-python-client is not installed: it is a dev dependency "
            "(pip install -e '.[dev]')"
        )
    document = where / "openapi.json"
    served = httpx.get(f"{url}/reference/openapi.json", timeout=10.0)
    assert served.status_code == 200, served.text
    document.write_bytes(served.content)
    config = where / "generator.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: nothing outside the generator
    generated = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(document),
            "--meta",
            "none",
            "--config",
            str(config),
            "--output-path",
            str(where / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = generated.stdout + generated.stderr
    assert generated.returncode == 0, report
    # the generator warns of what it cannot turn into code (and leaves out): nothing may be
    assert "Warning" not in report, report
    assert "Error" not in report, report
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))


@pytest.fixture(scope="module")
def generated(
    server: tuple[LiveServer, Credentials], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    live, _ = server
    package = _generate(live.url, tmp_path_factory.mktemp("client"))
    yield package
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def _ok(response: Any, status: int = 200) -> Any:
    """The parsed answer of a ``sync_detailed`` call that must have succeeded."""
    assert response.status_code == status, response.content
    assert response.parsed is not None
    return response.parsed


def _signing_hook(auth: AgentAuth) -> Any:
    """An httpx request hook that signs what the generated client is about to send, unless the
    call gave the signing headers itself."""

    def sign(request: httpx.Request) -> None:
        if request.headers.get("X-Signature"):
            return
        signed = auth.sign_headers(request.method, request.url.path, request.read())
        request.headers.update(signed)

    return sign


def test_a_generated_client_walks_an_approval_through(
    server: tuple[LiveServer, Credentials], generated: ModuleType
) -> None:
    live, creds = server
    models = _module(generated, "models")
    setup_invite = _module(generated, "api.admin.setup_invite")
    setup = _module(generated, "api.owner.setup")
    login = _module(generated, "api.owner.login")
    owner_list_agents = _module(generated, "api.owner.owner_list_agents")
    approve = _module(generated, "api.owner.approve")
    authorize = _module(generated, "api.agent.authorize")
    create_approval_request = _module(generated, "api.agent.create_approval_request")

    # -- the owner: a passphrase set with an admin's setup invite (loopback), then a login ----
    admin_client = generated.AuthenticatedClient(base_url=live.url, token="not-needed-on-loopback")
    invite = _ok(setup_invite.sync_detailed(creds.owner_id, client=admin_client))
    anonymous = generated.Client(base_url=live.url)
    body = models.OwnerSetupBody(
        invite_id=invite.invite_id, invite_token=invite.invite_token, passphrase=PASSPHRASE
    )
    _ok(setup.sync_detailed(client=anonymous, body=body))
    session = _ok(
        login.sync_detailed(
            client=anonymous,
            body=models.OwnerLoginBody(user_principal_id=creds.owner_id, passphrase=PASSPHRASE),
        )
    )
    owner = generated.AuthenticatedClient(base_url=live.url, token=session.token)
    agents = _ok(owner_list_agents.sync_detailed(client=owner)).agents
    assert [a.agent_id for a in agents] == [creds.agent_id]

    # -- the agent: authorize, signed per call with the documented headers -----------------
    auth = AgentAuth(creds.agent_id, creds.private_key_b64)
    agent = generated.AuthenticatedClient(
        base_url=live.url,
        token="",
        prefix="",
        auth_header_name="X-Signature",
        httpx_args={"event_hooks": {"request": [_signing_hook(auth)]}},
    )
    held_action = action(creds.agent_id, creds.owner_id, amount_minor=50_000, currency="USD")

    def decide(approval_token: str | None = None) -> Any:
        sent = dict(held_action, **({"approval_token": approval_token} if approval_token else {}))
        request = models.AuthorizeRequest.from_dict(sent)
        # the bytes the generated call sends: its body, JSON-encoded by httpx
        raw = httpx.Request("POST", live.url, json=request.to_dict()).read()
        signed = auth.sign_headers("POST", "/v1/authorize", raw)
        return _ok(
            authorize.sync_detailed(
                client=agent,
                body=request,
                x_agent_id=signed["X-Agent-Id"],
                x_timestamp=signed["X-Timestamp"],
                x_nonce=signed["X-Nonce"],
                x_body_sha_256=signed["X-Body-Sha256"],
                x_signature=signed["X-Signature"],
            )
        )

    held = decide()
    assert held.result == models.Result.REQUIRE_APPROVAL
    assert [o.type_ for o in held.obligations] == ["HUMAN_APPROVAL"]

    # -- the approval: filed by the agent (signed in the httpx client), approved by the owner -
    filed = _ok(
        create_approval_request.sync_detailed(
            client=agent,
            body=models.ApprovalRequestCreate.from_dict(
                {"decision_id": held.decision_id, "action": held_action}
            ),
        )
    )
    approved = _ok(
        approve.sync_detailed(
            filed.approval_request_id, client=owner, body=models.OwnerApproveBody()
        )
    )
    assert approved.status == "APPROVED"
    assert approved.approval_token

    allowed = decide(approved.approval_token)
    assert allowed.result == models.Result.ALLOW
    assert allowed.action_hash == held.action_hash
    assert allowed.approval.approval_request_id == filed.approval_request_id


def test_a_refusal_reaches_the_generated_client_as_the_error_envelope(
    server: tuple[LiveServer, Credentials], generated: ModuleType
) -> None:
    live, _ = server
    models = _module(generated, "models")
    owner_list_agents = _module(generated, "api.owner.owner_list_agents")
    stranger = generated.AuthenticatedClient(base_url=live.url, token="not-a-session")
    refused = owner_list_agents.sync_detailed(client=stranger)
    assert refused.status_code == 401
    assert isinstance(refused.parsed, models.ErrorEnvelope)
    assert refused.parsed.error.code
