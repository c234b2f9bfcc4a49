"""The repositories of one transaction, written once for SQLite and PostgreSQL.

:class:`SqlRepositories` implements the :class:`~openleash.service.ports.Transaction` port
with the statements of :mod:`.queries` (``?`` placeholders) and the row mappers of :mod:`.rows`,
over five primitives each adapter's transaction provides:

- ``_run(sql, params)``: execute; the number of rows changed;
- ``_run_many(sql, rows_of_params)``: execute once per row of parameters;
- ``_one(sql, params)``: the first row, or ``None``;
- ``_all(sql, params)``: every row;
- ``_value(sql, params)``: the first column of the first row.

On SQLite they run the statement at once (``sqlite3`` blocks; the database is a local file and a
statement takes microseconds); on PostgreSQL they await ``asyncpg``, numbering the placeholders.
Rows are tuples on both.

What is not here differs for a reason and lives in the adapter's transaction: appending to the
audit chain (:mod:`.sqlite_chain`, :mod:`.postgres_chain`), recording an allowed action (one
round trip on PostgreSQL), and PostgreSQL's savepoints for group commit. A repository added to
the ports goes here: its statements in ``queries.py`` (syntax SQLite and PostgreSQL share, or a
PostgreSQL spelling in ``postgres_queries.py`` and an override), its mapping in ``rows.py``, and
each migration in both ``migrations/`` and ``migrations/postgres/``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from openleash.domain.audit import AuditCheckpoint, AuditRow
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
from openleash.store.records import (
    CHALLENGE_PURGE_PER_ISSUE,
    agent_id_taken,
    approval_not_resolved,
    audit_filters,
    policy_not_found,
    whole_number,
)
from openleash.store.sql import queries as q
from openleash.store.sql import rows

Row = tuple[Any, ...]

_uses = itertools.count()


def next_purge_turn() -> bool:
    return next(_uses) % q.PURGE_EVERY == 0


class SqlRepositories:
    """Every repository the two SQL adapters share; subclasses provide the primitives."""

    #: Set by :meth:`bump_revision`: the store then counts the commit as a local change.
    __slots__ = ("_bumped",)

    @property
    def bumped(self) -> bool:
        """Whether this transaction bumped the revision (caches of this process go stale)."""
        return getattr(self, "_bumped", False)

    # -- the primitives -------------------------------------------------------------------------

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        raise NotImplementedError

    async def _run_many(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        raise NotImplementedError

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError

    async def _value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    # -- meta -----------------------------------------------------------------------------------

    async def bump_revision(self) -> None:
        await self._run(q.BUMP_REVISION)
        self._bumped = True

    async def heartbeat(self) -> None:
        """A tiny write, so readiness knows that the database takes writes."""
        await self._run(q.HEARTBEAT)

    # -- owners ---------------------------------------------------------------------------------

    async def add_owner(self, owner: Owner) -> None:
        await self._run(q.ADD_OWNER, rows.owner_params(owner))

    async def get_owner(self, user_principal_id: str) -> Owner | None:
        row = await self._one(q.GET_OWNER, (user_principal_id,))
        return None if row is None else rows.owner_from(row)

    async def list_owners(self) -> list[Owner]:
        return [rows.owner_from(r) for r in await self._all(q.LIST_OWNERS)]

    # -- agents ---------------------------------------------------------------------------------

    async def add_agent(self, agent: Agent) -> None:
        # Checked first rather than left to the unique index: on PostgreSQL a failed statement
        # would abort the whole transaction. The index stays as the backstop.
        if await self._one(q.FIND_LIVE_AGENT, (agent.agent_id,)) is not None:
            raise agent_id_taken(agent.agent_id)
        await self._run(q.ADD_AGENT, rows.agent_params(agent))

    async def find_agents_by_id(self, agent_id: str) -> list[Agent]:
        found = await self._all(q.FIND_AGENTS_BY_ID, (agent_id,))
        return [rows.agent_from(r) for r in found]

    async def activate_agent(self, agent_principal_id: str) -> None:
        if await self._run(q.ACTIVATE_AGENT, (agent_principal_id,)) != 1:
            raise agent_not_pending()

    async def get_agent(self, agent_principal_id: str) -> Agent | None:
        row = await self._one(q.GET_AGENT, (agent_principal_id,))
        return None if row is None else rows.agent_from(row)

    async def find_active_agent(self, agent_id: str) -> Agent | None:
        row = await self._one(q.FIND_ACTIVE_AGENT, (agent_id,))
        return None if row is None else rows.agent_from(row)

    async def list_agents(self, owner_id: str | None = None) -> list[Agent]:
        found = (
            await self._all(q.LIST_AGENTS)
            if owner_id is None
            else await self._all(q.LIST_AGENTS_OF_OWNER, (owner_id,))
        )
        return [rows.agent_from(r) for r in found]

    async def revoke_agent(self, agent_principal_id: str, revoked_at: str) -> bool:
        return await self._run(q.REVOKE_AGENT, (revoked_at, agent_principal_id)) == 1

    async def webhook_url_taken(self, webhook_url: str, owner_id: str) -> bool:
        """Among the owner's ACTIVE agents; the empty URL (no webhook) is never taken."""
        if not webhook_url:
            return False
        return await self._one(q.WEBHOOK_URL_TAKEN, (webhook_url, owner_id)) is not None

    # -- policies and bindings ------------------------------------------------------------------

    async def put_policy(self, policy: PolicyRecord) -> None:
        await self._run(q.PUT_POLICY, rows.policy_params(policy))

    async def get_policy(self, policy_id: str) -> PolicyRecord | None:
        row = await self._one(q.GET_POLICY, (policy_id,))
        return None if row is None else rows.policy_from(row)

    async def list_policies(self, owner_id: str | None = None) -> list[PolicyRecord]:
        found = (
            await self._all(q.LIST_POLICIES)
            if owner_id is None
            else await self._all(q.LIST_POLICIES_OF_OWNER, (owner_id,))
        )
        return [rows.policy_from(r) for r in found]

    async def delete_policy(self, policy_id: str) -> bool:
        await self._run(q.DELETE_POLICY_BINDINGS, (policy_id,))
        return await self._run(q.DELETE_POLICY, (policy_id,)) == 1

    async def set_binding_rank(self, binding_id: str, rank: int) -> None:
        await self._run(q.SET_BINDING_RANK, (rank, binding_id))

    async def add_binding(self, binding: Binding) -> None:
        # Checked first rather than left to the foreign key: on PostgreSQL a failed statement
        # would abort the whole transaction. Under the write lock no writer can delete the
        # policy in between; the foreign key stays as the backstop.
        if await self._one(q.HAS_POLICY, (binding.policy_id,)) is None:
            raise policy_not_found(binding.policy_id)
        await self._run(q.ADD_BINDING, rows.binding_params(binding))

    async def list_bindings(self, owner_type: str, owner_id: str) -> list[Binding]:
        found = await self._all(q.LIST_BINDINGS, (owner_type, owner_id))
        return [rows.binding_from(r) for r in found]

    async def delete_bindings(self, policy_id: str, owner_id: str | None = None) -> int:
        if owner_id is None:
            return await self._run(q.DELETE_POLICY_BINDINGS, (policy_id,))
        return await self._run(q.DELETE_BINDINGS_OF_OWNER, (policy_id, owner_id))

    # -- server keys ----------------------------------------------------------------------------

    async def add_key(self, key: ServerKey, *, make_active: bool) -> None:
        """``make_active`` decides (``key.active`` is ignored); the first key is always active."""
        if make_active:
            await self._run(q.DEACTIVATE_KEYS)
        active = make_active or await self._one(q.HAS_ACTIVE_KEY) is None
        await self._run(q.ADD_KEY, rows.key_params(key, active=active))

    async def list_keys(self) -> list[ServerKey]:
        return [rows.key_from(r) for r in await self._all(q.LIST_KEYS)]

    async def revoke_key(self, kid: str, revoked_at: str) -> bool:
        """False when there is no such key or it is already revoked. The active flag is left
        alone: refusing to revoke the active key is the use case's decision."""
        return await self._run(q.REVOKE_KEY, (revoked_at, kid)) == 1

    # -- nonces ---------------------------------------------------------------------------------

    async def append(self, events: Sequence[AuditEvent]) -> None:
        raise NotImplementedError  # the adapter's own: the audit chain's writer

    async def record_allowed(self, action: AllowedAction) -> None:
        raise NotImplementedError  # the adapter's own

    async def record_decision(
        self,
        *,
        nonce: NonceUse | None,
        allowed: AllowedAction | None,
        held: HeldDecision | None,
        events: Sequence[AuditEvent],
    ) -> None:
        """Statement by statement (an embedded database has no round trips to save)."""
        if nonce is not None:
            await self.use_nonce(nonce.agent_id, nonce.nonce, nonce.now_ms, nonce.expires_ms)
        if allowed is not None:
            await self.record_allowed(allowed)
        if held is not None:
            await self.hold_decision(held)
        await self.append(events)

    async def use_nonce(self, agent_id: str, nonce: str, now_ms: int, expires_ms: int) -> None:
        """One upsert decides (see ``queries.USE_NONCE``): of callers racing with the same pair,
        exactly one changes a row. Every few uses also deletes a few expired nonces of any agent
        (more than are added in between), which keeps the table bounded at little cost."""
        if await self._run(q.USE_NONCE, (agent_id, nonce, expires_ms, now_ms)) != 1:
            raise nonce_replay()
        if next_purge_turn():
            await self._run(q.PURGE_SOME_NONCES, (now_ms, q.PURGE_PER_TURN))

    async def purge_nonces(self, now_ms: int) -> int:
        """Delete every expired nonce. Not needed in steady state (each use clears a few); it
        holds the write lock for every row it deletes, so mind the size of a backlog."""
        return await self._run(q.PURGE_NONCES, (now_ms,))

    # -- challenges -----------------------------------------------------------------------------

    async def add_challenge(self, challenge: Challenge) -> None:
        await self._run(q.ADD_CHALLENGE, rows.challenge_params(challenge))

    async def take_challenge(self, challenge_id: str) -> Challenge | None:
        row = await self._one(q.TAKE_CHALLENGE, (challenge_id,))
        return None if row is None else rows.challenge_from(row)

    async def purge_challenges(self, now: str) -> int:
        return await self._run(q.PURGE_SOME_CHALLENGES, (now, CHALLENGE_PURGE_PER_ISSUE))

    # -- invites --------------------------------------------------------------------------------

    async def add_invite(self, invite: Invite) -> None:
        await self._run(q.ADD_INVITE, rows.invite_params(invite))

    async def get_invite(self, invite_id: str) -> Invite | None:
        row = await self._one(q.GET_INVITE, (invite_id,))
        return None if row is None else rows.invite_from(row)

    async def use_invite(self, invite_id: str, used_at: str) -> None:
        if await self._run(q.USE_INVITE, (used_at, invite_id)) != 1:
            raise invite_not_found() if await self.get_invite(invite_id) is None else invite_used()

    # -- audit log (appending is the adapter's) -------------------------------------------------

    async def audit_rows(
        self, *, after_seq: int, limit: int, filters: AuditFilter | None = None
    ) -> list[AuditRow]:
        """Stored records with their hashes, oldest first, with seq > ``after_seq``; the filters
        of :meth:`page`. Without filters, a range scan of the table in seq order."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        names, values = audit_filters(filters)
        found = await self._all(q.audit_rows(names), (*values, after_seq, limit))
        return list(map(AuditRow._make, found))

    async def last_seq(self) -> int:
        """The seq of the newest record; 0 when the log is empty."""
        return int(await self._value(q.LAST_SEQ))

    async def list_checkpoints(self) -> list[AuditCheckpoint]:
        """Every signed checkpoint of the chain, oldest first."""
        return [rows.checkpoint_from(r) for r in await self._all(q.LIST_CHECKPOINTS)]

    async def page(
        self, *, limit: int, before_seq: int | None = None, filters: AuditFilter | None = None
    ) -> tuple[list[tuple[int, AuditEvent]], int]:
        """Filters (:class:`~openleash.service.ports.AuditFilter`): ``owner_id``,
        ``agent_principal_id``, ``event_type``, ``principal_id``, ``action_type``, ``result``
        (equality), ``since`` (timestamp >= since) and ``until`` (timestamp < until). ``total``
        counts every matching event, ignoring the cursor.

        Cost: a page reads about ``limit`` rows, plus the rows a rare filter skips. The total is
        two index probes without filters and an index-only count with ``owner_id`` or
        ``agent_principal_id`` (with or without a time window); the other filters alone count by
        scanning the log (about 0.2 s per million events on SQLite).
        """
        if limit < 0:
            raise ValueError("limit must not be negative")
        names, values = audit_filters(filters)
        params = (*values, before_seq, limit) if before_seq is not None else (*values, limit)
        found = await self._all(q.audit_page(names, before_seq is not None), params)
        count_sql = q.audit_count(names) if names else q.COUNT_ALL_EVENTS
        total = int(await self._value(count_sql, values))
        return [rows.event_from(r) for r in found], total

    # -- allowed actions (recording is the adapter's) -------------------------------------------

    async def usage(self, where: UsageFilter) -> tuple[float, int]:
        sql, params = q.usage_sql(where)
        row = await self._one(sql, params)
        if row is None:  # pragma: no cover - an aggregate always returns a row
            return 0, 0
        amount, count = row
        return whole_number(amount), int(count)

    async def usage_groups(
        self, where: UsageFilter, group_by: tuple[str, ...]
    ) -> list[tuple[tuple[str | None, ...], float, int]]:
        sql, params = q.usage_groups_sql(where, group_by)
        width = len(group_by)
        return [
            (tuple(v or None for v in row[:width]), whole_number(row[width]), int(row[width + 1]))
            for row in await self._all(sql, params)
        ]

    async def allowed_before(self, owner_id: str, counterparty: str) -> int:
        return int(await self._value(q.ALLOWED_BEFORE, (owner_id, counterparty)))

    # -- approval requests ----------------------------------------------------------------------

    async def add_approval_request(self, request: ApprovalRequest) -> None:
        await self._run(q.ADD_APPROVAL, rows.approval_params(request))

    async def get_approval_request(self, approval_request_id: str) -> ApprovalRequest | None:
        row = await self._one(q.GET_APPROVAL, (approval_request_id,))
        return None if row is None else rows.approval_from(row)

    async def list_approval_requests(
        self,
        *,
        owner_id: str | None = None,
        agent_principal_id: str | None = None,
        status: str | None = None,
        decision_id: str | None = None,
        limit: int = 100,
    ) -> list[ApprovalRequest]:
        given = {
            "owner_id": owner_id,
            "agent_principal_id": agent_principal_id,
            "status": status,
            "decision_id": decision_id,
        }
        names = tuple(n for n in q.APPROVAL_FILTERS if given[n] is not None)
        params = [given[n] for n in names] + [limit]
        found = await self._all(q.list_approvals_sql(names), params)
        return [rows.approval_from(r) for r in found]

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
        params = (
            status,
            resolved_at,
            resolved_by,
            denial_reason,
            assurance_level,
            approval_token_expires_at,
            approval_request_id,
            resolved_at,
        )
        if await self._run(q.RESOLVE_APPROVAL, params) != 1:
            # Why not is read only once it failed: resolving is one conditional statement.
            found = await self.get_approval_request(approval_request_id)
            raise approval_not_resolved(found, resolved_at)

    async def consume_approval(self, approval_request_id: str, consumed_at: str) -> None:
        if await self._run(q.CONSUME_APPROVAL, (consumed_at, approval_request_id)) != 1:
            raise approval_consumed()

    # -- owner credentials and sessions ---------------------------------------------------------

    async def get_credentials(self, user_principal_id: str) -> OwnerCredentials | None:
        row = await self._one(q.GET_CREDENTIALS, (user_principal_id,))
        return None if row is None else rows.credentials_from(row)

    async def put_credentials(self, credentials: OwnerCredentials) -> None:
        await self._run(q.PUT_CREDENTIALS, rows.credentials_params(credentials))

    async def advance_totp_counter(self, user_principal_id: str, counter: int) -> bool:
        return await self._run(q.ADVANCE_TOTP, (counter, user_principal_id, counter)) == 1

    async def replace_backup_codes(self, user_principal_id: str, code_hashes: list[str]) -> None:
        await self._run(q.DELETE_BACKUP_CODES, (user_principal_id,))
        await self._run_many(q.ADD_BACKUP_CODE, [(user_principal_id, h) for h in code_hashes])

    async def use_backup_code(self, user_principal_id: str, code_hash: str, used_at: str) -> bool:
        return await self._run(q.USE_BACKUP_CODE, (used_at, user_principal_id, code_hash)) == 1

    async def count_backup_codes(self, user_principal_id: str) -> int:
        return int(await self._value(q.COUNT_BACKUP_CODES, (user_principal_id,)))

    async def add_session(self, session: OwnerSession) -> None:
        await self._run(q.ADD_SESSION, rows.session_params(session))

    async def get_session(self, session_id: str) -> OwnerSession | None:
        row = await self._one(q.GET_SESSION, (session_id,))
        return None if row is None else rows.session_from(row)

    async def revoke_session(self, session_id: str, revoked_at: str) -> bool:
        return await self._run(q.REVOKE_SESSION, (revoked_at, session_id)) == 1

    async def revoke_sessions(self, user_principal_id: str, revoked_at: str) -> int:
        return await self._run(q.REVOKE_SESSIONS, (revoked_at, user_principal_id))

    # -- held decisions, policy drafts ----------------------------------------------------------

    async def hold_decision(self, decision: HeldDecision) -> None:
        await self._run(q.HOLD_DECISION, rows.held_params(decision))

    async def get_held_decision(self, decision_id: str) -> HeldDecision | None:
        row = await self._one(q.GET_HELD_DECISION, (decision_id,))
        return None if row is None else rows.held_from(row)

    async def add_draft(self, draft: PolicyDraft) -> None:
        await self._run(q.ADD_DRAFT, rows.draft_params(draft))

    async def get_draft(self, policy_draft_id: str) -> PolicyDraft | None:
        row = await self._one(q.GET_DRAFT, (policy_draft_id,))
        return None if row is None else rows.draft_from(row)

    async def list_drafts(
        self,
        *,
        owner_id: str | None = None,
        agent_principal_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[PolicyDraft]:
        given = {"owner_id": owner_id, "agent_principal_id": agent_principal_id, "status": status}
        names = tuple(n for n in q.DRAFT_FILTERS if given[n] is not None)
        params = [given[n] for n in names] + [limit]
        return [rows.draft_from(r) for r in await self._all(q.list_drafts_sql(names), params)]

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
        params = (
            status,
            resolved_at,
            resolved_by,
            denial_reason,
            resulting_policy_id,
            policy_draft_id,
        )
        if await self._run(q.RESOLVE_DRAFT, params) != 1:
            raise draft_resolved()

    # -- webhook outbox -------------------------------------------------------------------------

    async def enqueue_webhook(self, delivery: WebhookDelivery) -> None:
        await self._run(q.ENQUEUE_WEBHOOK, rows.webhook_params(delivery))

    async def due_webhooks(self, now_ms: int, limit: int) -> list[WebhookDelivery]:
        return [rows.webhook_from(r) for r in await self._all(q.DUE_WEBHOOKS, (now_ms, limit))]

    async def claim_webhook(self, delivery_id: str, now_ms: int, lease_until_ms: int) -> bool:
        """A conditional update: of processes claiming at once, the ones that wait for the
        first find the lease moved past ``now_ms``, so exactly one gets the delivery."""
        return await self._run(q.CLAIM_WEBHOOK, (lease_until_ms, delivery_id, now_ms)) == 1

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
        params = (
            status,
            attempts,
            next_attempt_ms,
            last_error,
            last_status_code,
            delivery_id,
            lease_until_ms,
        )
        return await self._run(q.FINISH_WEBHOOK, params) == 1

    async def get_webhook(self, delivery_id: str) -> WebhookDelivery | None:
        row = await self._one(q.GET_WEBHOOK, (delivery_id,))
        return None if row is None else rows.webhook_from(row)
