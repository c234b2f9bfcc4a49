"""Policies and their bindings, as the operator manages them (admin API, command line). A policy
that fails validation is never stored."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, replace
from typing import NotRequired, Protocol, TypedDict

from openleash.domain.errors import InvalidInputError, NotFoundError
from openleash.domain.models import Binding, PolicyRecord
from openleash.domain.timefmt import iso_ms
from openleash.policy import parse_policy
from openleash.service.audit import record
from openleash.service.options import Options
from openleash.service.policy_work import run_policy_work
from openleash.service.ports import AgentRepo, AuditLog, OwnerRepo, PolicyRepo, Units

#: A binding enforces its policy, or only observes it (shadow mode).
BINDING_MODES = ("enforce", "observe")


class BindsPolicies(PolicyRepo, Protocol):
    """What storing and binding a policy touches (caches then reload)."""

    async def bump_revision(self) -> None: ...


class PoliciesTx(BindsPolicies, AgentRepo, OwnerRepo, AuditLog, Protocol):
    """The store roles the policy use cases use."""


@dataclass(frozen=True, slots=True)
class PolicySummary:
    """A policy that validated: how many rules it has and its default effect."""

    rules: int
    default: str


def validate_policy(policy_yaml: str) -> PolicySummary:
    """Parse and validate; raise ``INVALID_POLICY`` naming each place and line.

    CPU work: from the event loop, call :func:`check_policy` instead."""
    policy = parse_policy(policy_yaml)
    return PolicySummary(len(policy.rules), policy.default)


async def check_policy(policy_yaml: str) -> PolicySummary:
    """:func:`validate_policy` on a worker thread, within a time bound (see policy_work)."""
    return await run_policy_work(functools.partial(validate_policy, policy_yaml))


class PolicyView(TypedDict):
    """The wire form of a stored policy (:func:`policy_view`)."""

    policy_id: str
    owner_type: str
    owner_id: str
    applies_to_agent_principal_id: str | None
    name: str | None
    description: str | None
    created_at: str
    updated_at: str
    policy_yaml: NotRequired[str]


def policy_view(record_: PolicyRecord, *, with_yaml: bool) -> PolicyView:
    """The wire form of a stored policy, for the command line, the setup use case and the API
    (:mod:`openleash.api.views.policies`)."""
    view: PolicyView = {
        "policy_id": record_.policy_id,
        "owner_type": record_.owner_type,
        "owner_id": record_.owner_id,
        "applies_to_agent_principal_id": record_.applies_to_agent_principal_id,
        "name": record_.name,
        "description": record_.description,
        "created_at": record_.created_at,
        "updated_at": record_.updated_at,
    }
    if with_yaml:
        view["policy_yaml"] = record_.policy_yaml
    return view


@dataclass(frozen=True, slots=True)
class PolicyUpsert:
    """Store a policy: update ``policy_id`` in place when it exists, else create a policy of
    ``owner_id`` bound to all its agents, or to ``applies_to_agent`` (an agent principal id or
    agent id), enforcing or only observing (``mode``, shadow mode)."""

    policy_yaml: str
    owner_id: str | None = None
    policy_id: str | None = None
    applies_to_agent: str | None = None
    name: str | None = None
    description: str | None = None
    mode: str = "enforce"

    def __post_init__(self) -> None:
        if self.mode not in BINDING_MODES:
            raise InvalidInputError(
                "INVALID_REQUEST", f"mode must be one of {', '.join(BINDING_MODES)}"
            )


class Policies:
    """The operator's policies: upsert, list, read, delete."""

    def __init__(self, store: Units[PoliciesTx], options: Options) -> None:
        self._store = store
        self._options = options

    async def upsert(self, command: PolicyUpsert) -> PolicyRecord:
        """Update ``command.policy_id`` in place, or create a policy bound to the owner (or
        one agent). The policy is validated first."""
        await check_policy(command.policy_yaml)
        now = iso_ms(self._options.clock())
        async with self._store.transaction() as tx:
            existing = await tx.get_policy(command.policy_id) if command.policy_id else None
            if existing is not None:
                result = replace(
                    existing,
                    name=command.name or existing.name,
                    description=command.description or existing.description,
                    policy_yaml=command.policy_yaml,
                    updated_at=now,
                )
                await tx.put_policy(result)
            else:
                result = await _create(tx, command, now)
            await tx.bump_revision()
            created = existing is None
            await record(
                tx,
                self._options.clock(),
                "POLICY_UPSERTED" if created else "POLICY_UPDATED",
                result.owner_id,
                policy_id=result.policy_id,
                owner_id=result.owner_id,
                applies_to_agent_principal_id=result.applies_to_agent_principal_id,
                mode=command.mode if created else None,
            )
        return result

    async def delete(self, policy_id: str) -> PolicyRecord:
        """Delete the policy and its bindings; returns it as it was. ``POLICY_NOT_FOUND``."""
        now = self._options.clock()
        async with self._store.transaction() as tx:
            existing = await tx.get_policy(policy_id)
            if existing is None or not await tx.delete_policy(policy_id):
                raise NotFoundError("POLICY_NOT_FOUND", f"Policy {policy_id} not found")
            await tx.bump_revision()
            await record(
                tx,
                now,
                "POLICY_DELETED",
                existing.owner_id,
                policy_id=policy_id,
                owner_id=existing.owner_id,
            )
        return existing

    async def list_for(self, owner_id: str | None = None) -> list[PolicyRecord]:
        """Every policy, or the policies of ``owner_id``."""
        async with self._store.read() as tx:
            return await tx.list_policies(owner_id)

    async def get(self, policy_id: str) -> PolicyRecord:
        """One policy; ``POLICY_NOT_FOUND``."""
        async with self._store.read() as tx:
            found = await tx.get_policy(policy_id)
        if found is None:
            raise NotFoundError("POLICY_NOT_FOUND", f"Policy {policy_id} not found")
        return found


async def _resolve_agent(tx: PoliciesTx, owner_id: str, agent_ref: str | None) -> str | None:
    """An agent given by principal id or by agent id; it must belong to the owner."""
    if agent_ref is None:
        return None
    agent = await tx.get_agent(agent_ref) or await tx.find_active_agent(agent_ref)
    if agent is None or agent.owner_id != owner_id:
        raise InvalidInputError(
            "INVALID_REQUEST", f"Agent {agent_ref!r} is not an agent of this owner"
        )
    return agent.agent_principal_id


async def _create(tx: PoliciesTx, command: PolicyUpsert, now: str) -> PolicyRecord:
    owner_id = command.owner_id
    if not owner_id:
        raise InvalidInputError("INVALID_REQUEST", "An owner is required to create a policy")
    if await tx.get_owner(owner_id) is None:
        raise NotFoundError("USER_NOT_FOUND", f"User {owner_id} not found")
    return await create_bound_policy(
        tx,
        owner_id=owner_id,
        policy_yaml=command.policy_yaml,
        now=now,
        agent_principal_id=await _resolve_agent(tx, owner_id, command.applies_to_agent),
        name=command.name,
        description=command.description,
        mode=command.mode,
        policy_id=command.policy_id,
    )


async def create_bound_policy(
    tx: BindsPolicies,
    *,
    owner_id: str,
    policy_yaml: str,
    now: str,
    agent_principal_id: str | None,
    name: str | None,
    description: str | None,
    mode: str = "enforce",
    policy_id: str | None = None,
    rank: int | None = None,
) -> PolicyRecord:
    """Store a (validated) policy and bind it to one agent of the owner, or to all of them."""
    created = PolicyRecord(
        policy_id or str(uuid.uuid4()),
        "user",
        owner_id,
        agent_principal_id,
        name,
        description,
        policy_yaml,
        now,
        now,
    )
    await tx.put_policy(created)
    await tx.add_binding(
        Binding(
            str(uuid.uuid4()),
            "user",
            owner_id,
            created.policy_id,
            agent_principal_id,
            rank=rank,
            mode=mode,
        )
    )
    await tx.bump_revision()
    return created
