"""Policy drafts: an agent proposes a policy; its owner approves (it is stored and bound) or
denies (inv §8.2). A draft that does not validate is refused when proposed and again when
approved."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openleash.domain.errors import InvalidInputError, NotFoundError
from openleash.domain.ids import new_id
from openleash.domain.models import Agent, DraftStatus, PolicyDraft
from openleash.service.agent_auth import AgentCall, record_nonce
from openleash.service.audit import record
from openleash.service.bodies import optional_text
from openleash.service.notify import notify_agent
from openleash.service.options import Options
from openleash.service.owner_auth import OwnerCall, factor_attempts, second_factor
from openleash.service.policies import check_policy, create_bound_policy
from openleash.service.ports import Store, Transaction
from openleash.service.timefmt import iso

STATUSES = tuple(DraftStatus)


def _status(status: str | None) -> str | None:
    if status is not None and status not in STATUSES:
        raise InvalidInputError("INVALID_REQUEST", f"status must be one of {', '.join(STATUSES)}")
    return status


def full_view(draft: PolicyDraft) -> dict[str, Any]:
    return {
        "policy_draft_id": draft.policy_draft_id,
        "agent_principal_id": draft.agent_principal_id,
        "agent_id": draft.agent_id,
        "owner_type": draft.owner_type,
        "owner_id": draft.owner_id,
        "status": draft.status,
        "name": draft.name,
        "description": draft.description,
        "policy_yaml": draft.policy_yaml,
        "applies_to_agent_principal_id": draft.applies_to_agent_principal_id,
        "justification": draft.justification,
        "created_at": draft.created_at,
        "resolved_at": draft.resolved_at,
        "resolved_by": draft.resolved_by,
        "denial_reason": draft.denial_reason,
        "resulting_policy_id": draft.resulting_policy_id,
    }


def _summary(draft: PolicyDraft) -> dict[str, Any]:
    view = full_view(draft)
    return {
        key: view[key]
        for key in (
            "policy_draft_id",
            "status",
            "name",
            "description",
            "justification",
            "created_at",
            "resolved_at",
            "denial_reason",
            "resulting_policy_id",
        )
    }


async def _target(tx: Transaction, owner_id: str, agent_principal_id: str | None) -> str | None:
    if agent_principal_id is None:
        return None
    target = await tx.get_agent(agent_principal_id)
    if target is None or target.owner_id != owner_id:
        raise InvalidInputError("INVALID_AGENT", "Target agent does not belong to your owner")
    return agent_principal_id


# -- the agent's side ---------------------------------------------------------------------------


async def create_draft(
    store: Store, call: AgentCall, body: Any, options: Options
) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("policy_yaml"), str):
        raise InvalidInputError("INVALID_REQUEST", "policy_yaml is required")
    policy_yaml = body["policy_yaml"]
    await check_policy(policy_yaml)
    agent, now = call.agent, call.now
    # Absent: the agent itself; an explicit null: every agent of the owner.
    target_ref = body.get("applies_to_agent_principal_id", agent.agent_principal_id)
    if target_ref is not None and not isinstance(target_ref, str):
        raise InvalidInputError("INVALID_REQUEST", "applies_to_agent_principal_id must be a string")
    async with store.transaction() as tx:
        await record_nonce(tx, call, options)
        target = await _target(tx, agent.owner_id, target_ref)
        draft = PolicyDraft(
            policy_draft_id=new_id(),
            owner_type=agent.owner_type,
            owner_id=agent.owner_id,
            agent_principal_id=agent.agent_principal_id,
            agent_id=agent.agent_id,
            applies_to_agent_principal_id=target,
            name=optional_text(body, "name", 200),
            description=optional_text(body, "description"),
            policy_yaml=policy_yaml,
            justification=optional_text(body, "justification"),
            status=DraftStatus.PENDING,
            created_at=iso(now),
        )
        await tx.add_draft(draft)
        await record(
            tx,
            now,
            "POLICY_DRAFT_CREATED",
            agent.agent_principal_id,
            policy_draft_id=draft.policy_draft_id,
            agent_principal_id=agent.agent_principal_id,
            owner_id=agent.owner_id,
            applies_to_agent_principal_id=target,
        )
    return {
        "policy_draft_id": draft.policy_draft_id,
        "status": DraftStatus.PENDING,
        "created_at": iso(now),
    }


async def list_for_agent(
    store: Store, call: AgentCall, status: str | None, options: Options
) -> dict[str, Any]:
    _status(status)
    async with store.transaction() as tx:
        await record_nonce(tx, call, options)
        found = await tx.list_drafts(
            agent_principal_id=call.agent.agent_principal_id, status=status, limit=500
        )
    return {"policy_drafts": [_summary(d) for d in found]}


async def get_for_agent(
    store: Store, call: AgentCall, policy_draft_id: str, options: Options
) -> dict[str, Any]:
    async with store.transaction() as tx:
        await record_nonce(tx, call, options)
        draft = await tx.get_draft(policy_draft_id)
    if draft is None or draft.agent_principal_id != call.agent.agent_principal_id:
        raise NotFoundError("NOT_FOUND", f"Policy draft {policy_draft_id} not found")
    view = full_view(draft)
    for key in ("agent_id", "owner_type", "owner_id", "agent_principal_id", "resolved_by"):
        view.pop(key)
    return view


# -- the owner's side ---------------------------------------------------------------------------


async def list_for_owner(store: Store, call: OwnerCall, status: str | None) -> dict[str, Any]:
    _status(status)
    async with store.read() as tx:
        found = await tx.list_drafts(owner_id=call.owner_id, status=status, limit=500)
    return {"policy_drafts": [full_view(d) for d in found]}


async def _owned(tx: Transaction, call: OwnerCall, policy_draft_id: str) -> PolicyDraft:
    draft = await tx.get_draft(policy_draft_id)
    if draft is None or draft.owner_id != call.owner_id:
        raise NotFoundError("NOT_FOUND", f"Policy draft {policy_draft_id} not found")
    return draft


async def get_for_owner(store: Store, call: OwnerCall, policy_draft_id: str) -> dict[str, Any]:
    async with store.read() as tx:
        return full_view(await _owned(tx, call, policy_draft_id))


async def approve(
    store: Store, call: OwnerCall, policy_draft_id: str, body: Any, options: Options
) -> dict[str, Any]:
    now = call.now
    # Checked before the write transaction, never inside it: reading a policy takes time.
    async with store.read() as tx:
        checked = (await _owned(tx, call, policy_draft_id)).policy_yaml
    await check_policy(checked)
    async with factor_attempts(store, call, options), store.transaction() as tx:
        draft = await _owned(tx, call, policy_draft_id)
        await second_factor(tx, call.owner_id, body, now, options)
        _check_pending(draft)
        if draft.policy_yaml != checked:
            raise InvalidInputError("INVALID_STATUS", "The policy draft changed meanwhile")
        target = await _target(tx, call.owner_id, draft.applies_to_agent_principal_id)
        policy = await create_bound_policy(
            tx,
            owner_id=call.owner_id,
            policy_yaml=draft.policy_yaml,
            now=iso(now),
            agent_principal_id=target,
            name=draft.name,
            description=draft.description,
        )
        await _resolve(
            tx, call, draft, DraftStatus.APPROVED, now, resulting_policy_id=policy.policy_id
        )
        await record(
            tx,
            now,
            "POLICY_DRAFT_APPROVED",
            call.owner_id,
            policy_draft_id=policy_draft_id,
            policy_id=policy.policy_id,
            applies_to_agent_principal_id=target,
            agent_principal_id=draft.agent_principal_id,
            owner_id=call.owner_id,
        )
        data = {
            "policy_draft_id": policy_draft_id,
            "status": DraftStatus.APPROVED,
            "policy_id": policy.policy_id,
            "applies_to_agent_principal_id": target,
        }
        await _notify(tx, draft, "policy_draft.approved", data, now)
    return data


async def deny(
    store: Store, call: OwnerCall, policy_draft_id: str, body: Any, options: Options
) -> dict[str, Any]:
    now = call.now
    reason = optional_text(body, "reason")
    async with factor_attempts(store, call, options), store.transaction() as tx:
        draft = await _owned(tx, call, policy_draft_id)
        await second_factor(tx, call.owner_id, body, now, options)
        _check_pending(draft)
        await _resolve(tx, call, draft, DraftStatus.DENIED, now, denial_reason=reason)
        await record(
            tx,
            now,
            "POLICY_DRAFT_DENIED",
            call.owner_id,
            policy_draft_id=policy_draft_id,
            denial_reason=reason,
            agent_principal_id=draft.agent_principal_id,
            owner_id=call.owner_id,
        )
        data = {
            "policy_draft_id": policy_draft_id,
            "status": DraftStatus.DENIED,
            "denial_reason": reason,
        }
        await _notify(tx, draft, "policy_draft.denied", data, now)
    return {"policy_draft_id": policy_draft_id, "status": DraftStatus.DENIED}


def _check_pending(draft: PolicyDraft) -> None:
    if draft.status != DraftStatus.PENDING:
        raise InvalidInputError(
            "INVALID_STATUS", f"Cannot resolve a policy draft with status {draft.status}"
        )


async def _resolve(
    tx: Transaction,
    call: OwnerCall,
    draft: PolicyDraft,
    status: str,
    now: datetime,
    **extra: Any,
) -> None:
    if not await tx.resolve_draft(
        draft.policy_draft_id,
        status=status,
        resolved_at=iso(now),
        resolved_by=call.owner_id,
        **extra,
    ):
        raise InvalidInputError("INVALID_STATUS", "The policy draft was resolved meanwhile")


async def _notify(
    tx: Transaction, draft: PolicyDraft, event_type: str, data: dict[str, Any], now: datetime
) -> None:
    agent: Agent | None = await tx.get_agent(draft.agent_principal_id)
    await notify_agent(tx, agent, event_type, data, now)
