"""The repositories of one SQLite write transaction."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from openleash.domain.audit import AuditCheckpoint, AuditRow
from openleash.domain.errors import OpenLeashError
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
from openleash.store.sql import queries as q
from openleash.store.sql import rows
from openleash.store.sql.sqlite_chain import AuditCheckpointRule, ChainWriter

_uses = itertools.count()


def _next_purge_turn() -> bool:
    return next(_uses) % q.PURGE_EVERY == 0


def _number(value: float | int) -> float | int:
    """Amounts are stored as REAL; whole ones come back as ``int``, as JavaScript prints them
    (``100``, not ``100.0``), which also keeps them on the fast path of canonical JSON."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    return value


class SqliteTransaction:
    """Every repository of :class:`~openleash.service.ports.Transaction` over one open
    ``BEGIN IMMEDIATE`` transaction. Unusable once the transaction has ended."""

    __slots__ = ("_chain", "_conn")

    def __init__(
        self, conn: sqlite3.Connection, audit_checkpoints: AuditCheckpointRule | None = None
    ) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._chain = ChainWriter(audit_checkpoints or AuditCheckpointRule())

    def end(self) -> None:
        """Called by the store when the transaction commits or rolls back."""
        self._conn = None

    def rolled_back_to_savepoint(self) -> None:
        """Called after a ``ROLLBACK TO``: state cached for this transaction may be undone."""
        self._chain.forget()

    def _db(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            # INVARIANT: nothing runs outside the transaction (and its lock) it was meant for.
            raise RuntimeError("the transaction has ended")
        return conn

    async def bump_revision(self) -> None:
        self._db().execute(q.BUMP_REVISION)

    # -- owners ---------------------------------------------------------------------------------

    async def add_owner(self, owner: Owner) -> None:
        self._db().execute(q.ADD_OWNER, rows.owner_params(owner))

    async def get_owner(self, user_principal_id: str) -> Owner | None:
        row = self._db().execute(q.GET_OWNER, (user_principal_id,)).fetchone()
        return None if row is None else rows.owner_from(row)

    async def list_owners(self) -> list[Owner]:
        return [rows.owner_from(r) for r in self._db().execute(q.LIST_OWNERS)]

    # -- agents ---------------------------------------------------------------------------------

    async def add_agent(self, agent: Agent) -> None:
        db = self._db()
        if agent.status == "ACTIVE":
            current = db.execute(q.FIND_ACTIVE_AGENT, (agent.agent_id,)).fetchone()
            if current is not None:
                existing = rows.agent_from(current)
                if (existing.owner_type, existing.owner_id) != (agent.owner_type, agent.owner_id):
                    raise OpenLeashError(
                        "AGENT_ID_TAKEN",
                        f'Agent id "{agent.agent_id}" is already registered to another owner',
                    )
                db.execute(q.REVOKE_AGENT, (agent.created_at, existing.agent_principal_id))
        db.execute(q.ADD_AGENT, rows.agent_params(agent))

    async def get_agent(self, agent_principal_id: str) -> Agent | None:
        row = self._db().execute(q.GET_AGENT, (agent_principal_id,)).fetchone()
        return None if row is None else rows.agent_from(row)

    async def find_active_agent(self, agent_id: str) -> Agent | None:
        row = self._db().execute(q.FIND_ACTIVE_AGENT, (agent_id,)).fetchone()
        return None if row is None else rows.agent_from(row)

    async def list_agents(self, owner_id: str | None = None) -> list[Agent]:
        db = self._db()
        cursor = (
            db.execute(q.LIST_AGENTS)
            if owner_id is None
            else db.execute(q.LIST_AGENTS_OF_OWNER, (owner_id,))
        )
        return [rows.agent_from(r) for r in cursor]

    async def revoke_agent(self, agent_principal_id: str, revoked_at: str) -> bool:
        cursor = self._db().execute(q.REVOKE_AGENT, (revoked_at, agent_principal_id))
        return cursor.rowcount == 1

    async def webhook_url_taken(self, webhook_url: str) -> bool:
        """Across all agents, revoked ones included; the empty URL (no webhook) is never taken."""
        if not webhook_url:
            return False
        return self._db().execute(q.WEBHOOK_URL_TAKEN, (webhook_url,)).fetchone() is not None

    # -- policies and bindings ------------------------------------------------------------------

    async def put_policy(self, policy: PolicyRecord) -> None:
        self._db().execute(q.PUT_POLICY, rows.policy_params(policy))

    async def get_policy(self, policy_id: str) -> PolicyRecord | None:
        row = self._db().execute(q.GET_POLICY, (policy_id,)).fetchone()
        return None if row is None else rows.policy_from(row)

    async def list_policies(self, owner_id: str | None = None) -> list[PolicyRecord]:
        db = self._db()
        cursor = (
            db.execute(q.LIST_POLICIES)
            if owner_id is None
            else db.execute(q.LIST_POLICIES_OF_OWNER, (owner_id,))
        )
        return [rows.policy_from(r) for r in cursor]

    async def delete_policy(self, policy_id: str) -> bool:
        db = self._db()
        db.execute(q.DELETE_POLICY_BINDINGS, (policy_id,))
        return db.execute(q.DELETE_POLICY, (policy_id,)).rowcount == 1

    async def set_binding_rank(self, binding_id: str, rank: int) -> None:
        self._db().execute(q.SET_BINDING_RANK, (rank, binding_id))

    async def add_binding(self, binding: Binding) -> None:
        try:
            self._db().execute(q.ADD_BINDING, rows.binding_params(binding))
        except sqlite3.IntegrityError as exc:
            if exc.sqlite_errorname == "SQLITE_CONSTRAINT_FOREIGNKEY":
                raise OpenLeashError(
                    "POLICY_NOT_FOUND", f"Policy {binding.policy_id} not found"
                ) from exc
            raise

    async def list_bindings(self, owner_type: str, owner_id: str) -> list[Binding]:
        cursor = self._db().execute(q.LIST_BINDINGS, (owner_type, owner_id))
        return [rows.binding_from(r) for r in cursor]

    async def delete_bindings(self, policy_id: str, owner_id: str | None = None) -> int:
        db = self._db()
        if owner_id is None:
            return db.execute(q.DELETE_POLICY_BINDINGS, (policy_id,)).rowcount
        return db.execute(q.DELETE_BINDINGS_OF_OWNER, (policy_id, owner_id)).rowcount

    # -- server keys ----------------------------------------------------------------------------

    async def add_key(self, key: ServerKey, *, make_active: bool) -> None:
        """``make_active`` decides (``key.active`` is ignored); the first key is always active."""
        db = self._db()
        if make_active:
            db.execute(q.DEACTIVATE_KEYS)
        active = make_active or db.execute(q.HAS_ACTIVE_KEY).fetchone() is None
        db.execute(q.ADD_KEY, rows.key_params(key, active=active))

    async def list_keys(self) -> list[ServerKey]:
        return [rows.key_from(r) for r in self._db().execute(q.LIST_KEYS)]

    async def revoke_key(self, kid: str, revoked_at: str) -> bool:
        """False when there is no such key or it is already revoked. The active flag is left
        alone: refusing to revoke the active key is the use case's decision."""
        return self._db().execute(q.REVOKE_KEY, (revoked_at, kid)).rowcount == 1

    # -- nonces ---------------------------------------------------------------------------------

    async def use_nonce(self, agent_id: str, nonce: str, now_ms: int, expires_ms: int) -> bool:
        """Every few uses also deletes a few expired nonces of any agent (more than are added
        in between), which keeps the table bounded at little cost per request."""
        db = self._db()
        won = db.execute(q.USE_NONCE, (agent_id, nonce, expires_ms, now_ms)).rowcount == 1
        if _next_purge_turn():
            db.execute(q.PURGE_SOME_NONCES, (now_ms, q.PURGE_PER_TURN))
        return won

    async def purge_nonces(self, now_ms: int) -> int:
        """Delete every expired nonce. Not needed in steady state (each use clears a few); it
        holds the write lock for about 10 µs per row, so mind the size of a backlog."""
        return self._db().execute(q.PURGE_NONCES, (now_ms,)).rowcount

    # -- challenges -----------------------------------------------------------------------------

    async def add_challenge(self, challenge: Challenge) -> None:
        self._db().execute(q.ADD_CHALLENGE, rows.challenge_params(challenge))

    async def take_challenge(self, challenge_id: str) -> Challenge | None:
        db = self._db()
        row = db.execute(q.GET_CHALLENGE, (challenge_id,)).fetchone()
        if row is None:
            return None
        db.execute(q.DELETE_CHALLENGE, (challenge_id,))
        return rows.challenge_from(row)

    # -- invites --------------------------------------------------------------------------------

    async def add_invite(self, invite: Invite) -> None:
        self._db().execute(q.ADD_INVITE, rows.invite_params(invite))

    async def get_invite(self, invite_id: str) -> Invite | None:
        row = self._db().execute(q.GET_INVITE, (invite_id,)).fetchone()
        return None if row is None else rows.invite_from(row)

    async def use_invite(self, invite_id: str, used_at: str) -> bool:
        return self._db().execute(q.USE_INVITE, (used_at, invite_id)).rowcount == 1

    # -- audit log ------------------------------------------------------------------------------

    async def append(self, events: Sequence[AuditEvent]) -> None:
        """Chained in seq order: see :mod:`openleash.store.sql.sqlite_chain`."""
        if events:
            self._chain.append(self._db(), events)

    async def audit_rows(
        self, *, after_seq: int, limit: int, filters: dict[str, Any] | None = None
    ) -> list[AuditRow]:
        """Stored records with their hashes, oldest first, with seq > ``after_seq``; the filters
        of :meth:`page`. Without filters, a range scan of the table in seq order."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        names, values = _audit_filters(filters or {})
        cursor = self._db().execute(q.audit_rows(names), [*values, after_seq, limit])
        return list(map(AuditRow._make, cursor.fetchall()))

    async def last_seq(self) -> int:
        """The seq of the newest record; 0 when the log is empty."""
        return int(self._db().execute(q.LAST_SEQ).fetchone()[0])

    async def list_checkpoints(self) -> list[AuditCheckpoint]:
        """Every signed checkpoint of the chain, oldest first."""
        return [rows.checkpoint_from(r) for r in self._db().execute(q.LIST_CHECKPOINTS)]

    async def page(
        self, *, limit: int, before_seq: int | None = None, filters: dict[str, Any] | None = None
    ) -> tuple[list[tuple[int, AuditEvent]], int]:
        """Filters (all optional, ``None`` means absent): ``owner_id``, ``agent_principal_id``,
        ``event_type``, ``principal_id``, ``action_type``, ``result`` (equality), ``since``
        (timestamp >= since) and ``until`` (timestamp < until). ``total`` counts every matching
        event, ignoring the cursor.

        Cost: a page reads about ``limit`` rows, plus the rows a rare filter skips. The total is
        two index probes without filters and an index-only count with ``owner_id`` or
        ``agent_principal_id`` (with or without a time window); the other filters alone count by
        scanning the log (about 0.2 s per million events).
        """
        if limit < 0:
            raise ValueError("limit must not be negative")
        names, values = _audit_filters(filters or {})
        db = self._db()
        params = [*values, before_seq, limit] if before_seq is not None else [*values, limit]
        found = db.execute(q.audit_page(names, before_seq is not None), params).fetchall()
        count_sql = q.audit_count(names) if names else q.COUNT_ALL_EVENTS
        total = int(db.execute(count_sql, values).fetchone()[0])
        return [rows.event_from(r) for r in found], total

    # -- allowed actions (limits) ---------------------------------------------------------------

    async def record_allowed(self, action: AllowedAction) -> None:
        db = self._db()
        amount = action.amount_minor or 0
        stream_id, total_amount, total_count, at_ms = db.execute(
            q.ADD_TO_STREAM,
            (
                action.owner_id,
                action.agent_principal_id,
                action.action_type,
                action.currency or "",
                action.counterparty or "",
                amount,
                action.at_ms,
            ),
        ).fetchone()
        db.execute(
            q.RECORD_ALLOWED,
            (stream_id, action.decision_id, action.amount_minor, at_ms, total_amount, total_count),
        )

    async def usage(self, where: UsageFilter) -> tuple[float, int]:
        sql, params = q.usage_sql(where)
        amount, count = self._db().execute(sql, params).fetchone()
        return _number(amount), int(count)

    async def usage_groups(
        self, where: UsageFilter, group_by: tuple[str, ...]
    ) -> list[tuple[tuple[str | None, ...], float, int]]:
        sql, params = q.usage_groups_sql(where, group_by)
        width = len(group_by)
        return [
            (tuple(v or None for v in row[:width]), _number(row[width]), int(row[width + 1]))
            for row in self._db().execute(sql, params)
        ]

    async def allowed_before(self, owner_id: str, counterparty: str) -> int:
        return int(self._db().execute(q.ALLOWED_BEFORE, (owner_id, counterparty)).fetchone()[0])

    # -- approval requests ----------------------------------------------------------------------

    async def add_approval_request(self, request: ApprovalRequest) -> None:
        self._db().execute(q.ADD_APPROVAL, rows.approval_params(request))

    async def get_approval_request(self, approval_request_id: str) -> ApprovalRequest | None:
        row = self._db().execute(q.GET_APPROVAL, (approval_request_id,)).fetchone()
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
        found = self._db().execute(q.list_approvals_sql(names), params)
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
    ) -> bool:
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
        return self._db().execute(q.RESOLVE_APPROVAL, params).rowcount == 1

    async def consume_approval(self, approval_request_id: str, consumed_at: str) -> bool:
        params = (consumed_at, approval_request_id)
        return self._db().execute(q.CONSUME_APPROVAL, params).rowcount == 1

    # -- owner credentials and sessions ---------------------------------------------------------

    async def get_credentials(self, user_principal_id: str) -> OwnerCredentials | None:
        row = self._db().execute(q.GET_CREDENTIALS, (user_principal_id,)).fetchone()
        return None if row is None else rows.credentials_from(row)

    async def put_credentials(self, credentials: OwnerCredentials) -> None:
        self._db().execute(q.PUT_CREDENTIALS, rows.credentials_params(credentials))

    async def advance_totp_counter(self, user_principal_id: str, counter: int) -> bool:
        params = (counter, user_principal_id, counter)
        return self._db().execute(q.ADVANCE_TOTP, params).rowcount == 1

    async def replace_backup_codes(self, user_principal_id: str, code_hashes: list[str]) -> None:
        db = self._db()
        db.execute(q.DELETE_BACKUP_CODES, (user_principal_id,))
        db.executemany(q.ADD_BACKUP_CODE, [(user_principal_id, h) for h in code_hashes])

    async def use_backup_code(self, user_principal_id: str, code_hash: str, used_at: str) -> bool:
        params = (used_at, user_principal_id, code_hash)
        return self._db().execute(q.USE_BACKUP_CODE, params).rowcount == 1

    async def count_backup_codes(self, user_principal_id: str) -> int:
        return int(self._db().execute(q.COUNT_BACKUP_CODES, (user_principal_id,)).fetchone()[0])

    async def add_session(self, session: OwnerSession) -> None:
        self._db().execute(q.ADD_SESSION, rows.session_params(session))

    async def get_session(self, session_id: str) -> OwnerSession | None:
        row = self._db().execute(q.GET_SESSION, (session_id,)).fetchone()
        return None if row is None else rows.session_from(row)

    async def revoke_session(self, session_id: str, revoked_at: str) -> bool:
        return self._db().execute(q.REVOKE_SESSION, (revoked_at, session_id)).rowcount == 1

    async def revoke_sessions(self, user_principal_id: str, revoked_at: str) -> int:
        return self._db().execute(q.REVOKE_SESSIONS, (revoked_at, user_principal_id)).rowcount

    # -- held decisions, policy drafts ----------------------------------------------------------

    async def hold_decision(self, decision: HeldDecision) -> None:
        self._db().execute(q.HOLD_DECISION, rows.held_params(decision))

    async def get_held_decision(self, decision_id: str) -> HeldDecision | None:
        row = self._db().execute(q.GET_HELD_DECISION, (decision_id,)).fetchone()
        return None if row is None else rows.held_from(row)

    async def add_draft(self, draft: PolicyDraft) -> None:
        self._db().execute(q.ADD_DRAFT, rows.draft_params(draft))

    async def get_draft(self, policy_draft_id: str) -> PolicyDraft | None:
        row = self._db().execute(q.GET_DRAFT, (policy_draft_id,)).fetchone()
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
        return [rows.draft_from(r) for r in self._db().execute(q.list_drafts_sql(names), params)]

    async def resolve_draft(
        self,
        policy_draft_id: str,
        *,
        status: str,
        resolved_at: str,
        resolved_by: str | None,
        denial_reason: str | None = None,
        resulting_policy_id: str | None = None,
    ) -> bool:
        params = (
            status,
            resolved_at,
            resolved_by,
            denial_reason,
            resulting_policy_id,
            policy_draft_id,
        )
        return self._db().execute(q.RESOLVE_DRAFT, params).rowcount == 1

    # -- webhook outbox -------------------------------------------------------------------------

    async def enqueue_webhook(self, delivery: WebhookDelivery) -> None:
        self._db().execute(q.ENQUEUE_WEBHOOK, rows.webhook_params(delivery))

    async def due_webhooks(self, now_ms: int, limit: int) -> list[WebhookDelivery]:
        found = self._db().execute(q.DUE_WEBHOOKS, (now_ms, limit))
        return [rows.webhook_from(r) for r in found]

    async def claim_webhook(self, delivery_id: str, now_ms: int, lease_until_ms: int) -> bool:
        params = (lease_until_ms, delivery_id, now_ms)
        return self._db().execute(q.CLAIM_WEBHOOK, params).rowcount == 1

    async def finish_webhook_attempt(
        self,
        delivery_id: str,
        *,
        status: str,
        attempts: int,
        next_attempt_ms: int,
        last_error: str | None,
        last_status_code: int | None,
    ) -> None:
        params = (status, attempts, next_attempt_ms, last_error, last_status_code, delivery_id)
        self._db().execute(q.FINISH_WEBHOOK, params)

    async def get_webhook(self, delivery_id: str) -> WebhookDelivery | None:
        row = self._db().execute(q.GET_WEBHOOK, (delivery_id,)).fetchone()
        return None if row is None else rows.webhook_from(row)


def _audit_filters(filters: Mapping[str, Any]) -> tuple[tuple[str, ...], list[Any]]:
    unknown = set(filters) - set(q.AUDIT_FILTERS)
    if unknown:
        raise ValueError(f"unknown audit filters: {sorted(unknown)}")
    names = tuple(n for n in q.AUDIT_FILTERS if filters.get(n) is not None)
    return names, [filters[n] for n in names]
