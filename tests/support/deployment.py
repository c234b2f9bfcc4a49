"""A live server with two workers, an owner, and one policy bound to all of the owner's agents:
where the official SDK's tests (interop, the portal in a browser) enrol their agents."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.live import LiveServer, free_port, owner_login, run_cli


@dataclass(frozen=True)
class Deployment:
    server: LiveServer
    owner_id: str
    policy_id: str
    #: The owner's session token, once a test needed one.
    _session: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def url(self) -> str:
        return self.server.url

    def agent_invite(self) -> dict[str, Any]:
        invite: dict[str, Any] = self.server.admin(
            "POST", f"/v1/admin/users/{self.owner_id}/agent-invite"
        )
        return invite

    def owner_token(self) -> str:
        if "token" not in self._session:
            self._session["token"] = owner_login(self.server, self.owner_id)
        return self._session["token"]

    def activate_agent(self, agent_principal_id: str) -> dict[str, Any]:
        """The owner activates an agent that enrolled by challenge (it is PENDING until then)."""
        response = httpx.put(
            f"{self.url}/v1/owner/agents/{agent_principal_id}",
            json={"status": "ACTIVE"},
            headers={"Authorization": f"Bearer {self.owner_token()}", "Connection": "close"},
            timeout=10.0,
        )
        assert response.status_code == 200, response.text
        activated: dict[str, Any] = response.json()
        return activated


@contextmanager
def deployed(root: Path, owner_name: str, policy_yaml: str) -> Iterator[Deployment]:
    """The server in ``root`` for as long as the context lasts; the policy is stored with the
    CLI, as an operator would."""
    server = LiveServer(root, free_port(), workers=2).start()
    try:
        owner = server.admin("POST", "/v1/admin/users", json={"display_name": owner_name})
        owner_id = owner["user_principal_id"]
        policy_file = root / "policy.yaml"
        policy_file.write_text(policy_yaml, encoding="utf-8")
        run_cli(
            server.data_dir,
            "policy",
            "upsert",
            "--owner",
            owner_id,
            "--file",
            str(policy_file),
            "--data-dir",
            str(server.data_dir),
        )
        yield Deployment(server, owner_id, wait_for_policy(server, owner_id))
    finally:
        server.stop()


def wait_for_policy(server: LiveServer, owner_id: str, timeout: float = 10.0) -> str:
    """The server sees a policy stored by the CLI without a restart; wait until it lists it."""
    deadline = time.monotonic() + timeout
    while True:
        listed = server.admin("GET", "/v1/admin/policies", params={"owner_id": owner_id})
        policies = listed.get("policies", [])
        if policies:
            assert len(policies) == 1, policies
            assert policies[0]["applies_to_agent_principal_id"] is None, policies[0]
            return str(policies[0]["policy_id"])
        if time.monotonic() > deadline:
            raise AssertionError(f"policy of owner {owner_id} not visible: {listed}")
        time.sleep(0.1)
