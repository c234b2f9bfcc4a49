"""Fixtures: the official SDK installed once per session, and per test module a live server
with two workers, an owner and the interop policy bound to all of the owner's agents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.harness import POLICY_YAML, RegisteredAgent, Sdk, enrol_agent, install_sdk
from tests.support.deployment import Deployment, deployed


@pytest.fixture(scope="session")
def sdk() -> Sdk:
    return Sdk(install_sdk())


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployed(tmp_path_factory.mktemp("interop"), "Interop Owner", POLICY_YAML) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def agent(sdk: Sdk, deployment: Deployment) -> RegisteredAgent:
    """An agent enrolled through an invite with the SDK, used by the authorize tests."""
    enrolled = enrol_agent(sdk, deployment)
    return RegisteredAgent(
        agent_id=enrolled["agent_id"],
        agent_principal_id=enrolled["agent_principal_id"],
        owner_id=enrolled["owner_id"],
        private_key_b64=enrolled["private_key_b64"],
        public_key_b64=enrolled["public_key_b64"],
    )
