"""An owner's own policies (inv §2.3, personal scope): list, read, create, update, re-bind,
reorder and delete. Every change validates first, needs the owner's second factor when TOTP is
on (a policy change can allow more than any single approval), is audited, and reaches the
decision caches of every process through the store revision."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from openleash.domain.errors import InvalidInputError, NotFoundError
from openleash.domain.ids import new_id
from openleash.domain.models import Binding, PolicyRecord
from openleash.service.audit import record
from openleash.service.options import Options
from openleash.service.owner_auth import OwnerCall, factor_attempts, second_factor
from openleash.service.policies import (
    BINDING_MODES,
    check_policy,
    create_bound_policy,
    policy_view,
)
from openleash.service.ports import Store, Transaction
from openleash.service.timefmt import iso

TIERS = ("agent", "owner_wide")
DEFAULT_RANK = 100


def _tier(binding: Binding) -> str:
    return "agent" if binding.applies_to_agent_principal_id else "owner_wide"


def _view(policy: PolicyRecord, binding: Binding | None) -> dict[str, Any]:
    view = policy_view(policy, with_yaml=True)
    if binding is not None:
        view["applies_to_agent_principal_id"] = binding.applies_to_agent_principal_id
    view["tier"] = _tier(binding) if binding else None
    view["rank"] = (binding.rank if binding.rank is not None else DEFAULT_RANK) if binding else None
    view["mode"] = binding.mode if binding else None
    return view


async def _bindings(tx: Transaction, owner_id: str) -> dict[str, Binding]:
    """The last binding of each policy (as the TypeScript server reports rank and target)."""
    return {b.policy_id: b for b in await tx.list_bindings("user", owner_id)}


async def list_owned(store: Store, call: OwnerCall) -> dict[str, Any]:
    async with store.read() as tx:
        policies = await tx.list_policies(call.owner_id)
        bindings = await _bindings(tx, call.owner_id)
    views = [_view(p, bindings.get(p.policy_id)) for p in policies]
    views.sort(
        key=lambda v: (
            TIERS.index(v["tier"]) if v["tier"] in TIERS else len(TIERS),
            v["applies_to_agent_principal_id"] or "",
            v["rank"] if v["rank"] is not None else DEFAULT_RANK,
            v["policy_id"],
        )
    )
    return {"policies": views}


async def _owned(tx: Transaction, call: OwnerCall, policy_id: str) -> PolicyRecord:
    policy = await tx.get_policy(policy_id)
    if policy is None or policy.owner_id != call.owner_id:
        raise NotFoundError("NOT_FOUND", f"Policy {policy_id} not found")
    return policy


async def get_owned(store: Store, call: OwnerCall, policy_id: str) -> dict[str, Any]:
    async with store.read() as tx:
        policy = await _owned(tx, call, policy_id)
        binding = (await _bindings(tx, call.owner_id)).get(policy_id)
    return _view(policy, binding)


def _text_field(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidInputError("VALIDATION_ERROR", f"{name} must be a string or null")
    return value.strip() or None if isinstance(value, str) else None


async def _agent_target(tx: Transaction, call: OwnerCall, body: dict[str, Any]) -> str | None:
    target = body.get("applies_to_agent_principal_id")
    if target is None:
        return None
    agent = await tx.get_agent(target) if isinstance(target, str) else None
    if agent is None or agent.owner_id != call.owner_id:
        raise InvalidInputError("INVALID_AGENT", "Target agent does not belong to you")
    return agent.agent_principal_id


async def create_owned(
    store: Store, call: OwnerCall, body: Any, options: Options
) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("policy_yaml"), str):
        raise InvalidInputError("INVALID_POLICY", "policy_yaml is required")
    await check_policy(body["policy_yaml"])
    mode = body.get("mode", "enforce")
    if mode not in BINDING_MODES:
        raise InvalidInputError(
            "VALIDATION_ERROR", f"mode must be one of {', '.join(BINDING_MODES)}"
        )
    now = call.now
    async with factor_attempts(store, call, options), store.transaction() as tx:
        await second_factor(tx, call.owner_id, body, now, options)
        target = await _agent_target(tx, call, body)
        tier = "agent" if target else "owner_wide"
        ranks = [
            b.rank if b.rank is not None else DEFAULT_RANK
            for b in (await _bindings(tx, call.owner_id)).values()
            if _tier(b) == tier
        ]
        created = await create_bound_policy(
            tx,
            owner_id=call.owner_id,
            policy_yaml=body["policy_yaml"],
            now=iso(now),
            agent_principal_id=target,
            name=_text_field(body, "name"),
            description=_text_field(body, "description"),
            mode=mode,
            rank=max(ranks, default=0) + 100,
        )
        await record(
            tx,
            now,
            "POLICY_UPSERTED",
            call.owner_id,
            policy_id=created.policy_id,
            owner_id=call.owner_id,
            applies_to_agent_principal_id=target,
            mode=mode,
        )
    return {
        "policy_id": created.policy_id,
        "user_principal_id": call.owner_id,
        "applies_to_agent_principal_id": target,
    }


async def _rebind(
    tx: Transaction, call: OwnerCall, policy: PolicyRecord, target: str | None
) -> PolicyRecord:
    """Bind ``policy`` to the agent ``target`` (None: every agent of the owner) instead of
    what it was bound to, keeping its rank and mode; returns the policy as it now applies."""
    old = (await _bindings(tx, call.owner_id)).get(policy.policy_id)
    await tx.delete_bindings(policy.policy_id, call.owner_id)
    await tx.add_binding(
        Binding(
            binding_id=new_id(),
            owner_type="user",
            owner_id=call.owner_id,
            policy_id=policy.policy_id,
            applies_to_agent_principal_id=target,
            rank=old.rank if old else None,
            mode=old.mode if old else "enforce",
        )
    )
    return replace(policy, applies_to_agent_principal_id=target)


async def update_owned(
    store: Store, call: OwnerCall, policy_id: str, body: Any, options: Options
) -> dict[str, Any]:
    """Change the YAML, name or description; with ``applies_to_agent_principal_id`` present,
    bind the policy to that agent (or, with null, to every agent of the owner) instead."""
    if not isinstance(body, dict):
        raise InvalidInputError("VALIDATION_ERROR", "Request body must be a JSON object")
    policy_yaml = body.get("policy_yaml")
    if policy_yaml is not None:
        if not isinstance(policy_yaml, str) or not policy_yaml.strip():
            raise InvalidInputError("VALIDATION_ERROR", "policy_yaml must be a non-empty string")
        await check_policy(policy_yaml)
    now = call.now
    async with factor_attempts(store, call, options), store.transaction() as tx:
        policy = await _owned(tx, call, policy_id)
        await second_factor(tx, call.owner_id, body, now, options)
        updated = replace(
            policy,
            policy_yaml=policy_yaml or policy.policy_yaml,
            name=_text_field(body, "name") if "name" in body else policy.name,
            description=(
                _text_field(body, "description") if "description" in body else policy.description
            ),
            updated_at=iso(now),
        )
        rebound = "applies_to_agent_principal_id" in body
        if rebound:
            updated = await _rebind(tx, call, updated, await _agent_target(tx, call, body))
        await tx.put_policy(updated)
        await tx.bump_revision()
        await record(
            tx,
            now,
            "POLICY_UPDATED",
            call.owner_id,
            policy_id=policy_id,
            owner_id=call.owner_id,
            applies_to_agent_principal_id=updated.applies_to_agent_principal_id,
            rebound=rebound,
        )
    return {"policy_id": policy_id, "status": "updated"}


async def delete_owned(
    store: Store, call: OwnerCall, policy_id: str, body: Any, options: Options
) -> dict[str, Any]:
    now = call.now
    async with factor_attempts(store, call, options), store.transaction() as tx:
        await _owned(tx, call, policy_id)
        await second_factor(tx, call.owner_id, body, now, options)
        await tx.delete_policy(policy_id)
        await tx.bump_revision()
        await record(
            tx, now, "POLICY_DELETED", call.owner_id, policy_id=policy_id, owner_id=call.owner_id
        )
    return {"policy_id": policy_id, "status": "deleted"}


async def reorder(store: Store, call: OwnerCall, body: Any, options: Options) -> dict[str, Any]:
    """Ranks ``(i+1)*100`` in the given order; the list must be exactly the tier's policies."""
    tier = body.get("tier") if isinstance(body, dict) else None
    ordered = body.get("ordered_policy_ids") if isinstance(body, dict) else None
    if tier not in TIERS:
        raise InvalidInputError("INVALID_BODY", f"tier must be one of {', '.join(TIERS)}")
    if not isinstance(ordered, list):
        raise InvalidInputError("INVALID_BODY", "ordered_policy_ids must be an array")
    if not all(isinstance(p, str) for p in ordered):
        raise InvalidInputError("INVALID_BODY", "ordered_policy_ids must hold policy ids (strings)")
    if len(set(ordered)) != len(ordered):
        raise InvalidInputError("INVALID_BODY", "ordered_policy_ids has duplicates")
    async with factor_attempts(store, call, options), store.transaction() as tx:
        await second_factor(tx, call.owner_id, body, call.now, options)
        in_tier = {
            pid: b for pid, b in (await _bindings(tx, call.owner_id)).items() if _tier(b) == tier
        }
        for policy_id in ordered:
            if policy_id not in in_tier:
                raise InvalidInputError(
                    "INVALID_BODY", f"Policy {policy_id} is not in the {tier} tier"
                )
        if len(ordered) != len(in_tier):
            raise InvalidInputError(
                "INVALID_BODY",
                f"Expected {len(in_tier)} policy IDs (every policy of the {tier} tier), "
                f"got {len(ordered)}",
            )
        for index, policy_id in enumerate(ordered):
            await tx.set_binding_rank(in_tier[policy_id].binding_id, (index + 1) * 100)
        await tx.bump_revision()
        await record(
            tx,
            call.now,
            "POLICIES_REORDERED",
            call.owner_id,
            owner_id=call.owner_id,
            tier=tier,
            ordered_policy_ids=ordered,
        )
    return {"reordered": len(ordered)}
