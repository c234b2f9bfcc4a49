"""Fixtures: the official SDK installed once per session, and per test module a live server
with two workers, an owner and the interop policy bound to all of the owner's agents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.harness import (
    POLICY_YAML,
    Deployment,
    RegisteredAgent,
    Sdk,
    install_sdk,
    new_agent_id,
    wait_for_policy,
    webhook_fields,
)
from tests.support.live import LiveServer, free_port, run_cli


@pytest.fixture(scope="session")
def sdk() -> Sdk:
    return Sdk(install_sdk())


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("interop")
    server = LiveServer(root, free_port(), workers=2).start()
    try:
        owner = server.admin("POST", "/v1/admin/users", json={"display_name": "Interop Owner"})
        owner_id = owner["user_principal_id"]
        policy_file = root / "interop-policy.yaml"
        policy_file.write_text(POLICY_YAML, encoding="utf-8")
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
        policy_id = wait_for_policy(server, owner_id)
        yield Deployment(server, owner_id, policy_id)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def agent(sdk: Sdk, deployment: Deployment) -> RegisteredAgent:
    """An agent enrolled through an invite with the SDK, used by the authorize tests."""
    invite = deployment.agent_invite()
    agent_id = new_agent_id()
    enrolled = sdk.call(
        "redeem_agent_invite",
        invite_url=invite["invite_url"],
        agent_id=agent_id,
        **webhook_fields(agent_id),
    )
    return RegisteredAgent(
        agent_id=enrolled["agent_id"],
        agent_principal_id=enrolled["agent_principal_id"],
        owner_id=enrolled["owner_id"],
        private_key_b64=enrolled["private_key_b64"],
        public_key_b64=enrolled["public_key_b64"],
    )
