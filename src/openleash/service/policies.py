"""Policies and their bindings. A policy that fails validation is never stored."""

from __future__ import annotations

import functools
import uuid
from dataclasses import replace
from typing import Any

from openleash.domain.errors import InvalidInputError, NotFoundError
from openleash.domain.models import Binding, PolicyRecord
from openleash.policy import parse_policy
from openleash.service.audit import record
from openleash.service.options import Options
from openleash.service.policy_work import run_policy_work
from openleash.service.ports import Store, Transaction
from openleash.service.timefmt import iso

#: A binding enforces its policy, or only observes it (shadow mode).
BINDING_MODES = ("enforce", "observe")


def validate_policy(policy_yaml: str) -> dict[str, Any]:
    """Parse and validate; raise ``INVALID_POLICY`` naming each place and line.

    CPU work: from the event loop, call :func:`check_policy` instead."""
    policy = parse_policy(policy_yaml)
    return {"valid": True, "rules": len(policy.rules), "default": policy.default}


async def check_policy(policy_yaml: str) -> dict[str, Any]:
    """:func:`validate_policy` on a worker thread, within a time bound (see policy_work)."""
    return await run_policy_work(functools.partial(validate_policy, policy_yaml))


def policy_view(record_: PolicyRecord, *, with_yaml: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
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


async def _resolve_agent(tx: Transaction, owner_id: str, agent_ref: str | None) -> str | None:
    """An agent given by principal id or by agent id; it must belong to the owner."""
    if agent_ref is None:
        return None
    agent = await tx.get_agent(agent_ref) or await tx.find_active_agent(agent_ref)
    if agent is None or agent.owner_id != owner_id:
        raise InvalidInputError(
            "INVALID_REQUEST", f"Agent {agent_ref!r} is not an agent of this owner"
        )
    return agent.agent_principal_id


async def upsert_policy(
    store: Store,
    *,
    owner_id: str | None,
    policy_yaml: str,
    options: Options,
    policy_id: str | None = None,
    applies_to_agent: str | None = None,
    name: str | None = None,
    description: str | None = None,
    mode: str = "enforce",
) -> dict[str, Any]:
    """Update ``policy_id`` in place, or create a policy bound to the owner (or one agent).

    A new policy's binding ``mode`` is ``enforce``, or ``observe`` for shadow mode."""
    await check_policy(policy_yaml)
    if mode not in BINDING_MODES:
        raise InvalidInputError(
            "INVALID_REQUEST", f"mode must be one of {', '.join(BINDING_MODES)}"
        )
    now = iso(options.clock())
    async with store.transaction() as tx:
        existing = await tx.get_policy(policy_id) if policy_id else None
        if existing is not None:
            updated = replace(
                existing,
                name=name or existing.name,
                description=description or existing.description,
                policy_yaml=policy_yaml,
                updated_at=now,
            )
            await tx.put_policy(updated)
            event, result = "POLICY_UPDATED", updated
        else:
            result = await _create(
                tx,
                owner_id,
                policy_yaml,
                now,
                policy_id,
                applies_to_agent,
                name,
                description,
                mode,
            )
            event = "POLICY_UPSERTED"
        await tx.bump_revision()
        await record(
            tx,
            options.clock(),
            event,
            result.owner_id,
            policy_id=result.policy_id,
            owner_id=result.owner_id,
            applies_to_agent_principal_id=result.applies_to_agent_principal_id,
            mode=mode if event == "POLICY_UPSERTED" else None,
        )
    return policy_view(result, with_yaml=False)


async def _create(
    tx: Transaction,
    owner_id: str | None,
    policy_yaml: str,
    now: str,
    policy_id: str | None,
    applies_to_agent: str | None,
    name: str | None,
    description: str | None,
    mode: str,
) -> PolicyRecord:
    if not owner_id:
        raise InvalidInputError("INVALID_REQUEST", "An owner is required to create a policy")
    if await tx.get_owner(owner_id) is None:
        raise NotFoundError("USER_NOT_FOUND", f"User {owner_id} not found")
    return await create_bound_policy(
        tx,
        owner_id=owner_id,
        policy_yaml=policy_yaml,
        now=now,
        agent_principal_id=await _resolve_agent(tx, owner_id, applies_to_agent),
        name=name,
        description=description,
        mode=mode,
        policy_id=policy_id,
    )


async def create_bound_policy(
    tx: Transaction,
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


async def delete_policy(store: Store, policy_id: str, options: Options) -> dict[str, Any]:
    now = options.clock()
    async with store.transaction() as tx:
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
    return {"policy_id": policy_id, "status": "deleted"}


async def list_policies(store: Store, owner_id: str | None = None) -> dict[str, Any]:
    async with store.read() as tx:
        policies = await tx.list_policies(owner_id)
    return {"policies": [policy_view(p, with_yaml=True) for p in policies]}


async def get_policy(store: Store, policy_id: str) -> dict[str, Any]:
    async with store.read() as tx:
        found = await tx.get_policy(policy_id)
    if found is None:
        raise NotFoundError("POLICY_NOT_FOUND", f"Policy {policy_id} not found")
    return policy_view(found, with_yaml=True)
