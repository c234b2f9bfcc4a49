"""Policy drafts: an agent proposes a policy; its owner approves (it is stored and bound) or
denies (inv §8.2). A draft that does not validate is refused when proposed and again when
approved.

:class:`Drafts` is the use case, built once (:mod:`openleash.bootstrap`); it takes typed
commands and returns :class:`PolicyDraft` records; the API renders them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from openleash.domain.errors import InvalidInputError, NotFoundError
from openleash.domain.ids import new_id
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import Agent, DraftStatus, PolicyDraft, PolicyRecord
from openleash.domain.timefmt import iso_ms
from openleash.service.agent_auth import AgentCall, record_nonce
from openleash.service.audit import record
from openleash.service.bodies import Body, optional_text
from openleash.service.notify import notify_agent
from openleash.service.options import Options
from openleash.service.owner_auth import OwnerCall
from openleash.service.owner_factor import (
    Denial,
    FactorProof,
    FactorTx,
    factor_attempts,
    second_factor,
)
from openleash.service.policies import BindsPolicies, check_policy, create_bound_policy
from openleash.service.ports import (
    AgentRepo,
    DraftRepo,
    NonceRepo,
    Units,
    WebhookOutbox,
)

STATUSES = tuple(DraftStatus)


class DraftsTx(DraftRepo, AgentRepo, NonceRepo, FactorTx, BindsPolicies, WebhookOutbox, Protocol):
    """The roles of the store the drafts use case touches."""


def _status(status: str | None) -> str | None:
    if status is not None and status not in STATUSES:
        raise InvalidInputError("INVALID_REQUEST", f"status must be one of {', '.join(STATUSES)}")
    return status


@dataclass(frozen=True, slots=True)
class DraftProposal:
    """An agent's proposed policy. ``applies_to_self``: the body named no target, so the draft
    applies to the proposing agent; otherwise ``applies_to_agent_principal_id`` (None: every
    agent of the owner)."""

    policy_yaml: str
    applies_to_self: bool
    applies_to_agent_principal_id: str | None
    name: str | None
    description: str | None
    justification: str | None

    @classmethod
    def from_body(cls, body: Body) -> DraftProposal:
        policy_yaml = body.get("policy_yaml")
        if not isinstance(policy_yaml, str):
            raise InvalidInputError("INVALID_REQUEST", "policy_yaml is required")
        # Absent: the agent itself; an explicit null: every agent of the owner.
        applies_to_self = "applies_to_agent_principal_id" not in body
        target = body.get("applies_to_agent_principal_id")
        if target is not None and not isinstance(target, str):
            raise InvalidInputError(
                "INVALID_REQUEST", "applies_to_agent_principal_id must be a string"
            )
        return cls(
            policy_yaml=policy_yaml,
            applies_to_self=applies_to_self,
            applies_to_agent_principal_id=target,
            name=optional_text(body, "name", 200),
            description=optional_text(body, "description"),
            justification=optional_text(body, "justification"),
        )


class Drafts:
    """Agents propose policies and read their drafts; owners list, read, approve (the policy is
    stored and bound) and deny them."""

    def __init__(self, store: Units[DraftsTx], options: Options) -> None:
        self._store = store
        self._options = options

    # -- the agent's side -----------------------------------------------------------------------

    async def propose(self, call: AgentCall, proposal: DraftProposal) -> PolicyDraft:
        """File a draft (PENDING) once its policy validates."""
        await check_policy(proposal.policy_yaml)
        agent, now = call.agent, call.now
        async with self._store.transaction() as tx:
            await record_nonce(tx, call, self._options)
            target = await _target(
                tx,
                agent.owner_id,
                agent.agent_principal_id
                if proposal.applies_to_self
                else proposal.applies_to_agent_principal_id,
            )
            draft = _new_draft(agent, proposal, target, now)
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
        return draft

    async def list_for_agent(self, call: AgentCall, status: str | None) -> list[PolicyDraft]:
        """The calling agent's drafts, newest first (at most 500), of ``status`` when given."""
        _status(status)
        async with self._store.transaction() as tx:
            await record_nonce(tx, call, self._options)
            return await tx.list_drafts(
                agent_principal_id=call.agent.agent_principal_id, status=status, limit=500
            )

    async def for_agent(self, call: AgentCall, policy_draft_id: str) -> PolicyDraft:
        """One draft of the calling agent."""
        async with self._store.transaction() as tx:
            await record_nonce(tx, call, self._options)
            draft = await tx.get_draft(policy_draft_id)
        if draft is None or draft.agent_principal_id != call.agent.agent_principal_id:
            raise NotFoundError("NOT_FOUND", f"Policy draft {policy_draft_id} not found")
        return draft

    # -- the owner's side -----------------------------------------------------------------------

    async def list_for_owner(self, call: OwnerCall, status: str | None) -> list[PolicyDraft]:
        """The drafts of the owner's agents, newest first (at most 500)."""
        _status(status)
        async with self._store.read() as tx:
            return await tx.list_drafts(owner_id=call.owner_id, status=status, limit=500)

    async def for_owner(self, call: OwnerCall, policy_draft_id: str) -> PolicyDraft:
        async with self._store.read() as tx:
            return await _owned(tx, call, policy_draft_id)

    async def approve(
        self, call: OwnerCall, policy_draft_id: str, proof: FactorProof
    ) -> PolicyDraft:
        """Store the draft's policy and bind it: the draft as resolved, with the policy id."""
        now, options = call.now, self._options
        # Checked before the write transaction, never inside it: reading a policy takes time.
        async with self._store.read() as tx:
            checked = (await _owned(tx, call, policy_draft_id)).policy_yaml
        await check_policy(checked)
        async with factor_attempts(self._store, call, options), self._store.transaction() as tx:
            draft = await _owned(tx, call, policy_draft_id)
            await second_factor(tx, call.owner_id, proof, now, options)
            _check_pending(draft)
            if draft.policy_yaml != checked:
                raise InvalidInputError("INVALID_STATUS", "The policy draft changed meanwhile")
            target = await _target(tx, call.owner_id, draft.applies_to_agent_principal_id)
            policy = await _bound_policy(tx, call, draft, target)
            resolved = await _resolve(
                tx, call, draft, DraftStatus.APPROVED, resulting_policy_id=policy.policy_id
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
            await _notify(tx, resolved, "policy_draft.approved", _approved_event(resolved), now)
        return resolved

    async def deny(self, call: OwnerCall, policy_draft_id: str, denial: Denial) -> PolicyDraft:
        """Deny a pending draft: the draft as resolved."""
        now, reason = call.now, denial.reason
        async with (
            factor_attempts(self._store, call, self._options),
            self._store.transaction() as tx,
        ):
            draft = await _owned(tx, call, policy_draft_id)
            await second_factor(tx, call.owner_id, denial.proof, now, self._options)
            _check_pending(draft)
            resolved = await _resolve(tx, call, draft, DraftStatus.DENIED, denial_reason=reason)
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
            data: JsonObject = {
                "policy_draft_id": policy_draft_id,
                "status": DraftStatus.DENIED,
                "denial_reason": reason,
            }
            await _notify(tx, draft, "policy_draft.denied", data, now)
        return resolved


def _approved_event(draft: PolicyDraft) -> JsonObject:
    """What the agent's webhook receives of an approved draft (and the owner's answer)."""
    return {
        "policy_draft_id": draft.policy_draft_id,
        "status": DraftStatus.APPROVED,
        "policy_id": draft.resulting_policy_id,
        "applies_to_agent_principal_id": draft.applies_to_agent_principal_id,
    }


def _new_draft(
    agent: Agent, proposal: DraftProposal, target: str | None, now: datetime
) -> PolicyDraft:
    return PolicyDraft(
        policy_draft_id=new_id(),
        owner_type=agent.owner_type,
        owner_id=agent.owner_id,
        agent_principal_id=agent.agent_principal_id,
        agent_id=agent.agent_id,
        applies_to_agent_principal_id=target,
        name=proposal.name,
        description=proposal.description,
        policy_yaml=proposal.policy_yaml,
        justification=proposal.justification,
        status=DraftStatus.PENDING,
        created_at=iso_ms(now),
    )


async def _target(tx: DraftsTx, owner_id: str, agent_principal_id: str | None) -> str | None:
    if agent_principal_id is None:
        return None
    target = await tx.get_agent(agent_principal_id)
    if target is None or target.owner_id != owner_id:
        raise InvalidInputError("INVALID_AGENT", "Target agent does not belong to your owner")
    return agent_principal_id


async def _owned(tx: DraftsTx, call: OwnerCall, policy_draft_id: str) -> PolicyDraft:
    draft = await tx.get_draft(policy_draft_id)
    if draft is None or draft.owner_id != call.owner_id:
        raise NotFoundError("NOT_FOUND", f"Policy draft {policy_draft_id} not found")
    return draft


async def _bound_policy(
    tx: BindsPolicies, call: OwnerCall, draft: PolicyDraft, target: str | None
) -> PolicyRecord:
    """The draft's policy, stored and bound."""
    return await create_bound_policy(
        tx,
        owner_id=call.owner_id,
        policy_yaml=draft.policy_yaml,
        now=iso_ms(call.now),
        agent_principal_id=target,
        name=draft.name,
        description=draft.description,
    )


def _check_pending(draft: PolicyDraft) -> None:
    if draft.status != DraftStatus.PENDING:
        raise InvalidInputError(
            "INVALID_STATUS", f"Cannot resolve a policy draft with status {draft.status}"
        )


async def _resolve(
    tx: DraftsTx,
    call: OwnerCall,
    draft: PolicyDraft,
    status: DraftStatus,
    *,
    denial_reason: str | None = None,
    resulting_policy_id: str | None = None,
) -> PolicyDraft:
    """Resolve the pending draft: the draft as it now is."""
    resolved_at = iso_ms(call.now)
    await tx.resolve_draft(
        draft.policy_draft_id,
        status=status,
        resolved_at=resolved_at,
        resolved_by=call.owner_id,
        denial_reason=denial_reason,
        resulting_policy_id=resulting_policy_id,
    )
    return replace(
        draft,
        status=status,
        resolved_at=resolved_at,
        resolved_by=call.owner_id,
        denial_reason=denial_reason,
        resulting_policy_id=resulting_policy_id,
    )


async def _notify(
    tx: DraftsTx, draft: PolicyDraft, event_type: str, data: JsonObject, now: datetime
) -> None:
    agent: Agent | None = await tx.get_agent(draft.agent_principal_id)
    await notify_agent(tx, agent, event_type, data, now)
