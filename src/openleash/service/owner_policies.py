"""An owner's own policies (inv §2.3, personal scope): list, read, create, update, re-bind,
reorder and delete. Every change validates first, needs the owner's second factor when TOTP is
on (a policy change can allow more than any single approval), is audited, and reaches the
decision caches of every process through the store revision."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Protocol

from openleash.domain.errors import InvalidInputError, NotFoundError
from openleash.domain.ids import new_id
from openleash.domain.models import Binding, PolicyRecord
from openleash.domain.timefmt import iso_ms
from openleash.service.audit import record
from openleash.service.bodies import Body
from openleash.service.options import Options
from openleash.service.owner_auth import (
    FactorCode,
    FactorTx,
    OwnerCall,
    check_second_factor,
    factor_attempts,
)
from openleash.service.policies import BINDING_MODES, PoliciesTx, check_policy, create_bound_policy
from openleash.service.ports import AgentRepo, PolicyRepo, Units

TIERS = ("agent", "owner_wide")
DEFAULT_RANK = 100


class Keep(Enum):
    """The value of a field an update leaves as it is (the body did not name it)."""

    KEEP = "keep"


KEEP = Keep.KEEP


def _tier(binding: Binding) -> str:
    return "agent" if binding.applies_to_agent_principal_id else "owner_wide"


@dataclass(frozen=True, slots=True)
class OwnedPolicy:
    """A policy of the owner with the binding that places it (None: it has none)."""

    policy: PolicyRecord
    binding: Binding | None

    @property
    def applies_to_agent_principal_id(self) -> str | None:
        if self.binding is None:
            return self.policy.applies_to_agent_principal_id
        return self.binding.applies_to_agent_principal_id

    @property
    def tier(self) -> str | None:
        return _tier(self.binding) if self.binding else None

    @property
    def rank(self) -> int | None:
        if self.binding is None:
            return None
        return self.binding.rank if self.binding.rank is not None else DEFAULT_RANK

    @property
    def mode(self) -> str | None:
        return self.binding.mode if self.binding else None

    def sort_key(self) -> tuple[int, str, int, str]:
        """Tier (agent first), target agent, rank, id: the order the owner sees."""
        tier = self.tier
        return (
            TIERS.index(tier) if tier in TIERS else len(TIERS),
            self.applies_to_agent_principal_id or "",
            self.rank if self.rank is not None else DEFAULT_RANK,
            self.policy.policy_id,
        )


# -- commands -----------------------------------------------------------------------------------


def factor_code(body: Body) -> object:
    """The second factor a body carries, as given: the second-factor gate checks it and owns
    its messages."""
    return body.get("totp_code")


def _text_field(body: Body, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidInputError("VALIDATION_ERROR", f"{name} must be a string or null")
    return value.strip() or None if isinstance(value, str) else None


def _target_field(body: Body) -> str | None:
    target = body.get("applies_to_agent_principal_id")
    if target is not None and not isinstance(target, str):
        raise InvalidInputError("INVALID_AGENT", "Target agent does not belong to you")
    return target


@dataclass(frozen=True, slots=True)
class OwnerPolicyCreate:
    """A new policy of the owner, bound to one of its agents (``target``) or to all of them."""

    policy_yaml: str
    name: str | None = None
    description: str | None = None
    target: str | None = None
    mode: str = "enforce"
    totp_code: object = field(default=None, repr=False)

    @classmethod
    def from_body(cls, body: Body) -> OwnerPolicyCreate:
        policy_yaml = body.get("policy_yaml")
        if not isinstance(policy_yaml, str):
            raise InvalidInputError("INVALID_POLICY", "policy_yaml is required")
        mode = body.get("mode", "enforce")
        if not isinstance(mode, str) or mode not in BINDING_MODES:
            raise InvalidInputError(
                "VALIDATION_ERROR", f"mode must be one of {', '.join(BINDING_MODES)}"
            )
        return cls(
            policy_yaml,
            _text_field(body, "name"),
            _text_field(body, "description"),
            _target_field(body),
            mode,
            factor_code(body),
        )


@dataclass(frozen=True, slots=True)
class OwnerPolicyUpdate:
    """A change of the YAML, name or description, or a re-binding to another agent
    (``target``; None: every agent of the owner). ``KEEP`` leaves a field as it is."""

    policy_yaml: str | None = None
    name: str | Keep | None = KEEP
    description: str | Keep | None = KEEP
    target: str | Keep | None = KEEP
    totp_code: object = field(default=None, repr=False)

    @classmethod
    def from_body(cls, body: Body) -> OwnerPolicyUpdate:
        policy_yaml = body.get("policy_yaml")
        if policy_yaml is not None and (
            not isinstance(policy_yaml, str) or not policy_yaml.strip()
        ):
            raise InvalidInputError("VALIDATION_ERROR", "policy_yaml must be a non-empty string")
        return cls(
            policy_yaml,
            _text_field(body, "name") if "name" in body else KEEP,
            _text_field(body, "description") if "description" in body else KEEP,
            _target_field(body) if "applies_to_agent_principal_id" in body else KEEP,
            factor_code(body),
        )


@dataclass(frozen=True, slots=True)
class OwnerPolicyOrder:
    """The policies of one tier in their new order (all of them, each once)."""

    tier: str
    ordered_policy_ids: tuple[str, ...]
    totp_code: object = field(default=None, repr=False)

    @classmethod
    def from_body(cls, body: Body) -> OwnerPolicyOrder:
        tier, ordered = body.get("tier"), body.get("ordered_policy_ids")
        if not isinstance(tier, str) or tier not in TIERS:
            raise InvalidInputError("INVALID_BODY", f"tier must be one of {', '.join(TIERS)}")
        if not isinstance(ordered, list):
            raise InvalidInputError("INVALID_BODY", "ordered_policy_ids must be an array")
        ids = [p for p in ordered if isinstance(p, str)]
        if len(ids) != len(ordered):
            raise InvalidInputError(
                "INVALID_BODY", "ordered_policy_ids must hold policy ids (strings)"
            )
        if len(set(ids)) != len(ids):
            raise InvalidInputError("INVALID_BODY", "ordered_policy_ids has duplicates")
        return cls(tier, tuple(ids), factor_code(body))


# -- the use case -------------------------------------------------------------------------------


class OwnerPoliciesTx(PoliciesTx, FactorTx, Protocol):
    """What the owner's policy use cases touch: policies and bindings, the owner's agents,
    the audit log, and the owner's credentials (the second-factor gate)."""


class OwnerPolicies:
    """An owner's policies."""

    def __init__(self, store: Units[OwnerPoliciesTx], options: Options) -> None:
        self._store = store
        self._options = options

    async def list_for(self, call: OwnerCall) -> list[OwnedPolicy]:
        """The owner's policies: agent tier first, then by target agent and rank."""
        async with self._store.read() as tx:
            policies = await tx.list_policies(call.owner_id)
            bindings = await _bindings(tx, call.owner_id)
        owned = [OwnedPolicy(p, bindings.get(p.policy_id)) for p in policies]
        return sorted(owned, key=OwnedPolicy.sort_key)

    async def get(self, call: OwnerCall, policy_id: str) -> OwnedPolicy:
        """One policy of the owner; ``NOT_FOUND`` for another owner's."""
        async with self._store.read() as tx:
            policy = await _owned(tx, call, policy_id)
            binding = (await _bindings(tx, call.owner_id)).get(policy_id)
        return OwnedPolicy(policy, binding)

    async def create(self, call: OwnerCall, command: OwnerPolicyCreate) -> PolicyRecord:
        """Validate, check the second factor, store the policy last in its tier."""
        await check_policy(command.policy_yaml)
        now = call.now
        async with (
            factor_attempts(self._store, call, self._options),
            self._store.transaction() as tx,
        ):
            await check_second_factor(
                tx, call.owner_id, FactorCode(command.totp_code), now, self._options
            )
            target = await _agent_target(tx, call, command.target)
            tier = "agent" if target else "owner_wide"
            ranks = [
                b.rank if b.rank is not None else DEFAULT_RANK
                for b in (await _bindings(tx, call.owner_id)).values()
                if _tier(b) == tier
            ]
            created = await create_bound_policy(
                tx,
                owner_id=call.owner_id,
                policy_yaml=command.policy_yaml,
                now=iso_ms(now),
                agent_principal_id=target,
                name=command.name,
                description=command.description,
                mode=command.mode,
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
                mode=command.mode,
            )
        return created

    async def update(
        self, call: OwnerCall, policy_id: str, command: OwnerPolicyUpdate
    ) -> PolicyRecord:
        """Change the YAML, name or description; with a ``target``, bind the policy to that
        agent (or, with None, to every agent of the owner) instead."""
        if command.policy_yaml is not None:
            await check_policy(command.policy_yaml)
        now = call.now
        async with (
            factor_attempts(self._store, call, self._options),
            self._store.transaction() as tx,
        ):
            policy = await _owned(tx, call, policy_id)
            await check_second_factor(
                tx, call.owner_id, FactorCode(command.totp_code), now, self._options
            )
            updated = replace(
                policy,
                policy_yaml=command.policy_yaml or policy.policy_yaml,
                name=policy.name if command.name is KEEP else command.name,
                description=(
                    policy.description if command.description is KEEP else command.description
                ),
                updated_at=iso_ms(now),
            )
            rebound = command.target is not KEEP
            if command.target is not KEEP:
                target = await _agent_target(tx, call, command.target)
                updated = await _rebind(tx, call, updated, target)
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
        return updated

    async def delete(
        self, call: OwnerCall, policy_id: str, totp_code: object = None
    ) -> PolicyRecord:
        """Delete one of the owner's policies and its bindings; returns it as it was."""
        now = call.now
        async with (
            factor_attempts(self._store, call, self._options),
            self._store.transaction() as tx,
        ):
            policy = await _owned(tx, call, policy_id)
            await check_second_factor(tx, call.owner_id, FactorCode(totp_code), now, self._options)
            await tx.delete_policy(policy_id)
            await tx.bump_revision()
            await record(
                tx,
                now,
                "POLICY_DELETED",
                call.owner_id,
                policy_id=policy_id,
                owner_id=call.owner_id,
            )
        return policy

    async def reorder(self, call: OwnerCall, command: OwnerPolicyOrder) -> tuple[str, ...]:
        """Ranks ``(i+1)*100`` in the given order; the list must be exactly the tier's
        policies. Returns the order stored."""
        tier, ordered = command.tier, command.ordered_policy_ids
        async with (
            factor_attempts(self._store, call, self._options),
            self._store.transaction() as tx,
        ):
            await check_second_factor(
                tx, call.owner_id, FactorCode(command.totp_code), call.now, self._options
            )
            in_tier = {
                pid: b
                for pid, b in (await _bindings(tx, call.owner_id)).items()
                if _tier(b) == tier
            }
            _check_order(tier, ordered, in_tier)
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
                ordered_policy_ids=list(ordered),
            )
        return ordered


def _check_order(tier: str, ordered: tuple[str, ...], in_tier: dict[str, Binding]) -> None:
    for policy_id in ordered:
        if policy_id not in in_tier:
            raise InvalidInputError("INVALID_BODY", f"Policy {policy_id} is not in the {tier} tier")
    if len(ordered) != len(in_tier):
        raise InvalidInputError(
            "INVALID_BODY",
            f"Expected {len(in_tier)} policy IDs (every policy of the {tier} tier), "
            f"got {len(ordered)}",
        )


async def _bindings(tx: PolicyRepo, owner_id: str) -> dict[str, Binding]:
    """The last binding of each policy (as the TypeScript server reports rank and target)."""
    return {b.policy_id: b for b in await tx.list_bindings("user", owner_id)}


async def _owned(tx: PolicyRepo, call: OwnerCall, policy_id: str) -> PolicyRecord:
    policy = await tx.get_policy(policy_id)
    if policy is None or policy.owner_id != call.owner_id:
        raise NotFoundError("NOT_FOUND", f"Policy {policy_id} not found")
    return policy


async def _agent_target(tx: AgentRepo, call: OwnerCall, target: str | None) -> str | None:
    if target is None:
        return None
    agent = await tx.get_agent(target)
    if agent is None or agent.owner_id != call.owner_id:
        raise InvalidInputError("INVALID_AGENT", "Target agent does not belong to you")
    return agent.agent_principal_id


async def _rebind(
    tx: PolicyRepo, call: OwnerCall, policy: PolicyRecord, target: str | None
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
