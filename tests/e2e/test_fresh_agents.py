"""An agent is known to every worker from the moment its enrolment (or activation) answered.

Each worker caches agents and rereads the store revision only every ``config_refresh_seconds``;
before, an agent's first signed call that reached another worker within that time got
``401 AGENT_NOT_FOUND`` (the official SDKs' challenge flows failed every time). Every request
here goes out on a new connection, so consecutive ones land on either of the two workers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from openleash.client import AgentAuth
from openleash.crypto import generate_keypair, sign
from tests.interop.harness import POLICY_YAML, fresh_request, new_agent_id
from tests.support.actions import action
from tests.support.deployment import Deployment, deployed

pytestmark = pytest.mark.e2e

ROUNDS = 20


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployed(tmp_path_factory.mktemp("fresh"), "Fresh Owner", POLICY_YAML) as deployment:
        yield deployment


def _signed(url: str, agent_id: str, private: str, method: str, path: str, body: bytes) -> Any:
    headers = AgentAuth(agent_id, private).sign_headers(method, path, body)
    if body:
        headers["Content-Type"] = "application/json"
    return fresh_request(method, f"{url}{path}", content=body or None, headers=headers)


def _challenge_register(deployment: Deployment, agent_id: str, public: str, private: str) -> Any:
    issued = fresh_request(
        "POST",
        f"{deployment.url}/v1/agents/registration-challenge",
        json={
            "agent_id": agent_id,
            "agent_pubkey_b64": public,
            "owner_type": "user",
            "owner_id": deployment.owner_id,
        },
    ).json()
    registered = fresh_request(
        "POST",
        f"{deployment.url}/v1/agents/register",
        json={
            "challenge_id": issued["challenge_id"],
            "agent_id": agent_id,
            "agent_pubkey_b64": public,
            "signature_b64": sign(private, base64.b64decode(issued["challenge_b64"])),
            "owner_type": "user",
            "owner_id": deployment.owner_id,
            "webhook_url": "",
            "webhook_secret": "",
            "webhook_auth_token": "",
        },
    )
    assert registered.status_code == 200, registered.text
    return registered.json()


def _authorize(deployment: Deployment, agent_id: str, private: str) -> httpx.Response:
    body = json.dumps(
        action(agent_id, deployment.owner_id, amount_minor=500, currency="USD")
    ).encode()
    response: httpx.Response = _signed(
        deployment.url, agent_id, private, "POST", "/v1/authorize", body
    )
    return response


def test_a_challenge_enrolled_agent_is_known_at_once_and_usable_once_activated(
    deployment: Deployment,
) -> None:
    for _ in range(ROUNDS):
        agent_id = new_agent_id("fresh-challenge")
        public, private = generate_keypair()
        registered = _challenge_register(deployment, agent_id, public, private)
        me = _signed(deployment.url, agent_id, private, "GET", "/v1/agent/self", b"")
        assert me.status_code == 200, me.text
        assert me.json()["status"] == "PENDING"
        deployment.activate_agent(registered["agent_principal_id"])
        decided = _authorize(deployment, agent_id, private)
        assert decided.status_code == 200, decided.text
        assert decided.json()["result"] == "ALLOW"


def test_an_invited_agent_is_usable_at_once(deployment: Deployment) -> None:
    for _ in range(ROUNDS):
        invite = deployment.agent_invite()
        agent_id = new_agent_id("fresh-invite")
        public, private = generate_keypair()
        enrolled = fresh_request(
            "POST",
            f"{deployment.url}/v1/agents/register-with-invite",
            json={
                "invite_id": invite["invite_id"],
                "invite_token": invite["invite_token"],
                "agent_id": agent_id,
                "agent_pubkey_b64": public,
            },
        )
        assert enrolled.status_code == 200, enrolled.text
        decided = _authorize(deployment, agent_id, private)
        assert decided.status_code == 200, decided.text
        assert decided.json()["result"] == "ALLOW"
