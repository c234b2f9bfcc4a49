"""The repositories of one in-memory unit of work: every port of
:class:`~openleash.service.ports.Transaction` over :class:`~.tables.Tables`.

Each method answers as the SQL adapters' statements do (:mod:`openleash.store.sql.queries`): the
same orders, filters, single-use rules and conflicts. What they share is not repeated here but
taken from :mod:`openleash.store.records` and :mod:`openleash.store.chain`.

Records are frozen; their JSON values (an agent's attributes, an approval's action, a webhook's
data) are copied in and out through their stored JSON text, as a database round trip would: a
caller changing what it passed in, or got back, never changes the store.
"""

from __future__ import annotations

import dataclasses
import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar, cast

from openleash.domain.action import ActionDoc
from openleash.domain.audit import AuditCheckpoint, AuditRow
from openleash.domain.jsonvalue import JsonObject
from openleash.domain.models import (
    Agent,
    AllowedAction,
    ApprovalRequest,
    AuditEvent,
    Binding,
    Challenge,
    HeldDecision,
    Invite,
    Owner,
    OwnerCredentials,
    OwnerSession,
    PolicyDraft,
    PolicyRecord,
    ServerKey,
    UsageFilter,
    WebhookDelivery,
)
from openleash.service.ports import (
    AuditFilter,
    NonceUse,
    agent_not_pending,
    approval_consumed,
    draft_resolved,
    invite_not_found,
    invite_used,
    nonce_replay,
)
from openleash.store.chain import AuditCheckpointRule, ChainState, checkpoint_params
from openleash.store.memory.tables import (
    Mark,
    Stream,
    StreamKey,
    Tables,
    UniqueViolationError,
    insertion_seq,
)
from openleash.store.records import (
    CHALLENGE_PURGE_PER_ISSUE,
    agent_id_taken,
    approval_not_resolved,
    audit_filters,
    check_count_by,
    check_group_by,
    dump_json,
    load_json,
    policy_not_found,
    whole_number,
)

_ACTIVE, _PENDING, _REVOKED = "ACTIVE", "PENDING", "REVOKED"
R = TypeVar("R")


def _json(value: JsonObject) -> JsonObject:
    """A private copy of a JSON object, as storing and loading it would give."""
    return load_json(dump_json(value))


def _action(action: ActionDoc) -> ActionDoc:
    """A private copy of an action, as storing and loading it would give: the same keys and
    values, so an action still."""
    return cast(ActionDoc, load_json(dump_json(action)))


class MemoryChain(ChainState):
    """The audit chain's writer in memory: the shared :class:`~openleash.store.chain.ChainState`
    over the transaction's tables."""

    __slots__ = ()

    def append(self, t: Tables, events: Sequence[AuditEvent]) -> None:
        if not self._loaded:
            last = t.audit_row(t.audit_length) if t.audit_length else None
            checkpoint = t.checkpoints.get(max(t.checkpoints)) if len(t.checkpoints) else None
            self.load(
                (
                    None if last is None else last.seq,
                    None if last is None else last.hash,
                    None if checkpoint is None else checkpoint.created_at,
                )
            )
        prepared = self.prepare(events)
        t.append_audit(prepared.rows)
        self.advance(prepared)
        for seq, head, created_at in prepared.due:
            row = checkpoint_params(_signing_key(t), seq, head, created_at)
            if row is not None:
                # As ``ON CONFLICT (seq) DO NOTHING``: a checkpoint already there stays.
                if seq not in t.checkpoints:
                    t.checkpoints.put(seq, AuditCheckpoint(*row))
                self.checkpointed(created_at)


def _signing_key(t: Tables) -> tuple[str, str] | None:
    """``(kid, private key)`` of the active key that is not revoked (``ACTIVE_SIGNING_KEY``)."""
    for _, key in t.keys.values():
        if key.active and key.revoked_at is None:
            return key.kid, key.private_key_b64
    return None


class MemoryTransaction:
    """Every repository of :class:`~openleash.service.ports.Transaction` over one unit of work's
    :class:`~.tables.Tables`. Unusable once the unit has ended."""

    __slots__ = ("_chain", "_mark", "_tables")

    def __init__(
        self, tables: Tables, audit_checkpoints: AuditCheckpointRule | None = None
    ) -> None:
        self._tables: Tables | None = tables
        self._chain = MemoryChain(audit_checkpoints or AuditCheckpointRule())
        self._mark: Mark | None = None

    def end(self) -> Tables:
        """Called by the store when the unit commits or rolls back: the tables it leaves."""
        tables = self._t()
        self._tables = None
        return tables

    def _t(self) -> Tables:
        tables = self._tables
        if tables is None:
            # INVARIANT: nothing runs outside the unit (and its lock) it was meant for.
            raise RuntimeError("the transaction has ended")
        return tables

    def _w(self) -> Tables:
        """The tables, to write: a read unit refuses every write, whether or not it would change
        anything (as a read-only database connection refuses the statement)."""
        tables = self._t()
        tables.check_writable()
        return tables

    # -- units of a group-commit batch (:mod:`openleash.store.sql.batch`) -------------------------

    async def begin_unit(self) -> None:
        self._mark = self._t().mark()

    def unit_succeeded(self) -> None:
        self._mark = None

    async def unit_failed(self) -> None:
        mark = self._mark
        if mark is None:
            raise RuntimeError("unit_failed without begin_unit")
        self._t().undo_to(mark)
        self._mark = None
        # INVARIANT: the unit's audit records are gone, so the chain head this transaction
        # holds must be read again before the next unit appends.
        self._chain.forget()

    def poisoned(self, exc: BaseException) -> bool:
        """Never: a unit's failure is undone by :meth:`unit_failed` alone."""
        return False

    def broken(self, exc: BaseException) -> bool:
        """Never: a unit's failure is its own (there is no database to fail)."""
        return False

    async def heartbeat(self) -> None:
        """Nothing to write: there is no storage to fail (the unit finds out whether a writer
        gets its turn in time)."""

    # -- meta -------------------------------------------------------------------------------------

    async def bump_revision(self) -> None:
        self._w().revision += 1

    # -- owners -----------------------------------------------------------------------------------

    async def add_owner(self, owner: Owner) -> None:
        self._w().owners.insert(owner.user_principal_id, owner)

    async def get_owner(self, user_principal_id: str) -> Owner | None:
        return self._t().owners.get(user_principal_id)

    async def list_owners(self) -> list[Owner]:
        return sorted(self._t().owners.values(), key=lambda o: (o.created_at, o.user_principal_id))

    # -- owner credentials and sessions -----------------------------------------------------------

    async def get_credentials(self, user_principal_id: str) -> OwnerCredentials | None:
        return self._t().credentials.get(user_principal_id)

    async def put_credentials(self, credentials: OwnerCredentials) -> None:
        self._w().credentials.put(credentials.user_principal_id, credentials)

    async def advance_totp_counter(self, user_principal_id: str, counter: int) -> bool:
        table = self._w().credentials
        found = table.get(user_principal_id)
        last = None if found is None else found.totp_last_counter
        if found is None or (last is not None and last >= counter):
            return False
        table.put(user_principal_id, dataclasses.replace(found, totp_last_counter=counter))
        return True

    async def replace_backup_codes(self, user_principal_id: str, code_hashes: list[str]) -> None:
        table = self._w().backup_codes
        if len(set(code_hashes)) != len(code_hashes):
            raise UniqueViolationError("the same backup code is given twice")
        for key in [k for k in table if k[0] == user_principal_id]:
            table.pop(key)
        for code_hash in code_hashes:
            table.insert((user_principal_id, code_hash), None)

    async def use_backup_code(self, user_principal_id: str, code_hash: str, used_at: str) -> bool:
        table = self._w().backup_codes
        key = (user_principal_id, code_hash)
        if key not in table or table.get(key) is not None:
            return False
        table.put(key, used_at)
        return True

    async def count_backup_codes(self, user_principal_id: str) -> int:
        return sum(
            1
            for (owner, _), used_at in self._t().backup_codes.items()
            if owner == user_principal_id and used_at is None
        )

    async def add_session(self, session: OwnerSession) -> None:
        self._w().sessions.insert(session.session_id, session)

    async def get_session(self, session_id: str) -> OwnerSession | None:
        return self._t().sessions.get(session_id)

    async def revoke_session(self, session_id: str, revoked_at: str) -> bool:
        table = self._w().sessions
        found = table.get(session_id)
        if found is None or found.revoked_at is not None:
            return False
        table.put(session_id, dataclasses.replace(found, revoked_at=revoked_at))
        return True

    async def revoke_sessions(self, user_principal_id: str, revoked_at: str) -> int:
        table = self._w().sessions
        open_ones = [
            s
            for s in table.values()
            if s.user_principal_id == user_principal_id and s.revoked_at is None
        ]
        for session in open_ones:
            table.put(session.session_id, dataclasses.replace(session, revoked_at=revoked_at))
        return len(open_ones)

    # -- agents -----------------------------------------------------------------------------------

    async def add_agent(self, agent: Agent) -> None:
        table = self._w().agents
        if any(a.agent_id == agent.agent_id and a.status != _REVOKED for a in table.values()):
            raise agent_id_taken(agent.agent_id)
        table.insert(agent.agent_principal_id, _agent(agent))

    async def get_agent(self, agent_principal_id: str) -> Agent | None:
        found = self._t().agents.get(agent_principal_id)
        return None if found is None else _agent(found)

    async def find_active_agent(self, agent_id: str) -> Agent | None:
        for agent in self._t().agents.values():
            if agent.agent_id == agent_id and agent.status == _ACTIVE:
                return _agent(agent)
        return None

    async def find_agents_by_id(self, agent_id: str) -> list[Agent]:
        return _agents(a for a in self._t().agents.values() if a.agent_id == agent_id)

    async def list_agents(self, owner_id: str | None = None) -> list[Agent]:
        return _agents(
            a for a in self._t().agents.values() if owner_id is None or a.owner_id == owner_id
        )

    async def activate_agent(self, agent_principal_id: str) -> None:
        if not self._set_agent(agent_principal_id, (_PENDING,), status=_ACTIVE):
            raise agent_not_pending()

    async def revoke_agent(self, agent_principal_id: str, revoked_at: str) -> bool:
        return self._set_agent(
            agent_principal_id, (_ACTIVE, _PENDING), status=_REVOKED, revoked_at=revoked_at
        )

    def _set_agent(
        self,
        agent_principal_id: str,
        before: tuple[str, ...],
        status: str,
        revoked_at: str | None = None,
    ) -> bool:
        """Set ``status`` (and ``revoked_at``, when given) of an agent in a ``before`` status."""
        table = self._w().agents
        found = table.get(agent_principal_id)
        if found is None or found.status not in before:
            return False
        changed = dataclasses.replace(found, status=status)
        if revoked_at is not None:
            changed = dataclasses.replace(changed, revoked_at=revoked_at)
        table.put(agent_principal_id, changed)
        return True

    async def webhook_url_taken(self, webhook_url: str, owner_id: str) -> bool:
        """Among the owner's ACTIVE agents; the empty URL (no webhook) is never taken."""
        return bool(webhook_url) and any(
            a.webhook_url == webhook_url and a.owner_id == owner_id and a.status == _ACTIVE
            for a in self._t().agents.values()
        )

    # -- policies and bindings --------------------------------------------------------------------

    async def put_policy(self, policy: PolicyRecord) -> None:
        self._w().policies.put(policy.policy_id, policy)

    async def get_policy(self, policy_id: str) -> PolicyRecord | None:
        return self._t().policies.get(policy_id)

    async def list_policies(self, owner_id: str | None = None) -> list[PolicyRecord]:
        found = [
            p for p in self._t().policies.values() if owner_id is None or p.owner_id == owner_id
        ]
        return sorted(found, key=lambda p: (p.created_at, p.policy_id))

    async def delete_policy(self, policy_id: str) -> bool:
        await self.delete_bindings(policy_id)
        return self._w().policies.pop(policy_id) is not None

    async def add_binding(self, binding: Binding) -> None:
        t = self._w()
        if binding.policy_id not in t.policies:
            raise policy_not_found(binding.policy_id)
        t.bindings.insert(binding.binding_id, (next(insertion_seq), binding))

    async def set_binding_rank(self, binding_id: str, rank: int) -> None:
        table = self._w().bindings
        found = table.get(binding_id)
        if found is not None:
            seq, binding = found
            table.put(binding_id, (seq, dataclasses.replace(binding, rank=rank)))

    async def list_bindings(self, owner_type: str, owner_id: str) -> list[Binding]:
        found = [
            (seq, b)
            for seq, b in self._t().bindings.values()
            if b.owner_type == owner_type and b.owner_id == owner_id
        ]
        return [b for _, b in sorted(found, key=lambda item: item[0])]

    async def delete_bindings(self, policy_id: str, owner_id: str | None = None) -> int:
        table = self._w().bindings
        gone = [
            b.binding_id
            for _, b in table.values()
            if b.policy_id == policy_id and (owner_id is None or b.owner_id == owner_id)
        ]
        for binding_id in gone:
            table.pop(binding_id)
        return len(gone)

    # -- server keys ------------------------------------------------------------------------------

    async def add_key(self, key: ServerKey, *, make_active: bool) -> None:
        """``make_active`` decides (``key.active`` is ignored); the first key is always active."""
        table = self._w().keys
        if key.kid in table:
            raise UniqueViolationError(f"server key {key.kid!r} is stored already")
        if make_active:
            for kid, (seq, other) in list(table.items()):
                if other.active:
                    table.put(kid, (seq, dataclasses.replace(other, active=False)))
        active = make_active or not any(k.active for _, k in table.values())
        table.insert(key.kid, (next(insertion_seq), dataclasses.replace(key, active=active)))

    async def list_keys(self) -> list[ServerKey]:
        return [key for _, key in sorted(self._t().keys.values(), key=lambda item: item[0])]

    async def revoke_key(self, kid: str, revoked_at: str) -> bool:
        """False when there is no such key or it is already revoked. The active flag is left
        alone: refusing to revoke the active key is the use case's decision."""
        table = self._w().keys
        found = table.get(kid)
        if found is None or found[1].revoked_at is not None:
            return False
        seq, key = found
        table.put(kid, (seq, dataclasses.replace(key, revoked_at=revoked_at)))
        return True

    # -- nonces -----------------------------------------------------------------------------------

    async def use_nonce(self, agent_id: str, nonce: str, now_ms: int, expires_ms: int) -> None:
        """Recorded, or taken over when the one recorded has expired; a live one is refused.
        The first nonce write of a transaction copies the table, and leaves out the nonces
        expired by ``now_ms`` as it does, which keeps the table near its live size."""
        table = self._w().nonces
        table.copy_without(lambda _, expires: expires <= now_ms)
        recorded = table.get((agent_id, nonce))
        if recorded is not None and recorded > now_ms:
            raise nonce_replay()
        table.put((agent_id, nonce), expires_ms)

    async def purge_nonces(self, now_ms: int) -> int:
        table = self._w().nonces
        expired = [key for key, expires in table.items() if expires <= now_ms]
        for key in expired:
            table.pop(key)
        return len(expired)

    # -- challenges -------------------------------------------------------------------------------

    async def add_challenge(self, challenge: Challenge) -> None:
        self._w().challenges.insert(challenge.challenge_id, _challenge(challenge))

    async def take_challenge(self, challenge_id: str) -> Challenge | None:
        taken = self._w().challenges.pop(challenge_id)
        return None if taken is None else _challenge(taken)

    async def purge_challenges(self, now: str) -> int:
        table = self._w().challenges
        expired = sorted((c for c in table.values() if c.expires_at <= now), key=_expiry)
        for challenge in expired[:CHALLENGE_PURGE_PER_ISSUE]:
            table.pop(challenge.challenge_id)
        return min(len(expired), CHALLENGE_PURGE_PER_ISSUE)

    # -- invites ----------------------------------------------------------------------------------

    async def add_invite(self, invite: Invite) -> None:
        self._w().invites.insert(invite.invite_id, invite)

    async def get_invite(self, invite_id: str) -> Invite | None:
        return self._t().invites.get(invite_id)

    async def use_invite(self, invite_id: str, used_at: str) -> None:
        table = self._w().invites
        found = table.get(invite_id)
        if found is None:
            raise invite_not_found()
        if found.used_at is not None:
            raise invite_used()
        table.put(invite_id, dataclasses.replace(found, used_at=used_at))

    # -- audit log --------------------------------------------------------------------------------

    async def append(self, events: Sequence[AuditEvent]) -> None:
        """Chained in seq order, checkpoints signed when due: :mod:`openleash.store.chain`."""
        if events:
            self._chain.append(self._w(), events)

    async def page(
        self, *, limit: int, before_seq: int | None = None, filters: AuditFilter | None = None
    ) -> tuple[list[tuple[int, AuditEvent]], int]:
        """Newest first; ``total`` counts every matching record, ignoring the cursor."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        wanted = _RecordFilter(filters)
        t = self._t()
        found: list[tuple[int, AuditEvent]] = []
        total = 0
        for seq in range(t.audit_length, 0, -1):
            row = t.audit_row(seq)
            if wanted(row):
                total += 1
                if len(found) < limit and (before_seq is None or seq < before_seq):
                    found.append((seq, _event(row)))
        return found, total

    async def audit_rows(
        self, *, after_seq: int, limit: int, filters: AuditFilter | None = None
    ) -> list[AuditRow]:
        if limit < 0:
            raise ValueError("limit must not be negative")
        wanted = _RecordFilter(filters)
        t = self._t()
        found: list[AuditRow] = []
        seq = max(after_seq, 0)
        while len(found) < limit and seq < t.audit_length:
            seq += 1
            row = t.audit_row(seq)
            if wanted(row):
                found.append(row)
        return found

    async def last_seq(self) -> int:
        return self._t().audit_length

    async def list_checkpoints(self) -> list[AuditCheckpoint]:
        table = self._t().checkpoints
        return [c for _, c in sorted(table.items())]

    # -- allowed actions --------------------------------------------------------------------------

    async def record_allowed(self, action: AllowedAction) -> None:
        key = (
            action.owner_id,
            action.agent_principal_id,
            action.action_type,
            action.currency or "",
            action.counterparty or "",
        )
        self._w().add_to_stream(key, action.amount_minor or 0, action.at_ms)

    async def usage(self, where: UsageFilter) -> tuple[float, int]:
        amounts: list[float] = []
        count = 0
        for _, stream in self._streams(where):
            amount, more = _since(stream, where.since_ms)
            amounts.append(amount)
            count += more
        return whole_number(math.fsum(amounts)), count

    async def usage_groups(
        self, where: UsageFilter, group_by: tuple[str, ...]
    ) -> list[tuple[tuple[str | None, ...], float, int]]:
        check_group_by(group_by)
        amounts: dict[tuple[str, ...], list[float]] = {}
        counts: dict[tuple[str, ...], int] = {}
        for key, stream in self._streams(where):
            values = tuple(_field(key, name) for name in group_by)
            amount, count = _since(stream, where.since_ms)
            amounts.setdefault(values, []).append(amount)
            counts[values] = counts.get(values, 0) + count
        return [
            (tuple(v or None for v in values), whole_number(math.fsum(amounts[values])), count)
            for values, count in sorted(counts.items())
        ]

    async def allowed_before(self, owner_id: str, counterparty: str) -> int:
        return sum(
            s.total_count
            for (owner, _, _, _, party), s in self._t().streams.items()
            if owner == owner_id and party == counterparty
        )

    def _streams(self, where: UsageFilter) -> list[tuple[StreamKey, Stream]]:
        """The streams ``where`` selects that have an action since its start."""
        for column, _ in where.by:
            check_count_by(column)
        by = [(column, "" if value is None else value) for column, value in where.by]
        prefix = None if where.action_prefix is None else where.action_prefix + "."
        found = []
        for key, stream in self._t().streams.items():
            owner, agent, action_type, _, _ = key
            if owner != where.owner_id or stream.last_at_ms < where.since_ms:
                continue
            if where.agent_principal_id is not None and agent != where.agent_principal_id:
                continue
            if where.action_exact is not None and action_type != where.action_exact:
                continue
            if prefix is not None and not (
                action_type == where.action_prefix or action_type.startswith(prefix)
            ):
                continue
            if all(_field(key, column) == value for column, value in by):
                found.append((key, stream))
        return found

    # -- approval requests ------------------------------------------------------------------------

    async def add_approval_request(self, request: ApprovalRequest) -> None:
        table = self._w().approvals
        if any(r.decision_id == request.decision_id for r in table.values()):
            raise UniqueViolationError(
                f"an approval request for decision {request.decision_id!r} is stored already"
            )
        table.insert(request.approval_request_id, _approval(request))

    async def get_approval_request(self, approval_request_id: str) -> ApprovalRequest | None:
        found = self._t().approvals.get(approval_request_id)
        return None if found is None else _approval(found)

    async def list_approval_requests(
        self,
        *,
        owner_id: str | None = None,
        agent_principal_id: str | None = None,
        status: str | None = None,
        decision_id: str | None = None,
        limit: int = 100,
    ) -> list[ApprovalRequest]:
        """Newest first."""
        given = {
            "owner_id": owner_id,
            "agent_principal_id": agent_principal_id,
            "status": status,
            "decision_id": decision_id,
        }
        found = _matching(self._t().approvals.values(), given)
        found.sort(key=lambda r: (r.created_at, r.approval_request_id), reverse=True)
        return [_approval(r) for r in found[: max(limit, 0)]]

    async def resolve_approval_request(
        self,
        approval_request_id: str,
        *,
        status: str,
        resolved_at: str,
        resolved_by: str | None,
        denial_reason: str | None = None,
        assurance_level: str | None = None,
        approval_token_expires_at: str | None = None,
    ) -> None:
        table = self._w().approvals
        found = table.get(approval_request_id)
        if found is None or found.status != _PENDING or not found.expires_at > resolved_at:
            raise approval_not_resolved(found, resolved_at)
        table.put(
            approval_request_id,
            dataclasses.replace(
                found,
                status=status,
                resolved_at=resolved_at,
                resolved_by=resolved_by,
                denial_reason=denial_reason,
                assurance_level=assurance_level,
                approval_token_expires_at=approval_token_expires_at,
            ),
        )

    async def consume_approval(self, approval_request_id: str, consumed_at: str) -> None:
        table = self._w().approvals
        found = table.get(approval_request_id)
        if found is None or found.status != "APPROVED" or found.consumed_at is not None:
            raise approval_consumed()
        table.put(approval_request_id, dataclasses.replace(found, consumed_at=consumed_at))

    # -- held decisions, policy drafts ------------------------------------------------------------

    async def hold_decision(self, decision: HeldDecision) -> None:
        self._w().held.insert(decision.decision_id, decision)

    async def get_held_decision(self, decision_id: str) -> HeldDecision | None:
        return self._t().held.get(decision_id)

    async def add_draft(self, draft: PolicyDraft) -> None:
        self._w().drafts.insert(draft.policy_draft_id, draft)

    async def get_draft(self, policy_draft_id: str) -> PolicyDraft | None:
        return self._t().drafts.get(policy_draft_id)

    async def list_drafts(
        self,
        *,
        owner_id: str | None = None,
        agent_principal_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[PolicyDraft]:
        """Newest first."""
        given = {"owner_id": owner_id, "agent_principal_id": agent_principal_id, "status": status}
        found = _matching(self._t().drafts.values(), given)
        found.sort(key=lambda d: (d.created_at, d.policy_draft_id), reverse=True)
        return found[: max(limit, 0)]

    async def resolve_draft(
        self,
        policy_draft_id: str,
        *,
        status: str,
        resolved_at: str,
        resolved_by: str | None,
        denial_reason: str | None = None,
        resulting_policy_id: str | None = None,
    ) -> None:
        table = self._w().drafts
        found = table.get(policy_draft_id)
        if found is None or found.status != _PENDING:
            raise draft_resolved()
        table.put(
            policy_draft_id,
            dataclasses.replace(
                found,
                status=status,
                resolved_at=resolved_at,
                resolved_by=resolved_by,
                denial_reason=denial_reason,
                resulting_policy_id=resulting_policy_id,
            ),
        )

    # -- webhook outbox ---------------------------------------------------------------------------

    async def enqueue_webhook(self, delivery: WebhookDelivery) -> None:
        self._w().outbox.insert(delivery.delivery_id, _delivery(delivery))

    async def due_webhooks(self, now_ms: int, limit: int) -> list[WebhookDelivery]:
        due = [
            d
            for d in self._t().outbox.values()
            if d.status == _PENDING and d.next_attempt_ms <= now_ms
        ]
        due.sort(key=lambda d: d.next_attempt_ms)
        return [_delivery(d) for d in due[: max(limit, 0)]]

    async def claim_webhook(self, delivery_id: str, now_ms: int, lease_until_ms: int) -> bool:
        table = self._w().outbox
        found = table.get(delivery_id)
        if found is None or found.status != _PENDING or found.next_attempt_ms > now_ms:
            return False
        table.put(delivery_id, dataclasses.replace(found, next_attempt_ms=lease_until_ms))
        return True

    async def finish_webhook_attempt(
        self,
        delivery_id: str,
        *,
        status: str,
        attempts: int,
        next_attempt_ms: int,
        last_error: str | None,
        last_status_code: int | None,
        lease_until_ms: int,
    ) -> bool:
        table = self._w().outbox
        found = table.get(delivery_id)
        if found is None or found.status != _PENDING or found.next_attempt_ms != lease_until_ms:
            return False
        table.put(
            delivery_id,
            dataclasses.replace(
                found,
                status=status,
                attempts=attempts,
                next_attempt_ms=next_attempt_ms,
                last_error=last_error,
                last_status_code=last_status_code,
            ),
        )
        return True

    async def get_webhook(self, delivery_id: str) -> WebhookDelivery | None:
        found = self._t().outbox.get(delivery_id)
        return None if found is None else _delivery(found)

    # -- a decided action at once -----------------------------------------------------------------

    async def record_decision(
        self,
        *,
        nonce: NonceUse | None,
        allowed: AllowedAction | None,
        held: HeldDecision | None,
        events: Sequence[AuditEvent],
    ) -> None:
        """Step by step, as the SQLite adapter does. Raises ``NONCE_REPLAY`` when the nonce was
        used already, having written nothing else; the exception abandons the unit."""
        if nonce is not None:
            await self.use_nonce(nonce.agent_id, nonce.nonce, nonce.now_ms, nonce.expires_ms)
        if allowed is not None:
            await self.record_allowed(allowed)
        if held is not None:
            await self.hold_decision(held)
        await self.append(events)


# -- helpers --------------------------------------------------------------------------------------


def _agent(agent: Agent) -> Agent:
    return dataclasses.replace(agent, attributes=_json(agent.attributes))


def _agents(found: Iterable[Agent]) -> list[Agent]:
    """Oldest first, as every agent listing is."""
    return [_agent(a) for a in sorted(found, key=lambda a: (a.created_at, a.agent_principal_id))]


def _challenge(challenge: Challenge) -> Challenge:
    return dataclasses.replace(challenge, agent_attributes=_json(challenge.agent_attributes))


def _expiry(challenge: Challenge) -> str:
    return challenge.expires_at


def _approval(request: ApprovalRequest) -> ApprovalRequest:
    context = None if request.context is None else _json(request.context)
    return dataclasses.replace(request, action=_action(request.action), context=context)


def _delivery(delivery: WebhookDelivery) -> WebhookDelivery:
    return dataclasses.replace(delivery, data=_json(delivery.data))


def _event(row: AuditRow) -> AuditEvent:
    """The event of a stored record, its metadata parsed as the SQL adapters parse it."""
    return AuditEvent(
        event_id=row.event_id,
        timestamp=row.timestamp,
        event_type=row.event_type,
        principal_id=row.principal_id,
        action_id=row.action_id,
        decision_id=row.decision_id,
        metadata_json=load_json(row.metadata_json),
    )


def _matching(records: Iterable[R], given: Mapping[str, str | None]) -> list[R]:
    """The records equal to every given (not None) value of ``given``."""
    wanted = [(name, value) for name, value in given.items() if value is not None]
    return [r for r in records if all(getattr(r, name) == value for name, value in wanted)]


class _RecordFilter:
    """An audit record matches every filter given (``records.audit_filters``): equality on the
    stored column of the filter's name, ``since`` <= timestamp < ``until``."""

    __slots__ = ("_equal", "_since", "_until")

    def __init__(self, filters: AuditFilter | None) -> None:
        names, values = audit_filters(filters)
        given = dict(zip(names, values, strict=True))
        self._since = given.pop("since", None)
        self._until = given.pop("until", None)
        self._equal = [(AuditRow._fields.index(name), value) for name, value in given.items()]

    def __call__(self, row: AuditRow) -> bool:
        if self._since is not None and not row.timestamp >= self._since:
            return False
        if self._until is not None and not row.timestamp < self._until:
            return False
        return all(row[index] == value for index, value in self._equal)


def _field(key: StreamKey, name: str) -> str:
    """A stream's value of a ``by`` field (``records.USAGE_BY_FIELDS``)."""
    return key[_STREAM_FIELDS[name]]


_STREAM_FIELDS = {"action_type": 2, "currency": 3, "counterparty": 4}


def _since(stream: Stream, since_ms: int) -> tuple[float, int]:
    """The amount and count of the stream's actions at or after ``since_ms``: its totals less
    the running totals of the last action before then."""
    first = bisect_left(stream.actions, (since_ms,), 0, stream.length)
    if first == 0:
        return stream.total_amount, stream.total_count
    _, count_before, amount_before = stream.actions[first - 1]
    return stream.total_amount - amount_before, stream.total_count - count_before
