"""Headless setup from the server's host: an owner, their first agent and a policy, at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from openleash.crypto import load_public_key
from openleash.domain.errors import InvalidInputError
from openleash.domain.models import Agent, Binding, Owner, PolicyRecord, Status
from openleash.domain.timefmt import iso_ms
from openleash.service.agents import AgentChangeTx, enrol
from openleash.service.audit import record
from openleash.service.options import Options
from openleash.service.owners import MAX_DISPLAY_NAME
from openleash.service.policies import validate_policy
from openleash.service.ports import OwnerRepo, PolicyRepo, Units


class SetUpTx(OwnerRepo, PolicyRepo, AgentChangeTx, Protocol):
    """What setting up an owner, an agent and a policy in one go writes."""


@dataclass(frozen=True, slots=True)
class SetUpRecords:
    """What :func:`setup_owner_and_agent` created."""

    owner: Owner
    agent: Agent
    policy: PolicyRecord


def _new_records(
    owner_name: str,
    agent_id: str,
    public_key_b64: str,
    policy_yaml: str,
    policy_name: str | None,
    stamp: str,
) -> tuple[Owner, Agent, PolicyRecord]:
    """The owner, its agent and its policy that local set-up creates together."""
    owner = Owner(str(uuid.uuid4()), owner_name.strip(), Status.ACTIVE.value, stamp)
    agent = Agent(
        agent_principal_id=str(uuid.uuid4()),
        agent_id=agent_id.strip(),
        owner_type="user",
        owner_id=owner.user_principal_id,
        public_key_b64=public_key_b64,
        status=Status.ACTIVE.value,
        created_at=stamp,
    )
    policy = PolicyRecord(
        str(uuid.uuid4()),
        "user",
        owner.user_principal_id,
        None,
        policy_name,
        None,
        policy_yaml,
        stamp,
        stamp,
    )
    return owner, agent, policy


def _checked(owner_name: str, agent_id: str, public_key_b64: str, policy_yaml: str) -> None:
    """Everything that can be checked before the store is touched, so a bad input leaves
    nothing half made."""
    if not owner_name.strip() or len(owner_name.strip()) > MAX_DISPLAY_NAME:
        raise InvalidInputError(
            "VALIDATION_ERROR", f"The owner name must be 1 to {MAX_DISPLAY_NAME} characters"
        )
    if not agent_id.strip():
        raise InvalidInputError("VALIDATION_ERROR", "The agent id must not be empty")
    load_public_key(public_key_b64)
    validate_policy(policy_yaml)


async def setup_owner_and_agent(
    store: Units[SetUpTx],
    *,
    owner_name: str,
    agent_id: str,
    public_key_b64: str,
    policy_yaml: str,
    options: Options,
    policy_name: str | None = None,
) -> SetUpRecords:
    """Create an owner, an ACTIVE agent holding ``public_key_b64`` (no invite, no challenge:
    the operator at the host vouches for it), and ``policy_yaml`` bound to every agent of the
    owner. One transaction: all of it exists afterwards, or none of it."""
    _checked(owner_name, agent_id, public_key_b64, policy_yaml)
    now = options.clock()
    owner, agent, policy = _new_records(
        owner_name, agent_id, public_key_b64, policy_yaml, policy_name, iso_ms(now)
    )
    owner_id = owner.user_principal_id
    async with store.transaction() as tx:
        await tx.add_owner(owner)
        await record(
            tx, now, "USER_CREATED", owner_id, user_principal_id=owner_id, owner_id=owner_id
        )
        await enrol(tx, agent, now, "AGENT_REGISTERED", method="local_setup")
        await tx.put_policy(policy)
        await tx.add_binding(Binding(str(uuid.uuid4()), "user", owner_id, policy.policy_id, None))
        await record(
            tx,
            now,
            "POLICY_UPSERTED",
            owner_id,
            policy_id=policy.policy_id,
            owner_id=owner_id,
            applies_to_agent_principal_id=None,
        )
    return SetUpRecords(owner, agent, policy)
