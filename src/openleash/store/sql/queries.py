"""The SQL of every repository, in one place, grouped by repository.

Placeholders are ``?``. The statements keep to syntax that SQLite and PostgreSQL share (upserts
with ``ON CONFLICT``, ``TRUE``/``FALSE``, ``LIMIT``), so another adapter can reuse them after
rewriting the placeholders. Column lists match the row mappers of :mod:`openleash.store.sql.rows`.
"""

# ruff: noqa: S608 -- built from this module's constants only; values are always placeholders

from __future__ import annotations

from functools import lru_cache
from typing import Any

from openleash.domain.models import UsageFilter
from openleash.store.records import AUDIT_FILTERS as AUDIT_FILTER_NAMES
from openleash.store.records import USAGE_BY_FIELDS, check_count_by, check_group_by

# -- meta -------------------------------------------------------------------------------------

REVISION = "SELECT value FROM meta WHERE key = 'revision'"
BUMP_REVISION = "UPDATE meta SET value = value + 1 WHERE key = 'revision'"
#: Readiness's probe write: one row of its own, changed in place, so it never grows the file.
#: The count wraps well within a 32-bit integer.
HEARTBEAT = (
    "INSERT INTO meta (key, value) VALUES ('heartbeat', 1) "
    "ON CONFLICT (key) DO UPDATE SET value = meta.value % 1000000 + 1"
)

# -- owners -----------------------------------------------------------------------------------

_OWNER_COLUMNS = "user_principal_id, display_name, status, created_at, owner_type"
ADD_OWNER = f"INSERT INTO owners ({_OWNER_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
GET_OWNER = f"SELECT {_OWNER_COLUMNS} FROM owners WHERE user_principal_id = ?"
LIST_OWNERS = f"SELECT {_OWNER_COLUMNS} FROM owners ORDER BY created_at, user_principal_id"

# -- agents -----------------------------------------------------------------------------------

_AGENT_COLUMNS = (
    "agent_principal_id, agent_id, owner_type, owner_id, public_key_b64, status, created_at, "
    "attributes_json, revoked_at, webhook_url, webhook_secret, webhook_auth_token"
)
ADD_AGENT = f"INSERT INTO agents ({_AGENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
GET_AGENT = f"SELECT {_AGENT_COLUMNS} FROM agents WHERE agent_principal_id = ?"
FIND_ACTIVE_AGENT = f"SELECT {_AGENT_COLUMNS} FROM agents WHERE agent_id = ? AND status = 'ACTIVE'"
LIST_AGENTS = f"SELECT {_AGENT_COLUMNS} FROM agents ORDER BY created_at, agent_principal_id"
LIST_AGENTS_OF_OWNER = (
    f"SELECT {_AGENT_COLUMNS} FROM agents WHERE owner_id = ? "
    "ORDER BY created_at, agent_principal_id"
)
REVOKE_AGENT = (
    "UPDATE agents SET status = 'REVOKED', revoked_at = ? "
    "WHERE agent_principal_id = ? AND status <> 'REVOKED'"
)
FIND_LIVE_AGENT = f"SELECT {_AGENT_COLUMNS} FROM agents WHERE agent_id = ? AND status <> 'REVOKED'"
FIND_AGENTS_BY_ID = (
    f"SELECT {_AGENT_COLUMNS} FROM agents WHERE agent_id = ? "
    "ORDER BY created_at, agent_principal_id"
)
ACTIVATE_AGENT = (
    "UPDATE agents SET status = 'ACTIVE' WHERE agent_principal_id = ? AND status = 'PENDING'"
)
WEBHOOK_URL_TAKEN = (
    "SELECT 1 FROM agents WHERE webhook_url = ? AND webhook_url <> '' AND owner_id = ? "
    "AND status = 'ACTIVE' LIMIT 1"
)

# -- policies and bindings --------------------------------------------------------------------

_POLICY_COLUMNS = (
    "policy_id, owner_type, owner_id, applies_to_agent_principal_id, name, description, "
    "policy_yaml, created_at, updated_at"
)
PUT_POLICY = (
    f"INSERT INTO policies ({_POLICY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (policy_id) DO UPDATE SET "
    "owner_type = excluded.owner_type, owner_id = excluded.owner_id, "
    "applies_to_agent_principal_id = excluded.applies_to_agent_principal_id, "
    "name = excluded.name, description = excluded.description, "
    "policy_yaml = excluded.policy_yaml, created_at = excluded.created_at, "
    "updated_at = excluded.updated_at"
)
GET_POLICY = f"SELECT {_POLICY_COLUMNS} FROM policies WHERE policy_id = ?"
LIST_POLICIES = f"SELECT {_POLICY_COLUMNS} FROM policies ORDER BY created_at, policy_id"
LIST_POLICIES_OF_OWNER = (
    f"SELECT {_POLICY_COLUMNS} FROM policies WHERE owner_id = ? ORDER BY created_at, policy_id"
)
# Bindings go with their policy: explicitly here, and by ON DELETE CASCADE as a backstop.
DELETE_POLICY_BINDINGS = "DELETE FROM bindings WHERE policy_id = ?"
DELETE_POLICY = "DELETE FROM policies WHERE policy_id = ?"
HAS_POLICY = "SELECT 1 FROM policies WHERE policy_id = ?"

_BINDING_COLUMNS = (
    "binding_id, owner_type, owner_id, policy_id, applies_to_agent_principal_id, "
    "applies_to_group_id, rank, mode"
)
ADD_BINDING = f"INSERT INTO bindings ({_BINDING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
LIST_BINDINGS = (
    f"SELECT {_BINDING_COLUMNS} FROM bindings WHERE owner_type = ? AND owner_id = ? ORDER BY seq"
)
DELETE_BINDINGS_OF_OWNER = "DELETE FROM bindings WHERE policy_id = ? AND owner_id = ?"

# -- server keys ------------------------------------------------------------------------------

_KEY_COLUMNS = "kid, public_key_b64, private_key_b64, created_at, revoked_at, active"
HAS_ACTIVE_KEY = "SELECT 1 FROM server_keys WHERE active LIMIT 1"
DEACTIVATE_KEYS = "UPDATE server_keys SET active = FALSE WHERE active"
ADD_KEY = f"INSERT INTO server_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
LIST_KEYS = f"SELECT {_KEY_COLUMNS} FROM server_keys ORDER BY seq"
REVOKE_KEY = "UPDATE server_keys SET revoked_at = ? WHERE kid = ? AND revoked_at IS NULL"

# -- nonces -----------------------------------------------------------------------------------

# INVARIANT: one statement decides. The row is inserted, or taken over when it has expired;
# a live row is left alone and the statement changes nothing. Under any number of concurrent
# callers exactly one sees one changed row. Parameters: agent_id, nonce, expires_ms, now_ms.
USE_NONCE = (
    "INSERT INTO nonces (agent_id, nonce, expires_ms) VALUES (?, ?, ?) "
    "ON CONFLICT (agent_id, nonce) DO UPDATE SET expires_ms = excluded.expires_ms "
    "WHERE nonces.expires_ms <= ?"
)
PURGE_NONCES = "DELETE FROM nonces WHERE expires_ms <= ?"
# Each use also removes a few of the oldest expired rows, so the table stays near its live size
# without a bulk purge. A bulk purge holds the write lock for every row it deletes (each one on
# a random page of the key index), which is a latency spike for every process. Taking at most
# two per use keeps ahead of the one row each use adds. Parameters: now_ms, limit.
PURGE_SOME_NONCES = (
    "DELETE FROM nonces WHERE (agent_id, nonce) IN "
    "(SELECT agent_id, nonce FROM nonces WHERE expires_ms <= ? ORDER BY expires_ms LIMIT ?)"
)
#: Every PURGE_EVERY nonce uses, up to PURGE_PER_TURN expired nonces are deleted.
PURGE_EVERY = 8
PURGE_PER_TURN = 16

# -- challenges -------------------------------------------------------------------------------

_CHALLENGE_COLUMNS = (
    "challenge_id, agent_id, agent_pubkey_b64, owner_type, owner_id, challenge_b64, "
    "expires_at, created_at, agent_attributes_json"
)
ADD_CHALLENGE = f"INSERT INTO challenges ({_CHALLENGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
# INVARIANT: one statement takes the row: of concurrent callers, the ones that wait for the
# first find it gone, so exactly one gets it.
TAKE_CHALLENGE = f"DELETE FROM challenges WHERE challenge_id = ? RETURNING {_CHALLENGE_COLUMNS}"
# Bounded: each issued challenge deletes at most a few expired ones (oldest first), so the table
# stays near the number of live challenges without a bulk delete under the write lock.
PURGE_SOME_CHALLENGES = (
    "DELETE FROM challenges WHERE challenge_id IN "
    "(SELECT challenge_id FROM challenges WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)"
)

# -- invites ----------------------------------------------------------------------------------

_INVITE_COLUMNS = (
    "invite_id, kind, owner_type, owner_id, token_hash, token_salt, expires_at, created_at, used_at"
)
ADD_INVITE = f"INSERT INTO invites ({_INVITE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
GET_INVITE = f"SELECT {_INVITE_COLUMNS} FROM invites WHERE invite_id = ?"
USE_INVITE = "UPDATE invites SET used_at = ? WHERE invite_id = ? AND used_at IS NULL"

# -- audit log --------------------------------------------------------------------------------

_STORED_EVENT_COLUMNS = (
    "event_id, timestamp, event_type, principal_id, action_id, decision_id, owner_id, "
    "agent_principal_id, action_type, result, metadata_json"
)
#: An event without its chain (bulk loading only, as benchmarks do): such a row has empty
#: hashes and ``openleash audit verify`` reports it. The store appends with APPEND_CHAINED.
APPEND_EVENT = (
    f"INSERT INTO audit_events ({_STORED_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: Parameters: seq, the event's columns, prev_hash, hash (see rows.chained_event_params).
APPEND_CHAINED = (
    f"INSERT INTO audit_events (seq, {_STORED_EVENT_COLUMNS}, prev_hash, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# INVARIANT: read inside the write transaction that appends (under the write lock), so the head
# cannot move before the transaction ends; the last checkpoint comes along for the time rule.
CHAIN_HEAD = (
    "SELECT (SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1),"
    " (SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1),"
    " (SELECT created_at FROM audit_checkpoints ORDER BY seq DESC LIMIT 1)"
)
LAST_SEQ = "SELECT coalesce(max(seq), 0) FROM audit_events"
ACTIVE_SIGNING_KEY = (
    "SELECT kid, private_key_b64 FROM server_keys WHERE active AND revoked_at IS NULL LIMIT 1"
)
# A checkpoint already at this seq (a deleted tail being written again) stays, as evidence:
# verification then reports that it no longer matches the chain.
ADD_CHECKPOINT = (
    "INSERT INTO audit_checkpoints (seq, head_hash, kid, signature, created_at)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING"
)
LIST_CHECKPOINTS = (
    "SELECT seq, head_hash, kid, signature, created_at FROM audit_checkpoints ORDER BY seq"
)

# INVARIANT: seq has no gaps (AUTOINCREMENT inside transactions: a rolled-back insert gives its
# number back) and nothing deletes events except, at most, the oldest ones. The count of all
# events is then max - min + 1: two index probes instead of a scan of the whole log.
COUNT_ALL_EVENTS = (
    "SELECT coalesce((SELECT max(seq) FROM audit_events) - (SELECT min(seq) FROM audit_events)"
    " + 1, 0)"
)

_AUDIT_CONDITIONS = {
    "owner_id": "owner_id = ?",
    "agent_principal_id": "agent_principal_id = ?",
    "event_type": "event_type = ?",
    "principal_id": "principal_id = ?",
    "action_type": "action_type = ?",
    "result": "result = ?",
    "since": "timestamp >= ?",
    "until": "timestamp < ?",
}
#: filter name -> condition, for each filter the ports accept (``records.AUDIT_FILTERS``; one
#: missing here fails at import). Other names are refused, so no caller text reaches SQL.
AUDIT_FILTERS: dict[str, str] = {name: _AUDIT_CONDITIONS[name] for name in AUDIT_FILTER_NAMES}

_EVENT_COLUMNS = (
    "seq, event_id, timestamp, event_type, principal_id, action_id, decision_id, metadata_json"
)


@lru_cache(maxsize=256)
def audit_page(filters: tuple[str, ...], cursor: bool) -> str:
    """Newest first. Parameters: one per filter, then ``before_seq`` if ``cursor``, then limit."""
    conditions = [AUDIT_FILTERS[name] for name in filters]
    if cursor:
        conditions.append("seq < ?")
    return (
        f"SELECT {_EVENT_COLUMNS} FROM audit_events{_where(conditions)} ORDER BY seq DESC LIMIT ?"
    )


@lru_cache(maxsize=256)
def audit_count(filters: tuple[str, ...]) -> str:
    conditions = [AUDIT_FILTERS[name] for name in filters]
    return f"SELECT count(*) FROM audit_events{_where(conditions)}"


#: Every column of a stored record, in the order of :class:`openleash.domain.audit.AuditRow`.
_ROW_COLUMNS = f"seq, {_STORED_EVENT_COLUMNS}, prev_hash, hash"


@lru_cache(maxsize=256)
def audit_rows(filters: tuple[str, ...]) -> str:
    """Oldest first, after a seq. Parameters: one per filter, then ``after_seq``, then limit."""
    conditions = [*(AUDIT_FILTERS[name] for name in filters), "seq > ?"]
    return f"SELECT {_ROW_COLUMNS} FROM audit_events{_where(conditions)} ORDER BY seq LIMIT ?"


def _where(conditions: list[str]) -> str:
    return " WHERE " + " AND ".join(conditions) if conditions else ""


# -- allowed actions (limits) ------------------------------------------------------------------

#: Upsert of a stream's running totals; the returned totals go into the action's row.
#: ``max`` is SQLite's two-argument maximum (PostgreSQL: ``GREATEST``). An action's time is never
#: before the previous one of its stream, so rows of a stream are in time order.
ADD_TO_STREAM = (
    "INSERT INTO usage_streams (owner_id, agent_principal_id, action_type, currency,"
    " counterparty, total_amount, total_count, last_at_ms) VALUES (?, ?, ?, ?, ?, ?, 1, ?)"
    " ON CONFLICT (owner_id, agent_principal_id, action_type, currency, counterparty)"
    " DO UPDATE SET total_amount = usage_streams.total_amount + excluded.total_amount,"
    " total_count = usage_streams.total_count + 1,"
    " last_at_ms = max(usage_streams.last_at_ms, excluded.last_at_ms)"
    " RETURNING stream_id, total_amount, total_count, last_at_ms"
)
RECORD_ALLOWED = (
    "INSERT INTO allowed_actions (stream_id, decision_id, amount_minor, at_ms, total_amount,"
    " total_count) VALUES (?, ?, ?, ?, ?, ?)"
)
ALLOWED_BEFORE = (
    "SELECT coalesce(sum(total_count), 0) FROM usage_streams"
    " WHERE owner_id = ? AND counterparty = ?"
)
#: Columns a limit may count ``by``; the only names ever put into usage SQL.
USAGE_BY_COLUMNS = USAGE_BY_FIELDS

_BEFORE = (
    "(SELECT a.{col} FROM allowed_actions a WHERE a.stream_id = s.stream_id AND a.at_ms < ?"
    " ORDER BY a.at_ms DESC, a.total_count DESC LIMIT 1)"
)


def usage_groups_sql(where: UsageFilter, group_by: tuple[str, ...]) -> tuple[str, list[Any]]:
    """Usage per distinct value of the ``group_by`` columns (a limit's ``by`` fields)."""
    check_group_by(group_by)
    sql, params = usage_sql(where)
    columns = ", ".join(f"s.{c}" for c in group_by)
    head, _, rest = sql.partition(" FROM usage_streams s")
    return f"{head.replace('SELECT ', f'SELECT {columns}, ', 1)} FROM usage_streams s{rest}" + (
        f" GROUP BY {columns} ORDER BY {columns}"
    ), params


def usage_sql(where: UsageFilter) -> tuple[str, list[Any]]:
    """The usage query for one filter: per matching stream, its totals minus those before
    ``since``. Column names come from a fixed set; values are placeholders."""
    clauses = ["s.owner_id = ?", "s.last_at_ms >= ?"]
    params: list[Any] = [where.since_ms, where.since_ms, where.owner_id, where.since_ms]
    if where.agent_principal_id is not None:
        clauses.append("s.agent_principal_id = ?")
        params.append(where.agent_principal_id)
    if where.action_exact is not None:
        clauses.append("s.action_type = ?")
        params.append(where.action_exact)
    if where.action_prefix is not None:
        clauses.append("(s.action_type = ? OR substr(s.action_type, 1, ?) = ?)")
        prefix = where.action_prefix + "."
        params += [where.action_prefix, len(prefix), prefix]
    for column, value in where.by:
        check_count_by(column)
        clauses.append(f"s.{column} = ?")
        params.append("" if value is None else value)
    amount = _BEFORE.format(col="total_amount")
    count = _BEFORE.format(col="total_count")
    sql = (
        f"SELECT coalesce(sum(s.total_amount - coalesce({amount}, 0)), 0),"
        f" coalesce(sum(s.total_count - coalesce({count}, 0)), 0)"
        " FROM usage_streams s WHERE " + " AND ".join(clauses)
    )
    return sql, params


# -- approval requests -------------------------------------------------------------------------

_APPROVAL_COLUMNS = (
    "approval_request_id, owner_type, owner_id, agent_principal_id, agent_id, decision_id, "
    "action_json, action_hash, action_type, justification, status, created_at, expires_at, "
    "resolved_at, resolved_by, denial_reason, consumed_at, kind, min_assurance_level, "
    "matched_rule_id, reason, explanation, context_json, assurance_level, "
    "approval_token_expires_at"
)
ADD_APPROVAL = (
    f"INSERT INTO approval_requests ({_APPROVAL_COLUMNS}) VALUES (" + ", ".join("?" * 25) + ")"
)
GET_APPROVAL = f"SELECT {_APPROVAL_COLUMNS} FROM approval_requests WHERE approval_request_id = ?"
RESOLVE_APPROVAL = (
    "UPDATE approval_requests SET status = ?, resolved_at = ?, resolved_by = ?, denial_reason = ?,"
    " assurance_level = ?, approval_token_expires_at = ?"
    " WHERE approval_request_id = ? AND status = 'PENDING' AND expires_at > ?"
)
CONSUME_APPROVAL = (
    "UPDATE approval_requests SET consumed_at = ?"
    " WHERE approval_request_id = ? AND status = 'APPROVED' AND consumed_at IS NULL"
)
#: Filters of list_approval_requests: the only column names put into that SQL.
APPROVAL_FILTERS = ("owner_id", "agent_principal_id", "status", "decision_id")


def list_approvals_sql(names: tuple[str, ...]) -> str:
    where = " AND ".join(f"{n} = ?" for n in names if n in APPROVAL_FILTERS)
    clause = f" WHERE {where}" if where else ""
    return (
        f"SELECT {_APPROVAL_COLUMNS} FROM approval_requests{clause}"
        " ORDER BY created_at DESC, approval_request_id DESC LIMIT ?"
    )


# -- human in the loop (migration 0006) --------------------------------------------------------

_CREDENTIAL_COLUMNS = (
    "user_principal_id, updated_at, passphrase_hash, totp_secret, totp_enabled, totp_pending, "
    "totp_last_counter, failed_logins, locked_until_ms, factor_failures, factor_locked_until_ms"
)
GET_CREDENTIALS = f"SELECT {_CREDENTIAL_COLUMNS} FROM owner_credentials WHERE user_principal_id = ?"
PUT_CREDENTIALS = (
    f"INSERT INTO owner_credentials ({_CREDENTIAL_COLUMNS})"
    f" VALUES ({', '.join('?' * len(_CREDENTIAL_COLUMNS.split(', ')))})"
    " ON CONFLICT (user_principal_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _CREDENTIAL_COLUMNS.split(", ")[1:])
)
ADVANCE_TOTP = (
    "UPDATE owner_credentials SET totp_last_counter = ? WHERE user_principal_id = ?"
    " AND (totp_last_counter IS NULL OR totp_last_counter < ?)"
)
DELETE_BACKUP_CODES = "DELETE FROM owner_backup_codes WHERE user_principal_id = ?"
ADD_BACKUP_CODE = "INSERT INTO owner_backup_codes (user_principal_id, code_hash) VALUES (?, ?)"
USE_BACKUP_CODE = (
    "UPDATE owner_backup_codes SET used_at = ?"
    " WHERE user_principal_id = ? AND code_hash = ? AND used_at IS NULL"
)
COUNT_BACKUP_CODES = (
    "SELECT count(*) FROM owner_backup_codes WHERE user_principal_id = ? AND used_at IS NULL"
)

_SESSION_COLUMNS = "session_id, user_principal_id, csrf_token, created_at, expires_at, revoked_at"
ADD_SESSION = f"INSERT INTO owner_sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
GET_SESSION = f"SELECT {_SESSION_COLUMNS} FROM owner_sessions WHERE session_id = ?"
REVOKE_SESSION = (
    "UPDATE owner_sessions SET revoked_at = ? WHERE session_id = ? AND revoked_at IS NULL"
)
REVOKE_SESSIONS = (
    "UPDATE owner_sessions SET revoked_at = ? WHERE user_principal_id = ? AND revoked_at IS NULL"
)

SET_BINDING_RANK = "UPDATE bindings SET rank = ? WHERE binding_id = ?"

_HELD_COLUMNS = (
    "decision_id, owner_id, agent_principal_id, action_hash, result, matched_rule_id, "
    "min_assurance_level, reason, explanation, created_at"
)
HOLD_DECISION = (
    f"INSERT INTO held_decisions ({_HELD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
GET_HELD_DECISION = f"SELECT {_HELD_COLUMNS} FROM held_decisions WHERE decision_id = ?"

_DRAFT_COLUMNS = (
    "policy_draft_id, owner_type, owner_id, agent_principal_id, agent_id, "
    "applies_to_agent_principal_id, name, description, policy_yaml, justification, status, "
    "created_at, resulting_policy_id, resolved_at, resolved_by, denial_reason"
)
ADD_DRAFT = (
    f"INSERT INTO policy_drafts ({_DRAFT_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
GET_DRAFT = f"SELECT {_DRAFT_COLUMNS} FROM policy_drafts WHERE policy_draft_id = ?"
RESOLVE_DRAFT = (
    "UPDATE policy_drafts SET status = ?, resolved_at = ?, resolved_by = ?, denial_reason = ?,"
    " resulting_policy_id = ? WHERE policy_draft_id = ? AND status = 'PENDING'"
)
#: Filters of list_drafts: the only column names put into that SQL.
DRAFT_FILTERS = ("owner_id", "agent_principal_id", "status")


def list_drafts_sql(names: tuple[str, ...]) -> str:
    where = " AND ".join(f"{n} = ?" for n in names if n in DRAFT_FILTERS)
    clause = f" WHERE {where}" if where else ""
    return (
        f"SELECT {_DRAFT_COLUMNS} FROM policy_drafts{clause}"
        " ORDER BY created_at DESC, policy_draft_id DESC LIMIT ?"
    )


_WEBHOOK_COLUMNS = (
    "delivery_id, agent_principal_id, event_type, data_json, created_at, next_attempt_ms, "
    "status, attempts, last_error, last_status_code"
)
ENQUEUE_WEBHOOK = (
    f"INSERT INTO webhook_outbox ({_WEBHOOK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
DUE_WEBHOOKS = (
    f"SELECT {_WEBHOOK_COLUMNS} FROM webhook_outbox"
    " WHERE status = 'PENDING' AND next_attempt_ms <= ? ORDER BY next_attempt_ms LIMIT ?"
)
CLAIM_WEBHOOK = (
    "UPDATE webhook_outbox SET next_attempt_ms = ?"
    " WHERE delivery_id = ? AND status = 'PENDING' AND next_attempt_ms <= ?"
)
FINISH_WEBHOOK = (
    "UPDATE webhook_outbox SET status = ?, attempts = ?, next_attempt_ms = ?, last_error = ?,"
    " last_status_code = ? WHERE delivery_id = ? AND status = 'PENDING' AND next_attempt_ms = ?"
)
GET_WEBHOOK = f"SELECT {_WEBHOOK_COLUMNS} FROM webhook_outbox WHERE delivery_id = ?"
